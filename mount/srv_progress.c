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
 * The watcher sends with no lock of the store or the snapshot module
 * held (it copies the counts under the progress's own mutex, releases it,
 * then sends): a client that stops reading blocks that thread only, never
 * the work, which goes on and releases its locks as usual. The handler's
 * own frames (snapshot create's id) and the watcher's go out one at a
 * time under the request's send_lock (srv_send), and the dispatcher stops
 * the watcher before it sends the closing CTL_END: the frames of one
 * connection never interleave. At most 5 frames a second, and each
 * phase's start and end.
 */
#include "snapfs.h"

#include "fsutil.h"
#include "progress.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A request whose progress is watched has two senders on its connection:
 * the watcher, and the handler sending its data frames (snapshot create's
 * id). Their frames must not interleave, so both send under the request's
 * own send_lock: a mutex of this one connection, held only across a send,
 * which only the two threads of this request ever take (never a lock of
 * the store nor of the snapshot module). */
struct srv_progress {
	struct progress *p;
	int fd;
	pthread_mutex_t send_lock;
};

static _Thread_local struct srv_progress *active; /* the handler thread's */

static int send_locked(struct srv_progress *sp, const struct ctl_msg *m)
{
	int rc;

	pthread_mutex_lock(&sp->send_lock);
	rc = ctl_send(sp->fd, m);
	pthread_mutex_unlock(&sp->send_lock);
	return rc;
}

int srv_send(int fd, const struct ctl_msg *m)
{
	return active && active->fd == fd ? send_locked(active, m) : ctl_send(fd, m);
}

static void progress_msg(struct ctl_msg *m, const struct progress_report *r, char d[24], char t[24])
{
	snprintf(d, 24, "%" PRIu64, r->done);
	snprintf(t, 24, "%" PRIu64, r->total);
	ctl_msg_init(m, CTL_PROGRESS);
	ctl_adds(m, "done", d);
	ctl_adds(m, "total", t);
	ctl_adds(m, "phase", r->phase);
	ctl_adds(m, "unit", r->unit);
	if (r->end)
		ctl_adds(m, "end", "1");
}

int srv_send_progress(int fd, const struct progress_report *r)
{
	struct ctl_msg m;
	char d[24], t[24];

	progress_msg(&m, r, d, t);
	return srv_send(fd, &m);
}

/* On the watcher's thread. */
static void send_report(void *arg, const struct progress_report *r)
{
	struct ctl_msg m;
	char d[24], t[24];

	progress_msg(&m, r, d, t);
	/* a client gone: the work goes on, its reply will fail the same way */
	send_locked(arg, &m);
}

struct srv_progress *srv_progress_start(int fd)
{
	struct srv_progress *sp = xcalloc(1, sizeof(*sp));

	sp->fd = fd;
	pthread_mutex_init(&sp->send_lock, NULL);
	if (progress_start(&sp->p, SRV_PROGRESS_EVERY_US, send_report, sp)) {
		dlog("progress: cannot start a thread: the client sees no progress");
		pthread_mutex_destroy(&sp->send_lock);
		free(sp);
		return NULL;
	}
	active = sp;
	return sp;
}

void srv_progress_stop(struct srv_progress *sp)
{
	if (!sp)
		return;
	progress_stop(sp->p); /* its last frame is out */
	active = NULL;
	pthread_mutex_destroy(&sp->send_lock);
	free(sp);
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
