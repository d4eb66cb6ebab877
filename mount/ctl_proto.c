/*
 * ctl_proto: framing of the control protocol (see ctl_proto.h). Everything
 * read from a socket is untrusted: lengths are checked against the frame
 * before use, and one bad frame costs only its own connection.
 *
 * Receiving is split in two. The reader (ctl_reader_*) only cuts the
 * stream into frames: it takes the bytes that arrive, in any pieces, and
 * its buffer grows with them (CTL_READ_CHUNK first, then doubling up to the
 * announced length), so a peer that announces 16 MiB and sends 10 bytes
 * costs 4 KiB, not 16 MiB. The decoder (ctl_decode) is a pure function of
 * one whole frame's bytes: the fuzz target tests/fuzz/fuzz_ctl_proto.c
 * drives both through the same entry points as the daemon.
 */
#include "ctl_proto.h"

#include "fsutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void ctl_msg_init(struct ctl_msg *m, uint8_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
}

void ctl_msg_release(struct ctl_msg *m)
{
	free(m->buf);
	m->buf = NULL;
	m->n = 0;
}

int ctl_add(struct ctl_msg *m, const char *name, const void *val, size_t len)
{
	size_t nl = strlen(name);

	if (m->n >= CTL_MAX_FIELDS || nl >= sizeof(m->f[0].name) || len > CTL_MAX_FRAME)
		return -E2BIG;
	memcpy(m->f[m->n].name, name, nl + 1);
	m->f[m->n].val = val;
	m->f[m->n].len = (uint32_t)len;
	m->n++;
	return 0;
}

int ctl_adds(struct ctl_msg *m, const char *name, const char *s)
{
	return ctl_add(m, name, s, strlen(s));
}

const char *ctl_get(const struct ctl_msg *m, const char *name, uint32_t *len)
{
	for (unsigned i = 0; i < m->n; i++) {
		if (strcmp(m->f[i].name, name))
			continue;
		if (len)
			*len = m->f[i].len;
		return m->f[i].val;
	}
	return NULL;
}

char *ctl_dup(const struct ctl_msg *m, const char *name)
{
	uint32_t len;
	const char *v = ctl_get(m, name, &len);
	char *s;

	if (!v)
		return NULL;
	s = xmalloc(len + 1);
	memcpy(s, v, len);
	s[len] = '\0';
	return s;
}

int ctl_getu64(const struct ctl_msg *m, const char *name, uint64_t *v)
{
	uint32_t len;
	const char *p = ctl_get(m, name, &len);
	uint64_t x = 0;

	if (!p)
		return -ENOENT;
	if (len == 0 || len > 20)
		return -EINVAL;
	for (uint32_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		if (x > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return -EINVAL;
		x = x * 10 + (uint64_t)(p[i] - '0');
	}
	*v = x;
	return 0;
}

static int send_full(int fd, void *buf, size_t len, int flags)
{
	char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | flags);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ctl_send(int fd, const struct ctl_msg *m)
{
	return ctl_send_flags(fd, m, 0);
}

int ctl_send_flags(int fd, const struct ctl_msg *m, int flags)
{
	size_t total = 4;
	char *buf, *p;
	uint32_t be;
	int rc;

	for (unsigned i = 0; i < m->n; i++)
		total += 1 + strlen(m->f[i].name) + 4 + m->f[i].len;
	if (total > CTL_MAX_FRAME)
		return -EMSGSIZE;
	buf = xmalloc(4 + total);
	p = buf;
	be = htonl((uint32_t)total);
	memcpy(p, &be, 4);
	p += 4;
	*p++ = CTL_VERSION;
	*p++ = (char)m->type;
	*p++ = (char)(m->n >> 8);
	*p++ = (char)(m->n & 0xff);
	for (unsigned i = 0; i < m->n; i++) {
		size_t nl = strlen(m->f[i].name);

		*p++ = (char)nl;
		memcpy(p, m->f[i].name, nl);
		p += nl;
		be = htonl(m->f[i].len);
		memcpy(p, &be, 4);
		p += 4;
		if (m->f[i].len)
			memcpy(p, m->f[i].val, m->f[i].len);
		p += m->f[i].len;
	}
	rc = send_full(fd, buf, 4 + total, flags);
	free(buf);
	return rc;
}

int ctl_decode(char *buf, uint32_t total, struct ctl_msg *m)
{
	uint32_t be, off;
	unsigned n;

	ctl_msg_release(m);
	m->buf = buf;
	if (total < 4)
		return -EBADMSG;
	if ((uint8_t)buf[0] != CTL_VERSION)
		return -EPROTO;
	m->type = (uint8_t)buf[1];
	n = (unsigned)((uint8_t)buf[2] << 8 | (uint8_t)buf[3]);
	if (n > CTL_MAX_FIELDS)
		return -EBADMSG;
	off = 4;
	for (unsigned i = 0; i < n; i++) {
		uint8_t nl;
		uint32_t vl;

		if (total - off < 1)
			return -EBADMSG;
		nl = (uint8_t)buf[off++];
		if (nl == 0 || nl >= sizeof(m->f[0].name) || total - off < (uint32_t)nl + 4)
			return -EBADMSG;
		memcpy(m->f[i].name, buf + off, nl);
		m->f[i].name[nl] = '\0';
		if (memchr(m->f[i].name, '\0', nl))
			return -EBADMSG; /* a name with a NUL would shadow another */
		off += nl;
		memcpy(&be, buf + off, 4);
		off += 4;
		vl = ntohl(be);
		if (vl > total - off)
			return -EBADMSG;
		m->f[i].val = buf + off;
		m->f[i].len = vl;
		off += vl;
	}
	if (off != total)
		return -EBADMSG;
	m->n = n;
	return 0;
}

/* ---- the incremental reader ---- */

void ctl_reader_init(struct ctl_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void ctl_reader_release(struct ctl_reader *r)
{
	free(r->buf);
	ctl_reader_init(r);
}

void ctl_reader_space(struct ctl_reader *r, char **p, size_t *len)
{
	if (r->got < 4) {
		*p = r->hdr + r->got;
		*len = 4 - r->got;
		return;
	}
	if (r->got - 4 == r->cap) {
		/* full: grow with what arrived, never to more than announced */
		uint32_t want = r->total - r->cap < r->cap ? r->total : r->cap * 2;

		r->buf = xrealloc(r->buf, want);
		r->cap = want;
	}
	*p = r->buf + (r->got - 4);
	*len = r->cap - (r->got - 4);
}

int ctl_reader_advance(struct ctl_reader *r, size_t n, struct ctl_msg *m)
{
	char *buf;
	uint32_t total;

	r->got += (uint32_t)n;
	if (r->got < 4)
		return -EAGAIN;
	if (r->got == 4 && n) {
		uint32_t be;

		memcpy(&be, r->hdr, 4);
		r->total = ntohl(be);
		if (r->total > CTL_MAX_FRAME)
			return -EMSGSIZE;
		if (r->total < 4)
			return -EBADMSG;
		r->cap = r->total < CTL_READ_CHUNK ? r->total : CTL_READ_CHUNK;
		r->buf = xmalloc(r->cap);
	}
	if (r->got - 4 < r->total)
		return -EAGAIN;
	buf = r->buf;
	total = r->total;
	r->buf = NULL;
	ctl_reader_init(r);
	return ctl_decode(buf, total, m);
}

int ctl_reader_read(struct ctl_reader *r, int fd, int flags, struct ctl_msg *m)
{
	for (;;) {
		char *p;
		size_t len;
		ssize_t n;
		int rc;

		ctl_reader_space(r, &p, &len);
		n = recv(fd, p, len, flags);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if (n == 0)
			return r->got ? -EBADMSG : -EPIPE;
		rc = ctl_reader_advance(r, (size_t)n, m);
		if (rc != -EAGAIN)
			return rc;
	}
}

int ctl_recv(int fd, struct ctl_msg *m)
{
	struct ctl_reader r;
	int rc;

	ctl_msg_release(m);
	ctl_reader_init(&r);
	rc = ctl_reader_read(&r, fd, 0, m);
	ctl_reader_release(&r);
	return rc;
}

char *ctl_socket_path(const char *data)
{
	return fs_path("%s/snapfs.sock", data);
}

int ctl_connect(const char *data)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *path = ctl_socket_path(data);
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		free(path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	free(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = errno == ENOENT || errno == ECONNREFUSED ? -ECONNREFUSED : -errno;
		close(fd);
		return rc;
	}
	return fd;
}
