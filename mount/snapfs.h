/*
 * snapfs.h: what the files of mount/ share. The executable is one table of
 * verbs (main.c); each verb group lives in one cmd_<group>.c holding both
 * ends of its verbs: the client (cmd_*: parses argv, sends one request,
 * prints the reply) and the daemon's handler (srv_*: runs inside serve).
 */
#ifndef SNAPFS_MOUNT_H
#define SNAPFS_MOUNT_H

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>

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
	struct store store;
	struct snapshots *snaps; /* the snapshot module, NULL until opened */
	struct schedules *sched; /* schedules and restore points */
	struct view *view;	 /* NULL without --mount */
	int wake[2];		 /* a byte here asks the accept loop to stop */
	int64_t started_us;
	pthread_mutex_t clients_lock;
	pthread_cond_t clients_cond;
	unsigned nclients;   /* protected by clients_lock */
	int client_fds[128]; /* protected by clients_lock; -1 = free */
};

/* Asks the daemon to shut down (thread-safe, async-signal-safe). */
void daemon_request_stop(struct daemon *d);

/* Runs `serve`: returns the process exit code. */
int daemon_serve(const char *data, const char *mountpoint, int foreground, int allow_other);

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

/* ---- client side (cli.c) ---- */

/* Every flag of every verb; a verb says which ones it takes. */
struct cli_opts {
	char *data; /* absolute, malloc'ed: --data, $SNAPFS_DATA or ./snapfs-data */
	const char *mount, *at, *snapshot, *prefix, *table, *as;
	const char *interval, *retention, *to;
	uint64_t limit, rows, seed, tablets, value_size;
	int foreground, json, hex, allow_other;
	int npos;
	char **pos; /* positional arguments after the verb (and sub-verb) */
};

/* Parses argv[1..] with getopt_long. allowed: space-separated long option
 * names this verb takes; positional arguments must number min..max.
 * Returns 0, or the usage exit code after printing the error. */
int cli_parse(int argc, char **argv, const char *allowed, int min, int max, struct cli_opts *o);
void cli_opts_release(struct cli_opts *o);

/* --data, else $SNAPFS_DATA, else ./snapfs-data; made absolute (malloc'ed). */
char *cli_data_dir(const char *opt);

/* Prints "snapfs: error: <msg>" to stderr and returns the exit code for rc. */
int cli_error(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What to do with data frames of a reply; return non-zero to stop. */
struct cli_reply {
	int (*on_row)(void *arg, const char *k, uint32_t kl, const char *v, uint32_t vl);
	int (*on_json)(void *arg, json_object *o);
	int (*on_progress)(void *arg, uint64_t done, uint64_t total);
	void *arg;
};

/* Sends req to DATA's daemon, feeds data frames to r (text frames go to
 * stdout), prints the error of the END frame. Returns the exit code
 * (4 with a hint when no daemon listens). */
int cli_call(const char *data, struct ctl_msg *req, const struct cli_reply *r);

/* --json listings: one JSON object of the array per line. Returns 0. */
int cli_print_json_lines(json_object *arr);

/* Writes bytes escaped: printable ASCII as is except '\\', others \xNN. */
void cli_put_escaped(FILE *f, const char *s, size_t len);
void cli_put_hex(FILE *f, const char *s, size_t len);
/* The escaped form in a malloc'ed string. */
char *cli_escape(const char *s, size_t len, int hex);

/* Verbs (client side): argc/argv start at the verb itself. */
int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_table(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_schedule(int argc, char **argv);
int cmd_restore_point(int argc, char **argv);
int cmd_restore_to(struct cli_opts *o);
int cmd_verify(int argc, char **argv);
int cmd_dump(int argc, char **argv);

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
