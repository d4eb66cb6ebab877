/*
 * ctl_proto: the control protocol between `snapfs` clients and `serve`,
 * both ends. Versioned and length-prefixed:
 *
 *   frame   = u32 length (big endian, of what follows) | body
 *   body    = u8 version (CTL_VERSION) | u8 type | u16 nfields | field*
 *   field   = u8 namelen | name | u32 vallen | value bytes
 *
 * A request is one frame of type CTL_REQ whose field "verb" names the
 * operation; the other fields are its named arguments. The reply is zero
 * or more frames of data (CTL_ROW: key, value; CTL_JSON: one JSON text;
 * CTL_TEXT: a line for stdout; CTL_PROGRESS: done, total) and always ends
 * with one CTL_END frame carrying "code" (the exit code) and, on error,
 * "error" (the message). Frames over CTL_MAX_FRAME are refused.
 */
#ifndef SNAPFS_CTL_PROTO_H
#define SNAPFS_CTL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define CTL_VERSION 1
#define CTL_MAX_FRAME ((16u << 20) + (64u << 10)) /* a 16 MiB value + its key */
#define CTL_MAX_FIELDS 32

enum ctl_type {
	CTL_REQ = 'Q',
	CTL_ROW = 'R',
	CTL_JSON = 'J',
	CTL_TEXT = 'T',
	CTL_PROGRESS = 'P',
	CTL_END = 'E',
};

struct ctl_field {
	char name[32];
	const char *val; /* points into the message's buffer or the caller's */
	uint32_t len;
};

struct ctl_msg {
	uint8_t type;
	unsigned n;
	struct ctl_field f[CTL_MAX_FIELDS];
	char *buf; /* owned: the received frame */
};

void ctl_msg_init(struct ctl_msg *m, uint8_t type);
void ctl_msg_release(struct ctl_msg *m);

/* Adds a field (the value is borrowed until send). -E2BIG when full. */
int ctl_add(struct ctl_msg *m, const char *name, const void *val, size_t len);
int ctl_adds(struct ctl_msg *m, const char *name, const char *s);

/* The value of field name (NULL if absent); *len its length. */
const char *ctl_get(const struct ctl_msg *m, const char *name, uint32_t *len);
/* A NUL-terminated malloc'ed copy, or NULL if absent. */
char *ctl_dup(const struct ctl_msg *m, const char *name);
/* Field as an unsigned number: 0 ok, -ENOENT absent, -EINVAL not a number. */
int ctl_getu64(const struct ctl_msg *m, const char *name, uint64_t *v);

int ctl_send(int fd, const struct ctl_msg *m);
/* The same with send() flags added (MSG_DONTWAIT: never block; -EAGAIN). */
int ctl_send_flags(int fd, const struct ctl_msg *m, int flags);
/* Receives one frame, blocking: 0, -EPIPE on a clean end of stream,
 * -EBADMSG on a malformed or cut-off frame (bad field lengths), -EPROTO on
 * another version, -EMSGSIZE oversized, or a read's -errno. */
int ctl_recv(int fd, struct ctl_msg *m);

/* Decodes one frame's body (what follows the length) of total bytes. m
 * takes buf (malloc'ed) in every case and frees it in ctl_msg_release.
 * 0, -EBADMSG, or -EPROTO. Pure: no I/O. */
int ctl_decode(char *buf, uint32_t total, struct ctl_msg *m);

/* An incremental frame reader, for a daemon that must not block on a peer
 * and must not trust an announced length: the buffer grows with the bytes
 * that arrive, never past the announced length. */
#define CTL_READ_CHUNK 4096u
struct ctl_reader {
	char hdr[4];
	uint32_t got;	/* bytes of the current frame in, length included */
	uint32_t total; /* the body length announced (once got >= 4) */
	uint32_t cap;	/* bytes allocated at buf */
	char *buf;	/* the body so far */
};

void ctl_reader_init(struct ctl_reader *r);
void ctl_reader_release(struct ctl_reader *r);
/* Where the next bytes go, and at most how many (never past this frame). */
void ctl_reader_space(struct ctl_reader *r, char **p, size_t *len);
/* n bytes were written there: 0 with a whole frame decoded into m (the
 * reader is then empty again), -EAGAIN for more, or the frame's error
 * (-EMSGSIZE, -EBADMSG, -EPROTO; the connection is then unusable). */
int ctl_reader_advance(struct ctl_reader *r, size_t n, struct ctl_msg *m);
/* A frame has started arriving (a byte of it is in). */
static inline int ctl_reader_started(const struct ctl_reader *r)
{
	return r->got > 0;
}
/* recv()s from fd with flags (MSG_DONTWAIT: what is there) until a frame is
 * whole: as ctl_reader_advance, or -EAGAIN (nothing more yet), -EPIPE (end
 * of stream between frames), -EBADMSG (end of stream inside one), -errno. */
int ctl_reader_read(struct ctl_reader *r, int fd, int flags, struct ctl_msg *m);

/* Path of the control socket of DATA (malloc'ed). */
char *ctl_socket_path(const char *data);

/* Connects to DATA's daemon: fd, or -ECONNREFUSED when none listens. */
int ctl_connect(const char *data);

#endif
