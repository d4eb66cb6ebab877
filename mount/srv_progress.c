/*
 * srv_progress: the daemon's end of progress. The dispatcher brackets the
 * handler of a verb whose work is long (snapshot create, an online
 * restore, restore --to: srv_progress_wanted) with srv_progress_start and
 * srv_progress_stop; the work reports into progress_current() (see
 * progress.h) and a watcher thread turns the reports into CTL_PROGRESS
 * frames on the request's connection:
 *
 *   CTL_PROGRESS  done, total   (decimal; what load always sent)
 *                 phase         "write" (load), "checkpoint", "copy", "scan",
 *                               "filter", "hash", "read"
 *                 unit          "rows", "tablets", "bytes"
 *                 end           "1" on a phase's last frame
 *
 * A client that knows only done and total (the first release) shows them
 * as it did for load; one that knows no progress ignores the frame.
 *
 * The watcher sends with no lock held (it copies the counts under the
 * progress's own mutex, releases it, then sends): a client that stops
 * reading blocks that thread only, never the work, which goes on and
 * releases the store's and the snapshot module's locks as usual. The
 * dispatcher stops the watcher after the handler returned, holding
 * nothing, and only then sends the reply's end: the frames of one connection never
 * interleave. At most 5 frames a second, and each phase's start and end.
 */
#include "snapfs.h"

#include "fsutil.h"
#include "progress.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SRV_PROGRESS_EVERY_US 200000

/* The verbs whose work reports progress through progress_current(); load
 * sends its own frames from its loop (cmd_rows.c). */
static const char *const wanted[] = {"snapshot.create", "snapshot.restore", "restore.to", NULL};

int srv_progress_wanted(const char *verb)
{
	for (const char *const *w = wanted; *w; w++)
		if (!strcmp(*w, verb))
			return 1;
	return 0;
}

int srv_send_progress(int fd, const struct progress_report *r)
{
	struct ctl_msg m;
	char d[24], t[24];

	snprintf(d, sizeof(d), "%" PRIu64, r->done);
	snprintf(t, sizeof(t), "%" PRIu64, r->total);
	ctl_msg_init(&m, CTL_PROGRESS);
	ctl_adds(&m, "done", d);
	ctl_adds(&m, "total", t);
	ctl_adds(&m, "phase", r->phase);
	ctl_adds(&m, "unit", r->unit);
	if (r->end)
		ctl_adds(&m, "end", "1");
	return ctl_send(fd, &m);
}

static void send_report(void *arg, const struct progress_report *r)
{
	/* a client gone: the work goes on, its reply will fail the same way */
	srv_send_progress((int)(intptr_t)arg, r);
}

struct progress *srv_progress_start(int fd)
{
	struct progress *p = NULL;

	if (progress_start(&p, SRV_PROGRESS_EVERY_US, send_report, (void *)(intptr_t)fd))
		dlog("progress: cannot start a thread: the client sees no progress");
	return p;
}

void srv_progress_stop(struct progress *p)
{
	progress_stop(p);
}

/* ---- the marker restore of serve ---- */

struct serve_progress {
	struct progress *p;
	struct cli_progress cp; /* the log, or the terminal of serve --foreground */
	int fd;			/* detached: the pipe to the waiting `snapfs serve`, else -1 */
};

static void serve_report(void *arg, const struct progress_report *r)
{
	struct serve_progress *sp = arg;
	char line[160];
	int n;

	cli_progress_report(&sp->cp, r);
	if (sp->fd < 0)
		return;
	n = snprintf(line, sizeof(line), "progress %s %s %" PRIu64 " %" PRIu64 " %d\n", r->phase,
		     r->unit, r->done, r->total, r->end);
	if (n > 0 && n < (int)sizeof(line) && write(sp->fd, line, (size_t)n) < 0) {
		/* the waiting parent is gone: the log still has it */
	}
}

struct serve_progress *serve_progress_start(struct daemon *d)
{
	struct serve_progress *sp = xcalloc(1, sizeof(*sp));

	/* the log gets plain lines; a terminal (--foreground) its line */
	cli_progress_init_flags(&sp->cp, 0, d->progress < 0, "restore");
	if (sp->cp.mode == CLI_PROGRESS_OFF && d->progress >= 0)
		sp->cp.mode = CLI_PROGRESS_LOG;
	sp->fd = d->ready_fd;
	if (progress_start(&sp->p, SRV_PROGRESS_EVERY_US, serve_report, sp)) {
		dlog("progress: cannot start a thread: the restore shows no progress");
		free(sp);
		return NULL;
	}
	return sp;
}

void serve_progress_stop(struct serve_progress *sp)
{
	if (!sp)
		return;
	progress_stop(sp->p);
	cli_progress_done(&sp->cp);
	free(sp);
}

int serve_progress_parse(const char *line, struct progress_report *r, char phase[32], char unit[16])
{
	int end = 0;

	memset(r, 0, sizeof(*r));
	if (sscanf(line, "progress %31s %15s %" SCNu64 " %" SCNu64 " %d", phase, unit, &r->done,
		   &r->total, &end) != 5)
		return -EBADMSG;
	r->phase = phase;
	r->unit = unit;
	r->end = end != 0;
	return 0;
}
