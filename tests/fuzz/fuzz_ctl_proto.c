/*
 * fuzz_ctl_proto: the control protocol's receiving side
 * (mount/ctl_proto.c), what the daemon runs on every byte a client sends.
 *
 * Input, two ways:
 *   1. the whole input as one frame body: ctl_decode, then every accessor
 *      the handlers use (ctl_get, ctl_dup, ctl_getu64) on every field;
 *   2. the input as a byte stream, cut into pieces whose sizes come from
 *      the input itself, through the incremental reader (ctl_reader_space /
 *      ctl_reader_advance) as the daemon's poller does, decoding frame
 *      after frame until an error or the end.
 * Properties beyond "no crash, no UB, no leak": a decoded field lies inside
 * the frame; the reader never asks for bytes past the frame it is in, and
 * its buffer never exceeds twice what has arrived (or CTL_READ_CHUNK), so
 * an announced length costs nothing until it is sent.
 */
#include "fuzz.h"

#include "ctl_proto.h"

#include <errno.h>

static void use_fields(const struct ctl_msg *m, const char *buf, uint32_t total)
{
	for (unsigned i = 0; i < m->n; i++) {
		uint32_t len = 0;
		const char *v = ctl_get(m, m->f[i].name, &len);
		char *dup = ctl_dup(m, m->f[i].name);
		uint64_t u;

		FUZZ_CHECK(v && dup);
		FUZZ_CHECK(v >= buf && len <= total && v + len <= buf + total);
		FUZZ_CHECK(!memcmp(dup, v, len) && dup[len] == '\0');
		(void)ctl_getu64(m, m->f[i].name, &u);
		free(dup);
	}
}

static void decode_whole(const uint8_t *data, size_t size)
{
	struct ctl_msg m;
	char *buf;
	int rc;

	if (size > CTL_MAX_FRAME)
		return;
	buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	ctl_msg_init(&m, 0);
	rc = ctl_decode(buf, (uint32_t)size, &m);
	if (rc == 0)
		use_fields(&m, buf, (uint32_t)size);
	else
		FUZZ_CHECK(rc == -EBADMSG || rc == -EPROTO);
	ctl_msg_release(&m);
}

static void stream(const uint8_t *data, size_t size)
{
	struct ctl_reader r;
	struct ctl_msg m;
	size_t off = 0, step = size ? (size_t)data[0] % 7 + 1 : 1;

	ctl_reader_init(&r);
	ctl_msg_init(&m, 0);
	while (off < size) {
		char *p;
		size_t room, n;
		uint32_t total;
		int rc;

		ctl_reader_space(&r, &p, &room);
		FUZZ_CHECK(room > 0);
		if (r.got >= 4) {
			FUZZ_CHECK(r.got - 4 + room <= r.total);
			FUZZ_CHECK(r.cap <= CTL_READ_CHUNK || r.cap <= 2 * (r.got - 4));
		}
		/* pieces of 1..7 bytes, or up to 4 KiB, as the input says */
		n = data[off] & 0x80 ? step : (size_t)data[off] * 16 + 1;
		if (n > room)
			n = room;
		if (n > size - off)
			n = size - off;
		memcpy(p, data + off, n);
		off += n;
		total = r.total; /* set by the piece that completed the length */
		rc = ctl_reader_advance(&r, n, &m);
		if (rc == -EAGAIN)
			continue;
		if (rc) {
			FUZZ_CHECK(rc == -EBADMSG || rc == -EPROTO || rc == -EMSGSIZE);
			break;
		}
		use_fields(&m, m.buf, total);
	}
	ctl_msg_release(&m);
	ctl_reader_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_whole(data, size);
	stream(data, size);
	return 0;
}
