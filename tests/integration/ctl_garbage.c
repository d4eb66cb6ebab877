/*
 * ctl_garbage: a client that misbehaves on the control socket in every way
 * the framing allows, for tests/integration/test_store.sh.
 *
 *     ctl_garbage SOCKET ROUNDS
 *
 * Where the daemon must answer, checks the answer: the last frame of the
 * reply is an END frame with code "1" and the reason in "error". Per
 * round: lengths over the limit, wrong versions, headers and fields cut
 * short or running past the frame, an empty field name, a frame that is
 * not a request, a missing or unknown verb, a NUL byte in an argument, a
 * missing argument, a bad number; 20 connections of random bytes (the
 * daemon closes them, whatever it makes of them); a valid request followed
 * by junk (answered, then closed); a client that connects and vanishes.
 * Throughout, one client holds half a frame open; at the end 40 idle
 * connections open at once. Prints each failed check on stderr; exits 0
 * when all held, 1 otherwise, 2 on a usage or connection error.
 *
 * The frames are built by hand here, not with mount/ctl_proto.c, so that
 * the daemon's decoder is tested against an independent encoder; only the
 * protocol's constants come from ctl_proto.h. (Replaces a Python script: a
 * Debian minbase has no python3.)
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_proto.h"

#define MAX_REPLY (1u << 20)

static const char *sock_path;
static int failures;

static void failf(const char *fmt, ...)
{
	va_list ap;

	if (failures++ >= 20)
		return;
	fputs("garbage: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t rng_state = 1234;

static uint32_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return (uint32_t)(x >> 32);
}

/* ---- building frames ---- */

struct buf {
	unsigned char *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *s, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void put_u8(struct buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	put(b, &c, 1);
}

static void put_u16(struct buf *b, unsigned v)
{
	put_u8(b, v >> 8);
	put_u8(b, v);
}

static void put_u32(struct buf *b, uint32_t v)
{
	put_u16(b, v >> 16);
	put_u16(b, v & 0xffff);
}

struct field {
	const char *name;
	const char *val;
	size_t len; /* 0: strlen(val) */
};

#define F(name, val)                                                                               \
	{                                                                                          \
		(name), (val), 0                                                                   \
	}

/* body = version | type | nfields | (namelen name vallen value)* */
static void put_body(struct buf *b, unsigned ver, char type, const struct field *f, unsigned n)
{
	put_u8(b, ver);
	put_u8(b, (unsigned char)type);
	put_u16(b, n);
	for (unsigned i = 0; i < n; i++) {
		size_t len = f[i].len ? f[i].len : strlen(f[i].val);

		put_u8(b, strlen(f[i].name));
		put(b, f[i].name, strlen(f[i].name));
		put_u32(b, (uint32_t)len);
		put(b, f[i].val, len);
	}
}

static void put_frame(struct buf *b, unsigned ver, char type, const struct field *f, unsigned n)
{
	struct buf body = {0};

	put_body(&body, ver, type, f, n);
	put_u32(b, (uint32_t)body.n);
	put(b, body.p, body.n);
	free(body.p);
}

/* ---- talking ---- */

static int connect_sock(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 20};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(sock_path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "garbage: socket: %s\n", strerror(errno));
		exit(2);
	}
	strcpy(a.sun_path, sock_path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		fprintf(stderr, "garbage: connect '%s': %s\n", sock_path, strerror(errno));
		exit(2);
	}
	return fd;
}

/* Sends p, shuts the write side, reads until the daemon closes (or resets,
 * or 20 s pass: a failure). Returns what came back (*n bytes, malloc'ed). */
static unsigned char *send_and_close(const void *p, size_t len, size_t *n)
{
	unsigned char *out = malloc(MAX_REPLY);
	int fd = connect_sock();
	size_t off = 0;
	ssize_t r;

	if (!out)
		abort();
	while (off < len) {
		r = send(fd, (const char *)p + off, len - off, MSG_NOSIGNAL);
		if (r <= 0)
			break; /* EPIPE, ECONNRESET: the daemon closed first */
		off += (size_t)r;
	}
	shutdown(fd, SHUT_WR);
	*n = 0;
	while (*n < MAX_REPLY && (r = recv(fd, out + *n, MAX_REPLY - *n, 0)) > 0)
		*n += (size_t)r;
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		failf("no end of the reply after 20 s (%zu bytes sent)", len);
	close(fd);
	return out;
}

/* ---- reading replies ---- */

struct frame {
	unsigned ver;
	char type;
	const unsigned char *code, *error, *value; /* NULL when absent */
	uint32_t code_len, error_len, value_len;
};

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decodes up to max frames of p; returns how many were whole. */
static size_t parse(const unsigned char *p, size_t n, struct frame *out, size_t max)
{
	size_t got = 0;

	while (got < max && n >= 4) {
		uint32_t len = get_u32(p);
		const unsigned char *b = p + 4;
		size_t off = 4;
		struct frame *f = &out[got];

		if (len > n - 4 || len < 4)
			break;
		memset(f, 0, sizeof(*f));
		f->ver = b[0];
		f->type = (char)b[1];
		for (unsigned i = 0, nf = (unsigned)b[2] << 8 | b[3]; i < nf; i++) {
			unsigned nl;
			uint32_t vl;
			const unsigned char *name;

			if (off + 1 > len)
				return got;
			nl = b[off];
			name = b + off + 1;
			if (off + 1 + nl + 4 > len)
				return got;
			vl = get_u32(b + off + 1 + nl);
			if (off + 1 + nl + 4 + vl > len)
				return got;
			if (nl == 4 && !memcmp(name, "code", 4)) {
				f->code = b + off + 5 + nl;
				f->code_len = vl;
			} else if (nl == 5 && !memcmp(name, "error", 5)) {
				f->error = b + off + 5 + nl;
				f->error_len = vl;
			} else if (nl == 5 && !memcmp(name, "value", 5)) {
				f->value = b + off + 5 + nl;
				f->value_len = vl;
			}
			off += 1 + nl + 4 + vl;
		}
		got++;
		p += 4 + len;
		n -= 4 + len;
	}
	return got;
}

static int field_is(const unsigned char *v, uint32_t len, const char *want)
{
	return v && len == strlen(want) && !memcmp(v, want, len);
}

static int field_has(const unsigned char *v, uint32_t len, const char *want)
{
	size_t w = strlen(want);

	for (uint32_t i = 0; v && i + w <= len; i++)
		if (!memcmp(v + i, want, w))
			return 1;
	return 0;
}

/* Sends payload; the reply must end with END, code 1, reason in error. */
static void expect_end(const char *what, const struct buf *payload, const char *reason)
{
	struct frame f[16];
	size_t n, nf;
	unsigned char *r = send_and_close(payload->p, payload->n, &n);

	nf = parse(r, n, f, 16);
	if (nf == 0 || f[nf - 1].type != CTL_END)
		failf("%s: no END frame in the reply (%zu bytes)", what, n);
	else if (!field_is(f[nf - 1].code, f[nf - 1].code_len, "1") ||
		 !field_has(f[nf - 1].error, f[nf - 1].error_len, reason))
		failf("%s: reply code '%.*s' error '%.*s', want code 1 and '%s'", what,
		      (int)f[nf - 1].code_len, f[nf - 1].code ? (const char *)f[nf - 1].code : "",
		      (int)f[nf - 1].error_len,
		      f[nf - 1].error ? (const char *)f[nf - 1].error : "", reason);
	free(r);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A frame of the given fields, expected refused with reason. */
static void expect_frame(const char *what, unsigned ver, char type, const struct field *f,
			 unsigned n, const char *reason)
{
	struct buf b = {0};

	put_frame(&b, ver, type, f, n);
	expect_end(what, &b, reason);
	free(b.p);
}

/* Raw bytes: a length then the bytes given. */
static void expect_raw(const char *what, uint32_t len, const void *p, size_t n, const char *reason)
{
	struct buf b = {0};

	put_u32(&b, len);
	put(&b, p, n);
	expect_end(what, &b, reason);
	free(b.p);
}

static const struct field get_req[] = {F("verb", "get"), F("table", "demo.kv"), F("key", "alpha")};

static void one_round(void)
{
	const unsigned char hdr_q[] = {1, CTL_REQ};
	const unsigned char many_fields[] = {1, CTL_REQ, 0xff, 0xff};
	const unsigned char past_frame[] = {1, CTL_REQ, 0, 1, 4, 'v', 'e', 'r', 'b', 0xff, 0xff};
	const unsigned char vlen_past[] = {1, CTL_REQ, 0, 1, 4, 'v', 'e', 'r', 'b', 0, 0, 3, 0xe8};
	struct buf b = {0};

	expect_raw("oversized length", 0xffffffffu, "xx", 2, "frame too large");
	expect_raw("length just over the limit", CTL_MAX_FRAME + 1, "", 0, "frame too large");
	expect_frame("wrong version", CTL_VERSION + 1, CTL_REQ, get_req, N(get_req),
		     "unsupported protocol version");
	expect_frame("version 0", 0, CTL_REQ, get_req, N(get_req), "unsupported protocol version");
	expect_raw("length below a header", 2, hdr_q, sizeof(hdr_q), "malformed frame");
	expect_raw("too many fields", 4, many_fields, sizeof(many_fields), "malformed frame");
	expect_raw("field past the frame", 12, past_frame, sizeof(past_frame), "malformed frame");
	expect_raw("value length past the frame", 13, vlen_past, sizeof(vlen_past),
		   "malformed frame");
	/* a frame announcing 1000 bytes that sends fewer, then closes */
	put_body(&b, CTL_VERSION, CTL_REQ, get_req, N(get_req));
	expect_raw("truncated frame", 1000, b.p, b.n, "malformed frame");
	free(b.p);
	b = (struct buf){0};
	expect_frame("empty field name", CTL_VERSION, CTL_REQ, (struct field[]){F("", "x")}, 1,
		     "malformed frame");
	expect_frame("not a request", CTL_VERSION, CTL_ROW, get_req, N(get_req),
		     "not a request frame");
	expect_frame("no verb", CTL_VERSION, CTL_REQ, (struct field[]){F("table", "demo.kv")}, 1,
		     "'verb' missing");
	expect_frame("unknown verb", CTL_VERSION, CTL_REQ, (struct field[]){F("verb", "rm -rf /")},
		     1, "verb 'rm -rf /' unknown");
	expect_frame("NUL in an argument", CTL_VERSION, CTL_REQ,
		     (struct field[]){{"verb", "get\0x", 5}}, 1, "NUL byte");
	expect_frame("get without key", CTL_VERSION, CTL_REQ,
		     (struct field[]){F("verb", "get"), F("table", "demo.kv")}, 2, "'key' missing");
	expect_frame("bad number", CTL_VERSION, CTL_REQ,
		     (struct field[]){F("verb", "scan"), F("table", "demo.kv"), F("limit", "12x")},
		     3, "not a number");

	/* random bytes of random sizes: the daemon closes, whatever it makes
	 * of them (send_and_close fails the check if it does not in 20 s) */
	for (int i = 0; i < 20; i++) {
		size_t len = 1 + rng() % 4999, n;
		unsigned char *p = malloc(len), *r;

		if (!p)
			abort();
		for (size_t j = 0; j < len; j++)
			p[j] = (unsigned char)rng();
		r = send_and_close(p, len, &n);
		free(r);
		free(p);
	}

	/* a valid request followed by junk on the same connection: the
	 * request is answered, then the junk closes the connection */
	put_frame(&b, CTL_VERSION, CTL_REQ, get_req, N(get_req));
	for (int i = 0; i < 64; i++)
		put_u8(&b, rng());
	{
		struct frame f[16];
		size_t n, nf;
		unsigned char *r = send_and_close(b.p, b.n, &n);

		nf = parse(r, n, f, 16);
		if (nf == 0 || f[0].type != CTL_ROW || !field_is(f[0].value, f[0].value_len, "1"))
			failf("valid request before junk: %zu frames, the first '%c', want a row "
			      "with value '1'",
			      nf, nf ? f[0].type : '-');
		free(r);
	}
	free(b.p);

	/* a client that connects and vanishes */
	close(connect_sock());
}

int main(int argc, char **argv)
{
	struct buf half = {0};
	int stalled, idle[40], rounds;

	if (argc != 3 || (rounds = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: ctl_garbage SOCKET ROUNDS\n");
		return 2;
	}
	sock_path = argv[1];
	signal(SIGPIPE, SIG_IGN);

	/* a stalled client: half a frame, held open while everything else
	 * happens */
	stalled = connect_sock();
	put_u32(&half, 100);
	put_u8(&half, CTL_VERSION);
	put_u8(&half, CTL_REQ);
	if (send(stalled, half.p, half.n, MSG_NOSIGNAL) != (ssize_t)half.n)
		failf("the stalled client could not send its half frame: %s", strerror(errno));
	free(half.p);

	for (int r = 0; r < rounds; r++)
		one_round();

	/* many idle connections at once (the daemon keeps 256 open) */
	for (size_t i = 0; i < N(idle); i++)
		idle[i] = connect_sock();
	usleep(200 * 1000);
	for (size_t i = 0; i < N(idle); i++)
		close(idle[i]);
	close(stalled);
	if (failures > 20)
		fprintf(stderr, "garbage: ... %d failed checks in all\n", failures);
	return failures ? 1 : 0;
}
