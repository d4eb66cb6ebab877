/*
 * cli: the client end shared by every verb: where DATA is, how a request is
 * sent and its reply consumed, how errors and bytes are printed. A verb's
 * cmd_* function builds one request and hands it to cli_call().
 */
#include "snapfs.h"

#include "fsutil.h"
#include "progress.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_error(int rc, const char *fmt, ...)
{
	va_list ap;

	fputs("snapfs: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return errbuf_exit_code(rc);
}

void cli_put_escaped(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\')
			fputs("\\\\", f);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
}

void cli_put_hex(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(f, "%02x", (unsigned char)s[i]);
}

int cli_print_json(json_object *doc)
{
	puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
	return fflush(stdout) || ferror(stdout) ? -EIO : 0;
}

char *cli_escape(const char *s, size_t len, int hex)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	if (!f)
		abort();
	if (hex)
		cli_put_hex(f, s, len);
	else
		cli_put_escaped(f, s, len);
	fclose(f);
	return out;
}

static int frame_data(const struct ctl_msg *m, const struct cli_reply *r)
{
	uint32_t kl = 0, vl = 0;
	const char *k, *v;

	switch (m->type) {
	case CTL_ROW:
		k = ctl_get(m, "key", &kl);
		v = ctl_get(m, "value", &vl);
		if (!k || !v)
			return -EBADMSG;
		return r && r->on_row ? r->on_row(r->arg, k, kl, v, vl) : 0;
	case CTL_JSON: {
		char *text = ctl_dup(m, "json");
		json_object *o = text ? json_tokener_parse(text) : NULL;
		int rc = 0;

		free(text);
		if (!o)
			return -EBADMSG;
		if (r && r->on_json)
			rc = r->on_json(r->arg, o);
		json_object_put(o);
		return rc;
	}
	case CTL_TEXT:
		v = ctl_get(m, "text", &vl);
		if (v)
			fwrite(v, 1, vl, stdout);
		return 0;
	case CTL_PROGRESS: {
		struct progress_report pr;
		char phase[32], unit[16];

		if (cli_progress_frame(m, &pr, phase, unit))
			return -EBADMSG;
		return r && r->on_progress ? r->on_progress(r->progress_arg, &pr) : 0;
	}
	default:
		return -EBADMSG;
	}
}

/* Why no daemon answers at DATA: the exit code after printing it. */
static int unreachable(const char *data, int rc)
{
	char *sock = ctl_socket_path(data);
	struct stat st;
	int code = EXIT_NODAEMON;
	int err = stat(data, &st) ? errno : 0;

	if (err && err != EACCES)
		code = cli_error(-ENOENT, "data directory '%s': not found", data);
	else if (!err && !S_ISDIR(st.st_mode))
		code = cli_error(-ENOENT, "data directory '%s': not a directory", data);
	else if ((rc == -EACCES || rc == -EPERM || err == EACCES) && stat(sock, &st) == 0)
		cli_error(-EACCES,
			  "daemon at '%s': permission denied (the socket belongs to uid %d: run "
			  "snapfs as that user)",
			  sock, (int)st.st_uid);
	else if (rc == -EACCES || rc == -EPERM || err == EACCES)
		cli_error(-EACCES,
			  "daemon at '%s': permission denied (run snapfs as the daemon's user)",
			  sock);
	else if (rc == -ECONNREFUSED)
		cli_error(rc,
			  "daemon not reachable at '%s': no daemon listens (start it with "
			  "'snapfs serve --data %s')",
			  sock, data);
	else
		cli_error(rc, "daemon not reachable at '%s': %s", sock, strerror(-rc));
	free(sock);
	return code;
}

int cli_call(const char *data, struct ctl_msg *req, const struct cli_reply *r)
{
	struct ctl_msg m;
	int fd = ctl_connect(data), rc;
	uint64_t code = EXIT_INTERNAL;

	if (fd < 0)
		return unreachable(data, fd);
	rc = ctl_send(fd, req);
	if (rc) {
		close(fd);
		return cli_error(-ECONNREFUSED, "daemon at '%s': %s", data, strerror(-rc));
	}
	ctl_msg_init(&m, 0);
	for (;;) {
		rc = ctl_recv(fd, &m);
		if (rc) {
			cli_error(-ECONNREFUSED, "daemon at '%s': connection lost (%s)", data,
				  strerror(-rc));
			code = EXIT_NODAEMON;
			break;
		}
		if (m.type == CTL_END) {
			char *err = ctl_dup(&m, "error");

			if (ctl_getu64(&m, "code", &code))
				code = EXIT_INTERNAL;
			if (err && *err)
				fprintf(stderr, "snapfs: error: %s\n", err);
			free(err);
			break;
		}
		rc = frame_data(&m, r);
		if (rc > 0) {
			code = (uint64_t)rc; /* the callback said why */
			break;
		}
		if (rc) {
			if (rc != -ECANCELED)
				cli_error(rc, "reply from daemon: malformed frame");
			code = rc == -ECANCELED ? EXIT_OK : EXIT_INTERNAL;
			break;
		}
	}
	ctl_msg_release(&m);
	fflush(stdout);
	close(fd);
	return (int)code;
}

int cli_call_progress(const struct cli_opts *o, struct ctl_msg *req, struct cli_reply *r)
{
	struct cli_progress cp;
	int rc;

	cli_progress_init(&cp, o, o->verb->name);
	r->on_progress = cli_progress_on_frame;
	r->progress_arg = &cp;
	rc = cli_call(o->data, req, r);
	cli_progress_done(&cp);
	return rc;
}
