/*
 * ctl_flood: connections that send nothing or half a frame, held open, for
 * tests/integration/test_clients.sh (issue 11, item 6).
 *
 *     ctl_flood SOCKET OUT
 *
 * Opens, in this order: 20 connections that announce the largest frame
 * (CTL_MAX_FRAME) and send 1000 bytes of it, 150 that send nothing, 80 that
 * send half a length (2 bytes), 50 more that send nothing: 300 in all.
 * Then creates OUT.ready and waits for OUT.check to appear; then writes
 * OUT (atomically) with how many of each group the daemon has closed by
 * then, and how many of the announced frames got an error reply saying
 * the frame was not finished in time:
 *     big N
 *     big_replied N
 *     half N
 *     idle N
 * and waits for OUT.done before closing everything. Never runs longer than
 * 120 s. A connection the daemon refuses or closes at once is counted as
 * closed, not an error (so the test fails on its own checks against a
 * daemon that refuses the flood). Exits 0, or 2 on a usage or connect
 * error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_proto.h"

#define NBIG 20
#define NIDLE1 150
#define NHALF 80
#define NIDLE2 50
#define LIFETIME 120

static const char *sock_path;
static time_t deadline;

static int connect_sock(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ctl_flood: connect '%s': %s\n", sock_path, strerror(errno));
		exit(2);
	}
	return fd;
}

static void send_some(int fd, const void *p, size_t n)
{
	if (send(fd, p, n, MSG_NOSIGNAL) < 0) {
		/* refused and closed by the daemon: counted as closed later */
	}
}

/* 1: the daemon closed fd (end of stream, an error, or a reply, which it
 * only sends before closing); 0: still open and silent. If reply is not
 * NULL, what arrived (NUL-terminated, at most len - 1 bytes). */
static int closed(int fd, char *reply, size_t len)
{
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (reply) {
		size_t k = n > 0 ? (size_t)n : 0;

		if (k > len - 1)
			k = len - 1;
		memcpy(reply, buf, k);
		reply[k] = '\0';
		for (size_t i = 0; i < k; i++)
			if (!reply[i])
				reply[i] = ' '; /* binary frame: make it searchable */
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return 1;
}

static void wait_for(const char *out, const char *suffix)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", out, suffix);
	while (stat(path, &st) != 0 && time(NULL) < deadline)
		usleep(100 * 1000);
}

static void touch(const char *out, const char *suffix)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", out, suffix);
	f = fopen(path, "w");
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	int big[NBIG], idle[NIDLE1 + NIDLE2], half[NHALF];
	int nbig = 0, nbig_replied = 0, nhalf = 0, nidle = 0;
	char frame[4 + 1000], path[4096], tmp[4096];
	uint32_t be = htonl(CTL_MAX_FRAME);
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: ctl_flood SOCKET OUT\n");
		return 2;
	}
	sock_path = argv[1];
	deadline = time(NULL) + LIFETIME;
	signal(SIGPIPE, SIG_IGN);

	memcpy(frame, &be, 4);
	frame[4] = CTL_VERSION;
	frame[5] = CTL_REQ;
	memset(frame + 6, 'x', sizeof(frame) - 6);
	for (int i = 0; i < NBIG; i++) {
		big[i] = connect_sock();
		send_some(big[i], frame, sizeof(frame));
	}
	for (int i = 0; i < NIDLE1; i++)
		idle[i] = connect_sock();
	for (int i = 0; i < NHALF; i++) {
		half[i] = connect_sock();
		send_some(half[i], "\0\0", 2);
	}
	for (int i = NIDLE1; i < NIDLE1 + NIDLE2; i++)
		idle[i] = connect_sock();
	touch(argv[2], ".ready");

	wait_for(argv[2], ".check");
	for (int i = 0; i < NBIG; i++) {
		char reply[512];

		nbig += closed(big[i], reply, sizeof(reply));
		nbig_replied += strstr(reply, "frame not finished in time") != NULL;
	}
	for (int i = 0; i < NHALF; i++)
		nhalf += closed(half[i], NULL, 0);
	for (int i = 0; i < NIDLE1 + NIDLE2; i++)
		nidle += closed(idle[i], NULL, 0);
	snprintf(path, sizeof(path), "%s", argv[2]);
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "ctl_flood: '%s': %s\n", tmp, strerror(errno));
		return 2;
	}
	fprintf(f, "big %d\nbig_replied %d\nhalf %d\nidle %d\n", nbig, nbig_replied, nhalf, nidle);
	fclose(f);
	rename(tmp, path);

	wait_for(argv[2], ".done");
	return 0;
}
