/*
 * cli: the client end shared by every verb: where DATA is, how a request is
 * sent and its reply consumed, how errors and bytes are printed. A verb's
 * cmd_* function builds one request and hands it to cli_call().
 */
#include "snapfs.h"

#include "fsutil.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *cli_data_dir(const char *opt)
{
	const char *d = opt ? opt : getenv("SNAPFS_DATA");
	char cwd[PATH_MAX];

	if (!d || !*d)
		d = "snapfs-data";
	if (d[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return xstrdup(d);
	return fs_path("%s/%s", cwd, d);
}

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

int cli_print_json_lines(json_object *arr)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		puts(json_object_to_json_string_ext(json_object_array_get_idx(arr, i),
						    JSON_C_TO_STRING_PLAIN));
	return 0;
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
		uint64_t done = 0, total = 0;

		ctl_getu64(m, "done", &done);
		ctl_getu64(m, "total", &total);
		return r && r->on_progress ? r->on_progress(r->arg, done, total) : 0;
	}
	default:
		return -EBADMSG;
	}
}

int cli_call(const char *data, struct ctl_msg *req, const struct cli_reply *r)
{
	struct ctl_msg m;
	int fd = ctl_connect(data), rc;
	uint64_t code = EXIT_INTERNAL;

	if (fd < 0) {
		char *sock = ctl_socket_path(data);

		rc = cli_error(
		    fd, "daemon not reachable at '%s': %s (start it with 'snapfs serve --data %s')",
		    sock, fd == -ECONNREFUSED ? "no daemon listens" : strerror(-fd), data);
		free(sock);
		return fd == -ECONNREFUSED ? EXIT_NODAEMON : rc;
	}
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

enum {
	O_DATA = 1000,
	O_MOUNT,
	O_FG,
	O_JSON,
	O_ALLOW_OTHER,
	O_AT,
	O_SNAPSHOT,
	O_PREFIX,
	O_LIMIT,
	O_HEX,
	O_ROWS,
	O_VALUE_SIZE,
	O_SEED,
	O_TABLETS,
	O_TABLE,
	O_AS,
	O_INTERVAL,
	O_RETENTION,
	O_TO,
};

static const struct option all_opts[] = {
    {"data", required_argument, NULL, O_DATA},
    {"mount", required_argument, NULL, O_MOUNT},
    {"foreground", no_argument, NULL, O_FG},
    {"json", no_argument, NULL, O_JSON},
    {"allow-other", no_argument, NULL, O_ALLOW_OTHER},
    {"at", required_argument, NULL, O_AT},
    {"snapshot", required_argument, NULL, O_SNAPSHOT},
    {"prefix", required_argument, NULL, O_PREFIX},
    {"limit", required_argument, NULL, O_LIMIT},
    {"hex", no_argument, NULL, O_HEX},
    {"rows", required_argument, NULL, O_ROWS},
    {"value-size", required_argument, NULL, O_VALUE_SIZE},
    {"seed", required_argument, NULL, O_SEED},
    {"tablets", required_argument, NULL, O_TABLETS},
    {"table", required_argument, NULL, O_TABLE},
    {"as", required_argument, NULL, O_AS},
    {"interval", required_argument, NULL, O_INTERVAL},
    {"retention", required_argument, NULL, O_RETENTION},
    {"to", required_argument, NULL, O_TO},
    {NULL, 0, NULL, 0},
};

static int allowed_opt(const char *allowed, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = allowed; (p = strstr(p, name)); p += n)
		if ((p == allowed || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

static int parse_number(const char *verb, const char *flag, const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	if (!s || !*s || *s == '-')
		goto bad;
	*v = strtoull(s, &end, 10);
	if (errno || *end)
		goto bad;
	return 0;
bad:
	return cli_error(-EINVAL, "%s: --%s '%s': not a number", verb, flag, s ? s : "");
}

int cli_parse(int argc, char **argv, const char *allowed, int min, int max, struct cli_opts *o)
{
	const char *data = NULL;
	int c, rc = 0;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", all_opts, NULL)) != -1) {
		const struct option *opt = c >= O_DATA && c <= O_TO ? &all_opts[c - O_DATA] : NULL;

		if (!opt || !allowed_opt(allowed, opt->name))
			return cli_error(-EINVAL, "%s: option '%s' unknown or missing its value",
					 argv[0], argv[optind - 1]);
		switch (c) {
		case O_DATA:
			data = optarg;
			break;
		case O_MOUNT:
			o->mount = optarg;
			break;
		case O_FG:
			o->foreground = 1;
			break;
		case O_JSON:
			o->json = 1;
			break;
		case O_ALLOW_OTHER:
			o->allow_other = 1;
			break;
		case O_AT:
			o->at = optarg;
			break;
		case O_SNAPSHOT:
			o->snapshot = optarg;
			break;
		case O_PREFIX:
			o->prefix = optarg;
			break;
		case O_HEX:
			o->hex = 1;
			break;
		case O_TABLE:
			o->table = optarg;
			break;
		case O_AS:
			o->as = optarg;
			break;
		case O_INTERVAL:
			o->interval = optarg;
			break;
		case O_RETENTION:
			o->retention = optarg;
			break;
		case O_TO:
			o->to = optarg;
			break;
		case O_LIMIT:
			rc = parse_number(argv[0], "limit", optarg, &o->limit);
			break;
		case O_ROWS:
			rc = parse_number(argv[0], "rows", optarg, &o->rows);
			break;
		case O_SEED:
			rc = parse_number(argv[0], "seed", optarg, &o->seed);
			break;
		case O_TABLETS:
			rc = parse_number(argv[0], "tablets", optarg, &o->tablets);
			break;
		case O_VALUE_SIZE:
			rc = parse_number(argv[0], "value-size", optarg, &o->value_size);
			break;
		}
		if (rc)
			return rc;
	}
	o->npos = argc - optind;
	o->pos = argv + optind;
	if (o->npos < min || o->npos > max) {
		if (o->npos > max)
			return cli_error(-EINVAL, "%s: unexpected argument '%s'", argv[0],
					 o->pos[max]);
		return cli_error(-EINVAL, "%s: missing argument (see 'snapfs help')", argv[0]);
	}
	if (o->at && o->snapshot)
		return cli_error(-EINVAL, "%s: --at and --snapshot exclude each other", argv[0]);
	o->data = cli_data_dir(data);
	return 0;
}

void cli_opts_release(struct cli_opts *o)
{
	free(o->data);
	o->data = NULL;
}
