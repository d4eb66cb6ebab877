/*
 * clients: the daemon's control connections, from accept to close.
 *
 * Issue 11 found that one thread per connection, at most 128 of them, let
 * 128 connections that send nothing (or half a frame) lock everyone out,
 * `status` and `stop` included, and that a half-sent frame pinned the
 * length it announced (up to 16 MiB). So connections are not threads here:
 *
 *   - One poller thread owns every connection that is between requests or
 *     inside one that is still arriving. It reads with MSG_DONTWAIT into a
 *     ctl_reader, whose buffer grows with the bytes that arrive (ctl_proto.c),
 *     never with the length announced.
 *   - A whole request goes to a worker thread (at most CLIENTS_WORKERS at
 *     once), which dispatches it, writes the reply (blocking: replies
 *     stream), and hands the connection back to the poller.
 *   - `status` and `stop` have CLIENTS_RESERVED workers of their own, so
 *     long requests filling every worker cannot keep an operator out; other
 *     whole requests wait in a FIFO for a worker.
 *   - Deadlines: a frame must arrive whole within CLIENTS_FRAME_MS of its
 *     first byte; a connection may sit between requests CLIENTS_IDLE_MS.
 *     Past either it is closed (a late frame gets an error reply first).
 *   - At most CLIENTS_MAX connections. When a new one finds them all taken,
 *     the poller's connection idle the longest is closed to make room: an
 *     idle connection is reclaimable, so idle clients never starve new
 *     ones. Only when every connection is inside a request is the newcomer
 *     refused ("too many clients", exit 3).
 *
 * Memory: a connection costs its struct and what its peer has sent of the
 * frame under way (at most twice that, by the reader's doubling).
 *
 * Threads and ownership: a connection is owned by exactly one of the poller
 * (state READING), the FIFO (WAITING) or a worker (BUSY); its fd is closed
 * by its owner. Every list and count below is protected by c->lock; the
 * poller's reads and the workers' dispatch run outside it.
 */
#include "snapfs.h"

#include "fsutil.h"
#include "hlc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum conn_state { READING, WAITING, BUSY };

struct conn {
	struct clients *c;
	int fd;
	enum conn_state state;
	int64_t since_ms; /* READING: idle since, or since a frame's first byte */
	struct ctl_reader rd;
	struct ctl_msg req; /* WAITING and BUSY: the request */
	struct conn *next;  /* in the FIFO or the handed-back list */
};

#define INCOMING_MAX 256 /* accepted, not yet taken by the poller */

struct clients {
	struct daemon *d;
	pthread_t poller;
	int wake[2]; /* a byte here wakes the poller */
	pthread_mutex_t lock;
	pthread_cond_t idle;		 /* broadcast when a worker ends */
	struct conn *conns[CLIENTS_MAX]; /* protected by lock; NULL = free */
	unsigned nworkers;		 /* protected by lock */
	struct conn *fifo, *fifo_tail;	 /* protected by lock: WAITING, oldest first */
	struct conn *back;		 /* protected by lock: handed back by workers */
	int incoming[INCOMING_MAX];	 /* protected by lock: accepted fds */
	unsigned nincoming;		 /* protected by lock */
	int stopping;			 /* protected by lock */
	unsigned evicted;		 /* poller only: since the last log line */
	int64_t evict_log_ms;		 /* poller only */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake(struct clients *c)
{
	char b = 'w';

	if (write(c->wake[1], &b, 1) < 0) {
		/* the pipe is full: the poller is awake already */
	}
}

/* An END frame with an error, best effort and never blocking: the peer may
 * not be reading, and the poller must not wait for it. */
static void refuse(int fd, int rc, const char *why)
{
	struct ctl_msg m;
	char code[8];

	snprintf(code, sizeof(code), "%d", errbuf_exit_code(rc));
	ctl_msg_init(&m, CTL_END);
	ctl_adds(&m, "code", code);
	ctl_adds(&m, "error", why);
	ctl_send_flags(fd, &m, MSG_DONTWAIT);
}

/* Takes k out of the table and frees it, closing its fd. Under lock. */
static void conn_drop_locked(struct clients *c, struct conn *k)
{
	for (unsigned i = 0; i < CLIENTS_MAX; i++)
		if (c->conns[i] == k) {
			c->conns[i] = NULL;
			break;
		}
	close(k->fd);
	ctl_reader_release(&k->rd);
	ctl_msg_release(&k->req);
	free(k);
}

static int reserved_verb(const struct ctl_msg *req)
{
	uint32_t len;
	const char *v = ctl_get(req, "verb", &len);

	return v && ((len == 6 && !memcmp(v, "status", 6)) || (len == 4 && !memcmp(v, "stop", 4)));
}

static void *worker_main(void *arg);

/* Starts a worker on k (then BUSY). -1 when none may start now. Under lock. */
static int start_worker_locked(struct clients *c, struct conn *k)
{
	pthread_attr_t attr;
	pthread_t th;
	int rc;

	if (c->nworkers >= CLIENTS_WORKERS + CLIENTS_RESERVED ||
	    (c->nworkers >= CLIENTS_WORKERS && !reserved_verb(&k->req)))
		return -1;
	k->state = BUSY;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &attr, worker_main, k);
	pthread_attr_destroy(&attr);
	if (rc) {
		k->state = WAITING;
		return -1;
	}
	c->nworkers++;
	return 0;
}

/* A whole request on k: to a worker, or to the back of the FIFO (a status
 * or stop never waits behind others for a reserved worker). Under lock. */
static void submit_locked(struct clients *c, struct conn *k)
{
	if ((c->fifo && !reserved_verb(&k->req)) || start_worker_locked(c, k)) {
		k->state = WAITING;
		k->next = NULL;
		if (c->fifo_tail)
			c->fifo_tail->next = k;
		else
			c->fifo = k;
		c->fifo_tail = k;
	}
}

/* Starts workers for the FIFO's head while there are free ones. Under lock. */
static void drain_fifo_locked(struct clients *c)
{
	while (c->fifo && !c->stopping && !start_worker_locked(c, c->fifo)) {
		c->fifo = c->fifo->next;
		if (!c->fifo)
			c->fifo_tail = NULL;
	}
}

static void *worker_main(void *arg)
{
	struct conn *k = arg;
	struct clients *c = k->c;
	int rc = daemon_dispatch(c->d, &k->req, k->fd);

	ctl_msg_release(&k->req);
	pthread_mutex_lock(&c->lock);
	c->nworkers--;
	if (rc || c->stopping) {
		conn_drop_locked(c, k);
	} else {
		k->next = c->back;
		c->back = k;
		wake(c);
	}
	drain_fifo_locked(c);
	pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---- the poller ---- */

/* Reads what k's peer has sent; a whole request goes to a worker. */
static void conn_read(struct clients *c, struct conn *k, int64_t now)
{
	int started = ctl_reader_started(&k->rd);
	int rc = ctl_reader_read(&k->rd, k->fd, MSG_DONTWAIT, &k->req);

	if (!started && ctl_reader_started(&k->rd))
		k->since_ms = now; /* a frame began: its deadline runs */
	if (rc == -EAGAIN)
		return;
	pthread_mutex_lock(&c->lock);
	if (rc == 0) {
		submit_locked(c, k);
	} else {
		if (rc != -EPIPE && rc != -ECONNRESET)
			refuse(k->fd, -EINVAL,
			       rc == -EMSGSIZE ? "request: frame too large"
			       : rc == -EPROTO ? "request: unsupported protocol version"
					       : "request: malformed frame");
		conn_drop_locked(c, k);
	}
	pthread_mutex_unlock(&c->lock);
}

/* The slot of the poller's connection idle the longest (one without a
 * frame under way first), or -1 when every one is inside a request. Under
 * lock. */
static int oldest_reading_locked(struct clients *c)
{
	int best = -1;

	for (int i = 0; i < CLIENTS_MAX; i++) {
		struct conn *k = c->conns[i];

		if (!k || k->state != READING)
			continue;
		if (best < 0 ||
		    ctl_reader_started(&k->rd) < ctl_reader_started(&c->conns[best]->rd) ||
		    (ctl_reader_started(&k->rd) == ctl_reader_started(&c->conns[best]->rd) &&
		     k->since_ms < c->conns[best]->since_ms))
			best = i;
	}
	return best;
}

/* Takes the accepted fds and the connections workers handed back. */
static void take_new_locked(struct clients *c, int64_t now)
{
	while (c->back) {
		struct conn *k = c->back;

		c->back = k->next;
		k->state = READING;
		k->since_ms = now;
	}
	for (unsigned j = 0; j < c->nincoming; j++) {
		int fd = c->incoming[j], slot = -1;
		struct conn *k;

		for (int i = 0; i < CLIENTS_MAX && slot < 0; i++)
			if (!c->conns[i])
				slot = i;
		if (slot < 0) {
			slot = oldest_reading_locked(c);
			if (slot >= 0) {
				conn_drop_locked(c, c->conns[slot]);
				c->evicted++;
			}
		}
		if (slot < 0) {
			refuse(fd, -EBUSY, "daemon: too many clients, try again");
			close(fd);
			continue;
		}
		k = xcalloc(1, sizeof(*k));
		k->c = c;
		k->fd = fd;
		k->state = READING;
		k->since_ms = now;
		ctl_reader_init(&k->rd);
		ctl_msg_init(&k->req, 0);
		c->conns[slot] = k;
	}
	c->nincoming = 0;
	if (c->evicted && now - c->evict_log_ms >= 10000) {
		dlog("clients: %u connections closed to make room (%d open at most)", c->evicted,
		     CLIENTS_MAX);
		c->evicted = 0;
		c->evict_log_ms = now;
	}
}

/* Closes k if past its deadline; otherwise lowers *next to it. */
static void conn_deadline(struct clients *c, struct conn *k, int64_t now, int64_t *next)
{
	int started = ctl_reader_started(&k->rd);
	int64_t due = k->since_ms + (started ? CLIENTS_FRAME_MS : CLIENTS_IDLE_MS);

	if (due > now) {
		if (due < *next)
			*next = due;
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (started)
		refuse(k->fd, -EINVAL, "request: frame not finished in time");
	conn_drop_locked(c, k);
	pthread_mutex_unlock(&c->lock);
}

static void *poller_main(void *arg)
{
	struct clients *c = arg;
	struct pollfd *pf = xcalloc(CLIENTS_MAX + 1, sizeof(*pf));
	struct conn **ks = xcalloc(CLIENTS_MAX + 1, sizeof(*ks));

	for (;;) {
		int64_t now = now_ms(), next = now + CLIENTS_IDLE_MS;
		nfds_t n = 1;

		pthread_mutex_lock(&c->lock);
		if (c->stopping) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		take_new_locked(c, now);
		for (int i = 0; i < CLIENTS_MAX; i++)
			if (c->conns[i] && c->conns[i]->state == READING)
				ks[n++] = c->conns[i];
		pthread_mutex_unlock(&c->lock);
		/* only the poller changes READING connections: ks stays valid */
		for (nfds_t i = 1; i < n; i++) {
			struct conn *k = ks[i];
			int64_t due = k->since_ms + (ctl_reader_started(&k->rd) ? CLIENTS_FRAME_MS
										: CLIENTS_IDLE_MS);

			if (due < next)
				next = due;
			pf[i] = (struct pollfd){.fd = k->fd, .events = POLLIN};
		}
		pf[0] = (struct pollfd){.fd = c->wake[0], .events = POLLIN};
		if (poll(pf, n, (int)(next > now ? next - now : 0)) < 0 && errno != EINTR) {
			dlog("clients: poll: %s", strerror(errno));
			break;
		}
		if (pf[0].revents) {
			char buf[64];

			while (read(c->wake[0], buf, sizeof(buf)) > 0)
				;
		}
		now = now_ms();
		next = INT64_MAX;
		for (nfds_t i = 1; i < n; i++) {
			if (pf[i].revents)
				conn_read(c, ks[i], now);
			else
				conn_deadline(c, ks[i], now, &next);
		}
	}
	free(ks);
	free(pf);
	return NULL;
}

/* ---- the daemon's side ---- */

int clients_start(struct daemon *d, struct clients **out, struct errbuf *e)
{
	struct clients *c = xcalloc(1, sizeof(*c));
	int rc;

	c->d = d;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->idle, NULL);
	if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = -errno;
		free(c);
		return err_set(e, rc, "serve: %s", strerror(-rc));
	}
	rc = -pthread_create(&c->poller, NULL, poller_main, c);
	if (rc) {
		close(c->wake[0]);
		close(c->wake[1]);
		free(c);
		return err_set(e, rc, "serve: cannot start the client poller: %s", strerror(-rc));
	}
	*out = c;
	return 0;
}

void clients_add(struct clients *c, int fd)
{
	pthread_mutex_lock(&c->lock);
	if (c->stopping || c->nincoming == INCOMING_MAX) {
		pthread_mutex_unlock(&c->lock);
		refuse(fd, -EBUSY, "daemon: too many clients, try again");
		close(fd);
		return;
	}
	c->incoming[c->nincoming++] = fd;
	pthread_mutex_unlock(&c->lock);
	wake(c);
}

void clients_stop(struct clients *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_mutex_unlock(&c->lock);
	wake(c);
	pthread_join(c->poller, NULL);
	pthread_mutex_lock(&c->lock);
	for (unsigned j = 0; j < c->nincoming; j++)
		close(c->incoming[j]);
	c->nincoming = 0;
	while (c->fifo) {
		struct conn *k = c->fifo;

		c->fifo = k->next;
		conn_drop_locked(c, k);
	}
	c->fifo_tail = NULL;
	while (c->back) {
		struct conn *k = c->back;

		c->back = k->next;
		conn_drop_locked(c, k);
	}
	/* what is left is READING (the poller is gone) or BUSY (a worker's) */
	for (int i = 0; i < CLIENTS_MAX; i++) {
		struct conn *k = c->conns[i];

		if (k && k->state == READING)
			conn_drop_locked(c, k);
		else if (k)
			shutdown(k->fd, SHUT_RDWR);
	}
	while (c->nworkers)
		pthread_cond_wait(&c->idle, &c->lock);
	pthread_mutex_unlock(&c->lock);
	close(c->wake[0]);
	close(c->wake[1]);
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
