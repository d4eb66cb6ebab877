/*
 * test_ctl_proto: decoding of control-protocol frames (mount/ctl_proto.h),
 * fed as raw bytes through a socketpair: a round trip, and every malformed
 * frame refused (wrong version, too many fields, a field running past the
 * frame, an empty or over-long name, trailing bytes, an oversized length,
 * a frame cut short) while a clean end of stream is -EPIPE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl_proto.h"

/* Writes a frame of body bytes (its length prefixed, or len_override). */
static int recv_raw(const void *body, uint32_t len, int64_t len_override, int close_after)
{
	struct ctl_msg m;
	uint32_t be = htonl(len_override >= 0 ? (uint32_t)len_override : len);
	int sv[2], rc;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], &be, 4), 4);
	if (len)
		assert_int_equal(write(sv[0], body, len), (ssize_t)len);
	if (close_after)
		close(sv[0]);
	ctl_msg_init(&m, 0);
	rc = ctl_recv(sv[1], &m);
	ctl_msg_release(&m);
	if (!close_after)
		close(sv[0]);
	close(sv[1]);
	return rc;
}

static void test_round_trip(void **state)
{
	struct ctl_msg m, r;
	int sv[2];
	uint64_t v;
	uint32_t len;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ctl_msg_init(&m, CTL_REQ);
	ctl_adds(&m, "verb", "put");
	ctl_add(&m, "key", "a\0b", 3);
	ctl_adds(&m, "n", "42");
	ctl_add(&m, "empty", "", 0);
	assert_int_equal(ctl_send(sv[0], &m), 0);
	ctl_msg_init(&r, 0);
	assert_int_equal(ctl_recv(sv[1], &r), 0);
	assert_int_equal(r.type, CTL_REQ);
	assert_int_equal(r.n, 4);
	assert_memory_equal(ctl_get(&r, "key", &len), "a\0b", 3);
	assert_int_equal(len, 3);
	assert_int_equal(ctl_getu64(&r, "n", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(ctl_getu64(&r, "verb", &v), -EINVAL);
	assert_int_equal(ctl_getu64(&r, "absent", &v), -ENOENT);
	assert_non_null(ctl_get(&r, "empty", &len));
	assert_int_equal(len, 0);
	ctl_msg_release(&r);
	/* the peer closes between frames: a clean end */
	close(sv[0]);
	assert_int_equal(ctl_recv(sv[1], &r), -EPIPE);
	ctl_msg_release(&r);
	close(sv[1]);
}

static void test_malformed(void **state)
{
	/* version, type, nfields (u16 BE), then fields */
	const unsigned char ok[] = {CTL_VERSION, 'Q', 0, 1, 1, 'k', 0, 0, 0, 1, 'v'};
	unsigned char b[64];

	(void)state;
	assert_int_equal(recv_raw(ok, sizeof(ok), -1, 0), 0);
	memcpy(b, ok, sizeof(ok));
	b[0] = CTL_VERSION + 1;
	assert_int_equal(recv_raw(b, sizeof(ok), -1, 0), -EPROTO);
	memcpy(b, ok, sizeof(ok));
	b[3] = CTL_MAX_FIELDS + 1; /* more fields than allowed */
	assert_int_equal(recv_raw(b, sizeof(ok), -1, 0), -EBADMSG);
	memcpy(b, ok, sizeof(ok));
	b[3] = 2; /* a second field that is not there */
	assert_int_equal(recv_raw(b, sizeof(ok), -1, 0), -EBADMSG);
	memcpy(b, ok, sizeof(ok));
	b[9] = 9; /* the value runs past the frame */
	assert_int_equal(recv_raw(b, sizeof(ok), -1, 0), -EBADMSG);
	memcpy(b, ok, sizeof(ok));
	b[4] = 0; /* an empty name */
	assert_int_equal(recv_raw(b, sizeof(ok), -1, 0), -EBADMSG);
	memcpy(b, ok, sizeof(ok));
	b[4] = 40; /* a name longer than names may be */
	assert_int_equal(recv_raw(b, sizeof(ok), -1, 0), -EBADMSG);
	memcpy(b, ok, sizeof(ok));
	b[sizeof(ok)] = 'x'; /* a byte after the last field */
	assert_int_equal(recv_raw(b, sizeof(ok) + 1, -1, 0), -EBADMSG);
	/* a frame shorter than its header, and one over the limit */
	assert_int_equal(recv_raw(ok, 3, -1, 0), -EBADMSG);
	assert_int_equal(recv_raw(ok, 0, (int64_t)CTL_MAX_FRAME + 1, 0), -EMSGSIZE);
	/* announced longer than what comes before the peer closes */
	assert_int_equal(recv_raw(ok, sizeof(ok), sizeof(ok) + 10, 1), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
