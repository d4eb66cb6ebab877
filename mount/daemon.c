/*
 * daemon: `snapfs serve`. Owns DATA for the life of the process.
 *
 * Start-up, in order: detach (fork before any thread, the parent waits for
 * a readiness line on a pipe so `snapfs serve` returns only once the
 * socket answers), lock DATA (flock on DATA/snapfs.lock holding our pid: a
 * second serve is refused with the holder's pid), block the signals in
 * every thread (they arrive on a signalfd in the accept loop), open the
 * store, repair what a crash left (snapshots module), listen on
 * DATA/snapfs.sock (0600), mount the view, report ready.
 *
 * Clients: the accept loop hands each connection to clients.c (one poller
 * thread reading requests as they arrive, a worker thread per request
 * running, bounded, with deadlines); daemon_dispatch runs one request. A
 * malformed frame closes that connection after an error reply; nothing a
 * client sends reaches beyond its own connection.
 *
 * Logs: detached, stdout and stderr are DATA/snapfs.log (O_APPEND, so a
 * copytruncate rotation works too); SIGHUP reopens it by name, so after a
 * rename-style rotation the lines go to the new file, and never stops the
 * daemon. In the foreground (systemd) they stay on stderr, for journald,
 * and SIGHUP only says so. Under systemd (Type=notify,  set)
 * the daemon says READY=1 once the socket answers and STOPPING=1 when the
 * shut-down starts (notify.c).
 *
 * Shut-down (SIGTERM, SIGINT, `snapfs stop`), in this order, which
 * shut_down() below is the one place of and asserts:
 *   1. stop accepting, remove the socket;
 *   2. shut every client socket down and wait for their threads: no
 *      handler runs from here on;
 *   3. stop the schedule thread: no snapshot is created or deleted from
 *      here on;
 *   4. detach the view from the snapshot module (snapshots_set_listener
 *      NULL waits for a notification under way), then unmount and free
 *      the view: nothing can call into it any more;
 *   5. close schedules, then snapshots (which asserts that no listener
 *      and no pin is left), then flush and close every RocksDB;
 *   6. release the lock last (`snapfs stop` waits on it).
 */
#include "snapfs.h"

#include "fsutil.h"
#include "progress.h"
#include "schedule.h"
#include "snap.h"
#include "view_glue.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

void daemon_request_stop(struct daemon *d)
{
	char c = 's';

	if (write(d->wake[1], &c, 1) < 0) {
		/* the pipe is full: a stop is already pending */
	}
}

/* ---- reply helpers ---- */

int srv_send_json(int fd, json_object *o)
{
	struct ctl_msg m;
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	ctl_msg_init(&m, CTL_JSON);
	ctl_adds(&m, "json", s);
	return srv_send(fd, &m);
}

int srv_send_text(int fd, const char *text)
{
	struct ctl_msg m;

	ctl_msg_init(&m, CTL_TEXT);
	ctl_adds(&m, "text", text);
	return srv_send(fd, &m);
}

int srv_send_row(int fd, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct ctl_msg m;

	ctl_msg_init(&m, CTL_ROW);
	ctl_add(&m, "key", key, klen);
	ctl_add(&m, "value", val, vlen);
	return srv_send(fd, &m);
}

int srv_arg(const struct ctl_msg *req, const char *name, char **out, struct errbuf *e)
{
	uint32_t len;
	const char *v = ctl_get(req, name, &len);

	*out = NULL;
	if (!v)
		return err_set(e, -EINVAL, "request: argument '%s' missing", name);
	if (memchr(v, '\0', len))
		return err_set(e, -EINVAL, "request: argument '%s' holds a NUL byte", name);
	*out = ctl_dup(req, name);
	return 0;
}

int srv_arg_u64(const struct ctl_msg *req, const char *name, uint64_t *v, struct errbuf *e)
{
	int rc = ctl_getu64(req, name, v);

	if (rc == -EINVAL)
		return err_set(e, -EINVAL, "request: argument '%s' is not a number", name);
	return rc;
}

/* The verbs the daemon answers, one handler each (cmd_*.c). */
const struct srv_verb srv_verbs[] = {
    {"status", srv_status},
    {"stop", srv_stop},
    {"table.create", srv_table_create},
    {"table.list", srv_table_list},
    {"table.drop", srv_table_drop},
    {"put", srv_put},
    {"get", srv_get},
    {"del", srv_del},
    {"scan", srv_scan},
    {"load", srv_load},
    {"snapshot.create", srv_snapshot_create},
    {"snapshot.list", srv_snapshot_list},
    {"snapshot.delete", srv_snapshot_delete},
    {"snapshot.export", srv_snapshot_export},
    {"snapshot.restore", srv_snapshot_restore},
    {"restore.list", srv_restore_list},
    {"restore.to", srv_restore_to},
    {"schedule.create", srv_schedule_create},
    {"schedule.list", srv_schedule_list},
    {"schedule.delete", srv_schedule_delete},
    {"restorepoint.list", srv_restorepoint_list},
    {NULL, NULL},
};

/* ---- requests ---- */

static int send_end(int fd, int rc, const char *msg)
{
	struct ctl_msg m;
	char code[8];

	snprintf(code, sizeof(code), "%d", errbuf_exit_code(rc));
	ctl_msg_init(&m, CTL_END);
	ctl_adds(&m, "code", code);
	if (rc < 0 && msg && *msg)
		ctl_adds(&m, "error", msg);
	return ctl_send(fd, &m);
}

int daemon_dispatch(struct daemon *d, const struct ctl_msg *req, int fd)
{
	struct errbuf e = {{0}};
	char *verb = NULL;
	int rc, stop = 0;

	if (req->type != CTL_REQ) {
		rc = err_set(&e, -EINVAL, "request: not a request frame");
		goto out;
	}
	rc = srv_arg(req, "verb", &verb, &e);
	if (rc)
		goto out;
	rc = err_set(&e, -EINVAL, "request: verb '%s' unknown", verb);
	for (const struct srv_verb *v = srv_verbs; v->verb; v++) {
		if (strcmp(v->verb, verb))
			continue;
		struct srv_progress *p = srv_progress_wanted(verb) ? srv_progress_start(fd) : NULL;

		e.msg[0] = '\0';
		rc = v->fn(d, req, fd, &e);
		srv_progress_stop(p); /* its last frame before the reply */
		if (rc < 0 && !e.msg[0])
			err_set(&e, rc, "%s: %s", verb, strerror(-rc));
		stop = rc == 0 && v->fn == srv_stop;
		break;
	}
out:
	free(verb);
	rc = send_end(fd, rc, e.msg);
	/* a stop only once its reply is out: the shut-down cuts every client
	 * socket, and `snapfs stop` must not read that as a lost daemon */
	if (stop)
		daemon_request_stop(d);
	return rc;
}

static void accept_client(struct daemon *d, int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd >= 0)
		clients_add(d->clients, fd);
}

/* ---- start-up ---- */

static int lock_data(const char *data, int *lockfd, struct errbuf *e)
{
	char *path = fs_path("%s/snapfs.lock", data);
	char buf[32];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644), n, rc = 0;

	if (fd < 0) {
		rc = err_set(e, -errno, "lock file '%s': %s", path, strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = (int)pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		rc = err_set(e, -EBUSY, "data directory '%s': already served by pid %s", data,
			     buf[0] ? buf : "?");
		close(fd);
		goto out;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		rc = err_set(e, -errno, "lock file '%s': %s", path, strerror(errno));
		close(fd);
		goto out;
	}
	*lockfd = fd;
out:
	free(path);
	return rc;
}

static int listen_socket(const char *data, int *out, struct errbuf *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *path = ctl_socket_path(data);
	int fd = -1, rc = 0;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		rc = err_set(e, -ENAMETOOLONG, "socket '%s': path too long", path);
		goto out;
	}
	strcpy(sa.sun_path, path);
	unlink(path); /* we hold the lock: any socket here is stale */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || fchmod(fd, 0600) < 0) {
		rc = err_set(e, -errno, "socket '%s': %s", path, strerror(errno));
		goto out;
	}
	{
		mode_t old = umask(077);

		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		umask(old);
	}
	if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
		rc = err_set(e, -errno, "socket '%s': %s", path, strerror(errno));
		goto out;
	}
	*out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

static void notify(int fd, int rc, const char *msg)
{
	char buf[ERRBUF_MAX + 16];
	int n;

	if (fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%d %s\n", rc, msg);
	if (write(fd, buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1)) < 0) {
		/* the parent is gone: nothing to tell */
	}
	close(fd);
}

/* Parent side of detaching: waits for the child's readiness line,
 * showing the progress lines of a marker restore that come before it
 * (srv_progress.c) as --progress and --quiet say. */
static int wait_ready(int rfd, pid_t pid, const char *data, int progress)
{
	char buf[ERRBUF_MAX + 16] = {0}, *nl;
	struct cli_progress cp;
	size_t got = 0;
	ssize_t n;
	int rc;

	cli_progress_init_flags(&cp, progress > 0, progress < 0, "serve");
	for (;;) {
		while ((nl = memchr(buf, '\n', got)) && !strncmp(buf, "progress ", 9)) {
			struct progress_report r;
			char phase[32], unit[16];

			*nl = '\0';
			if (!serve_progress_parse(buf, &r, phase, unit))
				cli_progress_report(&cp, &r);
			got -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, got);
		}
		if (got >= sizeof(buf) - 1)
			break;
		n = read(rfd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	cli_progress_done(&cp);
	close(rfd);
	if (!got) {
		fprintf(stderr,
			"snapfs: error: daemon for '%s' died while starting (see %s/snapfs.log)\n",
			data, data);
		return EXIT_INTERNAL;
	}
	rc = atoi(buf);
	if (rc) {
		char *msg = strchr(buf, ' ');

		if (msg)
			msg[strcspn(msg, "\n")] = '\0';
		fprintf(stderr, "snapfs: error: %s\n", msg ? msg + 1 : "daemon failed to start");
		return errbuf_exit_code(rc);
	}
	printf("snapfs: serving '%s' (pid %d, log %s/snapfs.log)\n", data, (int)pid, data);
	return EXIT_OK;
}

/* Opens DATA/snapfs.log for appending: an fd, or -errno. */
static int open_log(const char *data)
{
	char *log = fs_path("%s/snapfs.log", data);
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	free(log);
	return fd < 0 ? -errno : fd;
}

/* SIGHUP: point stdout and stderr at DATA/snapfs.log again, by name (it
 * was renamed or removed by a rotation). In the foreground, nothing to do. */
static void reopen_log(struct daemon *d)
{
	int fd;

	if (!d->detached) {
		dlog("SIGHUP: logging to stderr, nothing to reopen");
		return;
	}
	fd = open_log(d->data);
	if (fd < 0) {
		dlog("SIGHUP: cannot reopen '%s/snapfs.log': %s; logging on to the old file",
		     d->data, strerror(-fd));
		return;
	}
	fflush(stdout);
	fflush(stderr);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	dlog("SIGHUP: log reopened");
}

/* Forks. The child goes on as the daemon: 0, with *notify_fd the write end
 * of the readiness pipe. The parent waits for the child's readiness: 1,
 * with the exit code of `snapfs serve` in *parent_rc. */
static int detach(const char *data, int progress, int *notify_fd, int *parent_rc)
{
	int p[2];
	pid_t pid;
	int fd;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		*parent_rc = wait_ready(p[0], pid, data, progress);
		return 1;
	}
	close(p[0]);
	setsid();
	fd = open_log(data);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	*notify_fd = p[1];
	return 0;
}

static void serve_loop(struct daemon *d, int lfd, int sfd)
{
	struct pollfd pf[3] = {
	    {.fd = lfd, .events = POLLIN},
	    {.fd = sfd, .events = POLLIN},
	    {.fd = d->wake[0], .events = POLLIN},
	};

	for (;;) {
		if (poll(pf, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			dlog("poll: %s", strerror(errno));
			return;
		}
		if (pf[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				reopen_log(d);
				continue;
			}
			dlog("signal %d: shutting down", (int)si.ssi_signo);
			return;
		}
		if (pf[2].revents) {
			dlog("stop requested: shutting down");
			return;
		}
		if (pf[0].revents)
			accept_client(d, lfd);
	}
}

/* Steps 2 to 5 of the shut-down order (see the top of this file). */
static void shut_down(struct daemon *d)
{
	clients_stop(d->clients); /* every request finished */
	d->clients = NULL;
	schedules_stop(d->sched);
	daemon_view_stop(d);
	assert(!d->view);
	schedules_close(d->sched);
	d->sched = NULL;
	snapshots_close(d->snaps);
	d->snaps = NULL;
	if (d->store) {
		store_flush_all(d->store);
		store_close(d->store);
		d->store = NULL;
	}
}

int daemon_serve(const char *data, const char *mountpoint, int foreground, int allow_other,
		 int progress)
{
	struct daemon d;
	struct errbuf e = {{0}};
	sigset_t mask;
	int lockfd = -1, lfd = -1, sfd = -1, notify_fd = -1, rc = 0, parent_rc = -1;
	char *sock = ctl_socket_path(data);
	struct stat st;

	memset(&d, 0, sizeof(d));
	d.data = xstrdup(data);
	d.mountpoint = mountpoint ? xstrdup(mountpoint) : NULL;
	d.allow_other = allow_other;
	d.progress = progress;
	d.ready_fd = -1;
	d.wake[0] = d.wake[1] = -1;

	if (stat(data, &st) != 0 || !S_ISDIR(st.st_mode)) {
		rc = err_set(&e, -ENOENT, "data directory '%s': not found (run 'snapfs init')",
			     data);
		goto out;
	}
	if (!foreground) {
		rc = detach(data, progress, &notify_fd, &parent_rc);
		if (rc == 1) {
			rc = 0; /* the parent: the child is the daemon */
			goto out;
		}
		if (rc) {
			err_set(&e, rc, "serve: cannot detach: %s", strerror(-rc));
			goto out;
		}
		d.detached = 1;
		d.ready_fd = notify_fd;
	}
	rc = lock_data(data, &lockfd, &e);
	if (rc)
		goto out;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0 || pipe2(d.wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = err_set(&e, -errno, "serve: %s", strerror(errno));
		goto out;
	}
	dlog("snapfs %s starting on '%s'", snapfs_version_string(), data);
	d.started_us = hlc_wall_us();
	rc = daemon_startup_restore(&d, &e);
	if (rc)
		goto out;
	rc = store_open(&d.store, data, &e);
	if (rc)
		goto out;
	rc = snapshots_open(&d.snaps, d.store, &e);
	if (!rc)
		rc = schedules_open(&d.sched, d.store, d.snaps, &e);
	if (rc)
		goto out;
	rc = listen_socket(data, &lfd, &e);
	if (!rc)
		rc = clients_start(&d, &d.clients, &e);
	if (rc)
		goto out;
	daemon_view_clear_holds(&d);
	if (d.mountpoint) {
		rc = daemon_view_start(&d, &e);
		if (rc)
			goto out;
	}
	dlog("ready: socket '%s'%s%s", sock, d.mountpoint ? ", mount " : "",
	     d.mountpoint ? d.mountpoint : "");
	if (foreground)
		fprintf(stdout, "snapfs: serving '%s' (pid %d)\n", data, (int)getpid());
	fflush(stdout);
	notify(notify_fd, 0, "ok");
	notify_fd = d.ready_fd = -1;
	daemon_sd_notify("READY=1");
	if (schedules_start(d.sched))
		dlog("error: cannot start the schedule thread");
	serve_loop(&d, lfd, sfd);
	daemon_sd_notify("STOPPING=1");
out:
	if (parent_rc >= 0)
		goto out_parent;
	if (lfd >= 0) {
		close(lfd);
		unlink(sock);
	}
	shut_down(&d);
	if (rc) {
		dlog("error: %s", e.msg);
		if (notify_fd >= 0)
			notify(notify_fd, rc, e.msg);
		else
			fprintf(stderr, "snapfs: error: %s\n", e.msg);
	} else {
		dlog("stopped");
	}
	if (sfd >= 0)
		close(sfd);
	if (d.wake[0] >= 0) {
		close(d.wake[0]);
		close(d.wake[1]);
	}
	if (lockfd >= 0)
		close(lockfd); /* releases the flock last: stop waits on it */
out_parent:
	free(d.data);
	free(d.mountpoint);
	free(sock);
	return parent_rc >= 0 ? parent_rc : errbuf_exit_code(rc);
}
