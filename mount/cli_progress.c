/*
 * cli_progress: progress for people, on stderr (never stdout, which may
 * hold the verb's --json document or its rows).
 *
 * Where it goes, decided once per verb (cli_progress_init):
 *   a terminal (stderr is a tty)   one line per phase, redrawn in place
 *                                  ("\r...\033[K") at most 10 times a
 *                                  second, left on screen at its end
 *   --progress off a terminal      plain lines, no control characters, at
 *                                  most 2 a second per verb, plus each
 *                                  phase's last (so the counts are seen to
 *                                  reach their totals)
 *   the daemon's log (serve)       the same plain lines, through dlog
 *   --quiet, or no terminal        nothing
 *
 * A line: "<verb>: <phase> <done>/<total> <unit> (<pct>%), <rate>/s, ETA
 * <time>" (progress_format; bytes as KiB, MiB... on a terminal, exact
 * counts in plain lines). Reports come from the daemon's CTL_PROGRESS
 * frames (cli_progress_frame) or from a watcher in this process (verify,
 * the marker restore of serve), one caller at a time.
 */
#include "snapfs.h"

#include "progress.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TTY_EVERY_US 100000   /* a terminal's line: 10 redraws a second */
#define LINES_EVERY_US 500000 /* plain lines: 2 a second */

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void cli_progress_init_flags(struct cli_progress *cp, int progress, int quiet, const char *what)
{
	memset(cp, 0, sizeof(*cp));
	cp->what = what;
	if (quiet)
		cp->mode = CLI_PROGRESS_OFF;
	else if (isatty(STDERR_FILENO))
		cp->mode = CLI_PROGRESS_TTY;
	else if (progress)
		cp->mode = CLI_PROGRESS_LINES;
	else
		cp->mode = CLI_PROGRESS_OFF;
}

void cli_progress_init(struct cli_progress *cp, const struct cli_opts *o, const char *what)
{
	cli_progress_init_flags(cp, o->progress, o->quiet, what);
}

void cli_progress_report(struct cli_progress *cp, const struct progress_report *r)
{
	int64_t now = now_us();
	char text[256];
	int last = r->end || (r->total && r->done >= r->total);

	if (cp->mode == CLI_PROGRESS_OFF)
		return;
	if (strcmp(cp->phase, r->phase) || !cp->open_phase) {
		snprintf(cp->phase, sizeof(cp->phase), "%s", r->phase);
		cp->phase_start_us = now;
		cp->base = r->done; /* the rate counts from what this report says is done */
		cp->open_phase = 1;
		cp->printed = 0;
	}
	if (!last && cp->last_us &&
	    now - cp->last_us < (cp->mode == CLI_PROGRESS_TTY ? TTY_EVERY_US : LINES_EVERY_US))
		return;
	/* the same count again (the last report and the phase's end): once,
	 * but a terminal's line is ended */
	if (cp->printed && cp->done == r->done && cp->mode != CLI_PROGRESS_TTY)
		goto out;
	cp->last_us = now;
	cp->done = r->done;
	cp->printed = 1;
	progress_format(r,
			now > cp->phase_start_us && r->done > cp->base
			    ? (double)(r->done - cp->base) * 1e6 /
				  (double)(now - cp->phase_start_us)
			    : 0,
			cp->mode == CLI_PROGRESS_TTY, text, sizeof(text));
	switch (cp->mode) {
	case CLI_PROGRESS_TTY:
		fprintf(stderr, "\r%s: %s\033[K%s", cp->what, text, r->end ? "\n" : "");
		cp->line_open = !r->end;
		fflush(stderr);
		break;
	case CLI_PROGRESS_LINES:
		fprintf(stderr, "snapfs: %s: %s\n", cp->what, text);
		fflush(stderr);
		break;
	case CLI_PROGRESS_LOG:
		dlog("%s: %s", cp->what, text);
		break;
	case CLI_PROGRESS_OFF:
		break;
	}
out:
	if (r->end)
		cp->open_phase = 0;
}

void cli_progress_done(struct cli_progress *cp)
{
	if (cp->mode == CLI_PROGRESS_TTY && cp->line_open) {
		fputc('\n', stderr);
		fflush(stderr);
	}
	cp->line_open = 0;
}

/* Keeps what a frame's text field may show: printable ASCII, bounded. */
static void frame_word(const struct ctl_msg *m, const char *name, const char *def, char *buf,
		       size_t len)
{
	uint32_t n = 0;
	const char *v = ctl_get(m, name, &n);
	size_t k = 0;

	if (!v || !n) {
		snprintf(buf, len, "%s", def);
		return;
	}
	for (uint32_t i = 0; i < n && k + 1 < len; i++)
		buf[k++] = v[i] > 0x20 && v[i] < 0x7f ? v[i] : '_';
	buf[k] = '\0';
}

int cli_progress_frame(const struct ctl_msg *m, struct progress_report *r, char phase[32],
		       char unit[16])
{
	uint64_t end = 0;

	memset(r, 0, sizeof(*r));
	if (ctl_getu64(m, "done", &r->done) || ctl_getu64(m, "total", &r->total))
		return -EBADMSG;
	/* a daemon before phases sent only load's rows */
	frame_word(m, "phase", "write", phase, 32);
	frame_word(m, "unit", "rows", unit, 16);
	if (ctl_getu64(m, "end", &end) == -EINVAL)
		return -EBADMSG;
	r->phase = phase;
	r->unit = unit;
	r->end = end != 0;
	return 0;
}

int cli_progress_on_frame(void *arg, const struct progress_report *r)
{
	cli_progress_report(arg, r);
	return 0;
}
