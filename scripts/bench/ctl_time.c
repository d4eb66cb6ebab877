/*
 * ctl_time: one request to a running snapfs daemon, timed, for
 * scripts/bench/snapshot. Times what the operation costs the daemon plus
 * one socket round trip, without the start of a `snapfs` process (the same
 * way rocksdb_checkpoint times the bare checkpoint: inside the process,
 * around the operation).
 *
 *     ctl_time DATA NAME=VALUE...      e.g. ctl_time DATA verb=snapshot.create keyspace=s1
 *
 * The fields go as they are into one CTL_REQ frame (mount/ctl_proto.c is
 * compiled in). Prints "seconds <connect to end frame>", then "json <text>"
 * for every JSON frame of the reply. Exits with the reply's code (the
 * error, if any, on stderr), or 5 if the exchange itself failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_proto.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct ctl_msg req, rep;
	char *json[64];
	size_t njson = 0;
	double t0, t1;
	int fd, rc, code = 5;

	if (argc < 3 || argc - 2 > CTL_MAX_FIELDS) {
		fprintf(stderr, "usage: ctl_time DATA NAME=VALUE... (at most %d)\n",
			CTL_MAX_FIELDS);
		return 1;
	}
	ctl_msg_init(&req, CTL_REQ);
	for (int i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq || eq == argv[i] || eq - argv[i] >= 32) {
			fprintf(stderr, "ctl_time: error: field '%s': not NAME=VALUE\n", argv[i]);
			return 1;
		}
		*eq = '\0';
		ctl_adds(&req, argv[i], eq + 1);
	}

	t0 = now_s();
	fd = ctl_connect(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "ctl_time: error: daemon of '%s': %s\n", argv[1], strerror(-fd));
		return 5;
	}
	rc = ctl_send(fd, &req);
	ctl_msg_init(&rep, 0);
	while (!rc && !(rc = ctl_recv(fd, &rep)) && rep.type != CTL_END)
		if (rep.type == CTL_JSON && njson < sizeof(json) / sizeof(json[0]))
			json[njson++] = ctl_dup(&rep, "json");
	t1 = now_s();
	close(fd);
	if (rc) {
		fprintf(stderr, "ctl_time: error: connection: %s\n", strerror(-rc));
	} else {
		char *c = ctl_dup(&rep, "code"), *err = ctl_dup(&rep, "error");

		code = c ? atoi(c) : 5;
		if (code)
			fprintf(stderr, "ctl_time: error: code %d: %s\n", code, err ? err : "");
		free(c);
		free(err);
		printf("seconds %.6f\n", t1 - t0);
		for (size_t i = 0; i < njson; i++)
			printf("json %s\n", json[i] ? json[i] : "");
	}
	for (size_t i = 0; i < njson; i++)
		free(json[i]);
	ctl_msg_release(&rep);
	return code;
}
