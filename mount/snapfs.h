/*
 * snapfs.h: what the files of mount/ share. The layers show in the names:
 *   cli_*.c    the command line: the verb table (cli_verbs.c), its parser,
 *              help, man page and completion (cli.h), the client plumbing
 *   cmd_*.c    one verb group each, both ends of its verbs: the client
 *              (cmd_*: gets the parsed command line, sends one request,
 *              prints the reply) and the daemon's handler (srv_*: runs
 *              inside serve)
 *   daemon.c, ctl_proto.c, view_glue.c   the daemon, its protocol, the view
 */
#ifndef SNAPFS_MOUNT_H
#define SNAPFS_MOUNT_H

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>

#include "cli.h"
#include "ctl_proto.h"
#include "errbuf.h"
#include "log.h"
#include "store.h"

struct view;

/* The running daemon (serve). */
struct daemon {
	char *data;
	char *mountpoint; /* NULL without --mount */
	int allow_other;
	int detached;		 /* stdout and stderr are DATA/snapfs.log (reopened on SIGHUP) */
	int progress;		 /* of a marker restore: 1 --progress, -1 --quiet, 0 neither */
	int ready_fd;		 /* detached: the pipe to the waiting parent until ready, else -1 */
	struct store *store;	 /* NULL until opened */
	struct snapshots *snaps; /* the snapshot module, NULL until opened */
	struct schedules *sched; /* schedules and restore points */
	struct view *view;	 /* NULL without --mount */
	int wake[2];		 /* a byte here asks the accept loop to stop */
	int64_t started_us;
	struct clients *clients; /* the control connections (clients.c) */
};

/* Tells systemd about the daemon (sd_notify: "READY=1", "STOPPING=1")
 * when it runs under a unit of Type=notify; a no-op otherwise (notify.c). */
void daemon_sd_notify(const char *state);

/* Asks the daemon to shut down (thread-safe, async-signal-safe). */
void daemon_request_stop(struct daemon *d);

/* Runs `serve`: returns the process exit code. progress: 1 --progress,
 * -1 --quiet, 0 neither. */
int daemon_serve(const char *data, const char *mountpoint, int foreground, int allow_other,
		 int progress);

/* Runs one request and sends its closing CTL_END frame: 0, or the send's
 * error (the connection is then done). */
int daemon_dispatch(struct daemon *d, const struct ctl_msg *req, int fd);

/* The control connections (clients.c): one poller thread reads requests,
 * workers run them. Limits, documented in README: */
#define CLIENTS_MAX 256	      /* connections open at once; the idlest gives way */
#define CLIENTS_WORKERS 128   /* requests running at once ... */
#define CLIENTS_RESERVED 4    /* ... and these more for status and stop */
#define CLIENTS_FRAME_MS 5000 /* a frame, from its first byte to its last */
#define CLIENTS_IDLE_MS 60000 /* a connection between requests */
struct clients;
int clients_start(struct daemon *d, struct clients **out, struct errbuf *e);
/* Takes an accepted connection (closes it with an error reply if full). */
void clients_add(struct clients *c, int fd);
/* Closes every connection, waits for the requests running, frees c. */
void clients_stop(struct clients *c);

/* Handler of one verb inside the daemon: returns 0 or a negative errno
 * with a message in e; the dispatcher sends the closing CTL_END frame. */
typedef int (*srv_fn)(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);

struct srv_verb {
	const char *verb;
	srv_fn fn;
};
extern const struct srv_verb srv_verbs[];

/* Reply helpers for handlers. */
int srv_send_json(int fd, json_object *o);
int srv_send_text(int fd, const char *text);
int srv_send_row(int fd, const char *key, size_t klen, const char *val, size_t vlen);
/* A required string argument (malloc'ed) or -EINVAL naming it. */
int srv_arg(const struct ctl_msg *req, const char *name, char **out, struct errbuf *e);
/* An optional time argument "at" (hybrid time) or "snapshot" id. */
int srv_arg_u64(const struct ctl_msg *req, const char *name, uint64_t *v, struct errbuf *e);
/* A numeric argument within [min, max] (srv_args.c): 0, -ENOENT when absent
 * (*v untouched), or -EINVAL with a message naming it. */
int srv_arg_num(const struct ctl_msg *req, const char *name, uint64_t min, uint64_t max,
		uint64_t *v, struct errbuf *e);

/* ---- client side (cli.c; the verb table and its parser: cli.h) ---- */

/* Bounds the command line and the daemon both apply (cli_verbs.c). */
#define SNAPFS_LOAD_ROWS_MAX 1000000000ull /* load --rows */

/* The version: "0.1.0", the git description of the build ("fcdb372-dirty",
 * NULL when not built from a git checkout), and both in one line. */
const char *snapfs_version(void);
const char *snapfs_git(void);
const char *snapfs_version_string(void);

/* Prints "snapfs: error: <msg>" to stderr and returns the exit code for rc. */
int cli_error(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Progress shown to people (cli_progress.c): where it goes is decided
 * once per verb from --quiet, --progress and whether stderr is a tty. */
struct progress_report;
enum cli_progress_mode {
	CLI_PROGRESS_OFF,
	CLI_PROGRESS_TTY,   /* one line per phase, redrawn in place */
	CLI_PROGRESS_LINES, /* plain lines, a few a second at most */
	CLI_PROGRESS_LOG,   /* plain lines through dlog (serve) */
};
struct cli_progress {
	enum cli_progress_mode mode;
	const char *what;    /* the verb, first word of each line */
	char phase[32];	     /* the phase shown */
	int open_phase;	     /* phase started, not ended */
	int printed;	     /* a line of this phase was shown, with count done */
	uint64_t done, base; /* shown last; at the phase's first report */
	int64_t phase_start_us, last_us;
	int line_open; /* a terminal's line is drawn and not ended */
};
void cli_progress_init(struct cli_progress *cp, const struct cli_opts *o, const char *what);
void cli_progress_init_flags(struct cli_progress *cp, int progress, int quiet, const char *what);
void cli_progress_report(struct cli_progress *cp, const struct progress_report *r);
/* Ends a terminal's line left open. */
void cli_progress_done(struct cli_progress *cp);
/* A CTL_PROGRESS frame as a report (phase and unit copied into the
 * buffers given; a frame without them is load's rows): 0 or -EBADMSG. */
int cli_progress_frame(const struct ctl_msg *m, struct progress_report *r, char phase[32],
		       char unit[16]);
/* An on_progress callback showing every report on the cli_progress arg. */
int cli_progress_on_frame(void *arg, const struct progress_report *r);

/* What to do with data frames of a reply. A callback returns 0 to go on,
 * -ECANCELED to stop quietly with exit 0 (stdout closed), an exit code > 0
 * to stop with it (having printed why), any other negative errno for a
 * malformed reply. */
struct cli_reply {
	int (*on_row)(void *arg, const char *k, uint32_t kl, const char *v, uint32_t vl);
	int (*on_json)(void *arg, json_object *o);
	int (*on_progress)(void *arg, const struct progress_report *r);
	void *arg;
	void *progress_arg; /* on_progress's */
};

/* Sends req to DATA's daemon, feeds data frames to r (text frames go to
 * stdout), prints the error of the END frame. Returns the exit code
 * (4 with a hint when no daemon listens). */
int cli_call(const char *data, struct ctl_msg *req, const struct cli_reply *r);
/* cli_call(o->data, ...) showing the daemon's progress frames as o asks
 * (--progress, --quiet, whether stderr is a terminal). */
int cli_call_progress(const struct cli_opts *o, struct ctl_msg *req, struct cli_reply *r);

/* Prints doc as the one JSON document of a --json verb (no escaped
 * slashes, a newline after it). Returns 0, or -EIO if stdout failed. */
int cli_print_json(json_object *doc);

/* Writes bytes escaped: printable ASCII as is except '\\', others \xNN. */
void cli_put_escaped(FILE *f, const char *s, size_t len);
void cli_put_hex(FILE *f, const char *s, size_t len);
/* The escaped form in a malloc'ed string. */
char *cli_escape(const char *s, size_t len, int hex);

/* Verbs (client side): the parsed command line in, the exit code out. */
int cmd_init(struct cli_opts *o);
int cmd_serve(struct cli_opts *o);
int cmd_stop(struct cli_opts *o);
int cmd_status(struct cli_opts *o);
int cmd_version(struct cli_opts *o);
int cmd_help(struct cli_opts *o);
int cmd_table_create(struct cli_opts *o);
int cmd_table_list(struct cli_opts *o);
int cmd_table_drop(struct cli_opts *o);
int cmd_put(struct cli_opts *o);
int cmd_get(struct cli_opts *o);
int cmd_del(struct cli_opts *o);
int cmd_scan(struct cli_opts *o);
int cmd_load(struct cli_opts *o);
int cmd_snapshot_create(struct cli_opts *o);
int cmd_snapshot_list(struct cli_opts *o);
int cmd_snapshot_delete(struct cli_opts *o);
int cmd_snapshot_export(struct cli_opts *o);
int cmd_snapshot_restore(struct cli_opts *o);
int cmd_schedule_create(struct cli_opts *o);
int cmd_schedule_list(struct cli_opts *o);
int cmd_schedule_delete(struct cli_opts *o);
int cmd_restore_point_list(struct cli_opts *o);
int cmd_restore_to(struct cli_opts *o);
int cmd_restore_list(struct cli_opts *o);
int cmd_verify(struct cli_opts *o);
int cmd_dump(struct cli_opts *o);
int cmd_check(struct cli_opts *o);
int cmd_metrics(struct cli_opts *o);

/* The sections of status beyond the daemon's own fields (cmd_monitor.c),
 * each adding its fields to o. */
void status_add_uptime(json_object *o, struct daemon *d);
void status_add_keyspaces(json_object *o, struct daemon *d);
/* status as text for people: 0, or -EIO if stdout failed. */
int status_print_text(json_object *o);
/* The OpenMetrics document of a status document (NULL: no daemon answered,
 * snapfs_up 0), ending with "# EOF". */
void metrics_print(FILE *f, json_object *status);

/* Progress of a request's work sent to its client as CTL_PROGRESS frames
 * (srv_progress.c): srv_progress_start makes a progress (progress.h)
 * current on the calling thread, whose watcher sends the frames with no
 * lock of the store held; srv_progress_stop (with no lock held) ends it. */
struct srv_progress;
/* 1 for the verbs whose work is long (snapshot.create, snapshot.restore,
 * restore.to): the dispatcher brackets their handler with start and stop. */
int srv_progress_wanted(const char *verb);
struct srv_progress *srv_progress_start(int fd);
void srv_progress_stop(struct srv_progress *sp);
/* Sends m on fd: every frame a handler sends goes through here, so that
 * it never interleaves with a progress frame of the same request. */
int srv_send(int fd, const struct ctl_msg *m);
/* One frame of report r on fd. */
int srv_send_progress(int fd, const struct progress_report *r);
/* The marker restore of serve reports to d's log (or terminal) and, when
 * detached, as lines "progress PHASE UNIT DONE TOTAL END" on the pipe to
 * the waiting `snapfs serve`; serve_progress_parse reads such a line. */
struct serve_progress;
struct serve_progress *serve_progress_start(struct daemon *d);
void serve_progress_stop(struct serve_progress *sp);
int serve_progress_parse(const char *line, struct progress_report *r, char phase[32],
			 char unit[16]);

/* Daemon handlers. */
int srv_status(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_stop(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_table_create(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_table_list(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_table_drop(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_put(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_get(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_del(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_scan(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_load(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_snapshot_create(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_snapshot_list(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_snapshot_delete(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_snapshot_export(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_snapshot_restore(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_restore_list(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_schedule_create(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_schedule_list(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_schedule_delete(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_restorepoint_list(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);
int srv_restore_to(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e);

#endif
