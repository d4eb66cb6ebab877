/*
 * notify: readiness for systemd (snapfs@.service is Type=notify). With
 * libsystemd at build time (Debian's libsystemd-dev, in scripts/lib/deps.sh)
 * this is sd_notify(3). Without it, the same protocol by hand: one datagram
 * "STATE" to the AF_UNIX socket named by $NOTIFY_SOCKET ('@' first: the
 * abstract namespace). Without $NOTIFY_SOCKET (not under systemd) both do
 * nothing. Errors are ignored: the daemon serves either way, and systemd
 * times the start out if READY=1 never arrives.
 */
#include "snapfs.h"

#ifdef SNAPFS_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

void daemon_sd_notify(const char *state)
{
	sd_notify(0, state);
}
#else
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void daemon_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0) {
		/* systemd will time the start out: nothing better to do */
	}
	close(fd);
}
#endif
