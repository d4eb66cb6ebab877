/*
 * cli_parse: the command line, read against the verb table (cli.h).
 *
 *   snapfs [GLOBAL...] VERB [SUBVERB] [OPTION | ARG]... [-- ARG...]
 *
 * Global options (cli_global_opts) may come before the verb; --data may
 * also come after it, among the verb's own options. After the verb, words
 * starting with "--" are options ("--name VALUE" or "--name=VALUE"), "-h"
 * is --help, "--" ends the options, "-" alone is an argument, and any
 * other word starting with '-' is refused (an argument that starts with
 * '-' goes after "--"). An option's value is taken whole, so "--to -5m"
 * works. Options must be spelled out (no abbreviations), a repeated option
 * keeps its last value, and --help anywhere before "--" shows the verb's
 * help and nothing else runs.
 *
 * Every value is checked here, before anything is sent: numbers with
 * parse_number (plain digits, the option's bounds), times with
 * hlc_parse_time, durations with hlc_parse_duration, and no value but a
 * plain string may be empty. Each error names the verb and the option, or
 * the missing argument, and exits 1.
 */
#include "snapfs.h"

#include "fsutil.h"
#include "parse.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

const struct cli_option cli_global_opts[] = {
    CLI_OPT_STR("data", CLI_DIR, "DIR", data_opt, 0,
		"the data directory (default: $SNAPFS_DATA, then ./snapfs-data)"),
    CLI_OPT_FLAG("help", help, "show the help of snapfs or of the verb, and exit"),
    {.name = "version", .type = CLI_FLAG, .help = "show the version, and exit"},
    CLI_OPT_END,
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("snapfs: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

/* ---- verbs ---- */

/* 1 if name's first word is word (and name has a second word). */
static int in_group(const char *name, const char *word)
{
	size_t n = strlen(word);

	return !strncmp(name, word, n) && name[n] == ' ';
}

const struct cli_verb *cli_find_verb(int argc, char **argv, int *nwords)
{
	const struct cli_verb *one = NULL;

	for (const struct cli_verb *v = cli_verbs; v->name; v++) {
		if (argc > 1 && in_group(v->name, argv[0]) &&
		    !strcmp(v->name + strlen(argv[0]) + 1, argv[1])) {
			*nwords = 2;
			return v;
		}
		if (!strcmp(v->name, argv[0]))
			one = v;
	}
	*nwords = 1;
	return one;
}

/* "create, list, drop": the sub-verbs of group word (empty if none). */
static void group_subs(const char *word, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const struct cli_verb *v = cli_verbs; v->name; v++) {
		int n;

		if (!in_group(v->name, word))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
			     v->name + strlen(word) + 1);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

/* ---- options ---- */

static void *field(struct cli_opts *o, const struct cli_option *opt)
{
	return (char *)o + opt->off;
}

static const struct cli_option *find_opt(const struct cli_option *opts, const char *name,
					 size_t len)
{
	for (const struct cli_option *p = opts; p && p->name; p++)
		if (strlen(p->name) == len && !strncmp(p->name, name, len))
			return p;
	return NULL;
}

static const char *type_noun(enum cli_type t)
{
	switch (t) {
	case CLI_SNAPSHOT:
		return "a snapshot id";
	case CLI_SCHEDULE:
		return "a schedule id";
	case CLI_TABLE:
		return "a table (KS.TABLE)";
	case CLI_KEYSPACE:
		return "a keyspace";
	case CLI_PATH:
		return "a file";
	case CLI_DIR:
		return "a directory";
	default:
		return "a value";
	}
}

/* Checks and stores one option's value. */
static int set_value(const struct cli_verb *v, const struct cli_option *opt, const char *val,
		     struct cli_opts *o)
{
	struct errbuf e;
	char what[96];

	snprintf(what, sizeof(what), "%s --%s", v->name, opt->name);
	switch (opt->type) {
	case CLI_FLAG:
		*(int *)field(o, opt) = 1;
		return 0;
	case CLI_NUMBER:
		if (parse_number(what, val, opt->min, opt->max, field(o, opt), &e))
			return usage_error("%s", e.msg);
		return 0;
	case CLI_TIME: {
		struct cli_time *t = field(o, opt);

		if (hlc_parse_time(val, hlc_wall_us(), &t->ht, &e))
			return usage_error("%s: %s", what, e.msg);
		t->text = val;
		return 0;
	}
	case CLI_DURATION: {
		struct cli_duration *d = field(o, opt);

		if (hlc_parse_duration(val, &d->us, &e))
			return usage_error("%s: %s", what, e.msg);
		d->text = val;
		return 0;
	}
	case CLI_STRING:
		*(const char **)field(o, opt) = val;
		return 0;
	default:
		if (!*val)
			return usage_error("%s '': empty (expected %s)", what,
					   type_noun(opt->type));
		*(const char **)field(o, opt) = val;
		return 0;
	}
}

static int opt_index(const struct cli_option *opts, const struct cli_option *opt)
{
	return opts && opt >= opts && opt->name ? (int)(opt - opts) : -1;
}

/* Required options given, exclusive ones not together. */
static int check_opts(const struct cli_verb *v, const unsigned char *seen)
{
	for (const struct cli_option *p = v->opts; p && p->name; p++) {
		int i = (int)(p - v->opts);
		const struct cli_option *x;

		if ((p->flags & CLI_REQUIRED) && !seen[i])
			return usage_error(
			    "%s: option '--%s %s' is required (see 'snapfs %s --help')", v->name,
			    p->name, p->argh ? p->argh : "", v->name);
		x = p->excludes ? find_opt(v->opts, p->excludes, strlen(p->excludes)) : NULL;
		if (seen[i] && x && seen[x - v->opts])
			return usage_error("%s: options '--%s' and '--%s' exclude each other",
					   v->name, p->name, x->name);
	}
	return 0;
}

static int check_args(const struct cli_verb *v, struct cli_opts *o)
{
	int i = 0;
	const struct cli_arg *a = v->args;

	for (; a && a->name; a++) {
		if (a->arity == CLI_MANY) {
			i = o->npos;
			break;
		}
		if (i >= o->npos) {
			if (a->arity == CLI_ONE)
				return usage_error(
				    "%s: argument %s missing (see 'snapfs %s --help')", v->name,
				    a->name, v->name);
			continue;
		}
		if (!o->pos[i][0] && a->type != CLI_STRING)
			return usage_error("%s: argument %s '': empty (expected %s)", v->name,
					   a->name, type_noun(a->type));
		i++;
	}
	if (i < o->npos)
		return usage_error("%s: argument '%s' unexpected (see 'snapfs %s --help')", v->name,
				   o->pos[i], v->name);
	return 0;
}

int cli_parse_verb(const struct cli_verb *v, int argc, char **argv, struct cli_opts *o)
{
	unsigned char seen[64] = {0};
	int only_args = 0, rc;

	o->pos = xcalloc((size_t)argc + 1, sizeof(*o->pos));
	o->npos = 0;
	for (int i = 0; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			o->help = 1;
			return 0;
		}
	for (const struct cli_option *p = v->opts; p && p->name; p++)
		if (p->type == CLI_NUMBER)
			*(uint64_t *)field(o, p) = p->def;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *val;
		const struct cli_option *opt;
		size_t nlen;

		if (only_args || a[0] != '-' || !a[1]) {
			o->pos[o->npos++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			only_args = 1;
			continue;
		}
		if (a[1] != '-')
			return usage_error("%s: option '%s' unknown (an argument that starts "
					   "with '-' goes after '--')",
					   v->name, a);
		name = a + 2;
		eq = strchr(name, '=');
		nlen = eq ? (size_t)(eq - name) : strlen(name);
		opt = find_opt(v->opts, name, nlen);
		if (!opt && !(v->flags & CLI_NODATA) && nlen == 4 && !strncmp(name, "data", 4))
			opt = &cli_global_opts[0];
		if (!opt && nlen == 4 && !strncmp(name, "data", 4))
			return usage_error("%s: option '--data' does not apply (it reads no data "
					   "directory)",
					   v->name);
		if (!opt)
			return usage_error("%s: option '--%.*s' unknown (see 'snapfs %s --help')",
					   v->name, (int)nlen, name, v->name);
		if (opt->type == CLI_FLAG && eq)
			return usage_error("%s: option '--%s' takes no value", v->name, opt->name);
		val = eq ? eq + 1 : NULL;
		if (opt->type != CLI_FLAG && !val) {
			if (i + 1 >= argc)
				return usage_error("%s: option '--%s' needs a value %s", v->name,
						   opt->name, opt->argh);
			val = argv[++i];
		}
		rc = set_value(v, opt, val, o);
		if (rc)
			return rc;
		if (opt_index(v->opts, opt) >= 0 && opt_index(v->opts, opt) < (int)sizeof(seen))
			seen[opt_index(v->opts, opt)] = 1;
	}
	rc = check_opts(v, seen);
	if (!rc)
		rc = check_args(v, o);
	return rc;
}

void cli_opts_release(struct cli_opts *o)
{
	free(o->data);
	free(o->pos);
	o->data = NULL;
	o->pos = NULL;
}

/* ---- the data directory ---- */

int cli_data_dir(const char *opt, char **out, struct errbuf *e)
{
	struct sockaddr_un sa;
	const char *d = opt;
	char cwd[PATH_MAX], *sock;
	size_t len;

	*out = NULL;
	if (d && !*d)
		return err_set(e, -EINVAL, "option '--data': empty (name a directory)");
	if (!d)
		d = getenv("SNAPFS_DATA");
	if (!d || !*d)
		d = "snapfs-data";
	if (d[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		*out = xstrdup(d);
	else
		*out = fs_path("%s/%s", cwd, d);
	sock = ctl_socket_path(*out);
	len = strlen(sock);
	free(sock);
	if (len >= sizeof(sa.sun_path)) {
		err_set(e, -EINVAL,
			"data directory '%s': path too long for its control socket (%zu bytes "
			"with '/snapfs.sock', the limit is %zu)",
			*out, len, sizeof(sa.sun_path) - 1);
		free(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

/* ---- the whole command line ---- */

static int run_verb(const struct cli_verb *v, const char *data, int argc, char **argv)
{
	struct cli_opts o;
	struct errbuf e;
	int rc;

	memset(&o, 0, sizeof(o));
	o.verb = v;
	o.data_opt = data;
	rc = cli_parse_verb(v, argc, argv, &o);
	if (rc)
		goto out;
	if (o.help) {
		cli_print_verb_help(stdout, v);
		goto out;
	}
	if (v->flags & CLI_NODATA) {
		if (o.data_opt) {
			rc = usage_error("%s: option '--data' does not apply (it reads no data "
					 "directory)",
					 v->name);
			goto out;
		}
	} else if (cli_data_dir(o.data_opt, &o.data, &e)) {
		rc = usage_error("%s: %s", v->name, e.msg);
		goto out;
	}
	rc = v->fn(&o);
out:
	cli_opts_release(&o);
	return rc;
}

int cli_main(int argc, char **argv)
{
	const struct cli_verb *v;
	const char *data = NULL;
	char subs[256];
	int i = 1, nw;

	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			cli_print_overview(stdout);
			return EXIT_OK;
		}
		if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
			cli_print_version(stdout);
			return EXIT_OK;
		}
		/* hidden: what the build turns into the man page and the completion */
		if (!strcmp(a, "--man")) {
			cli_print_man(stdout);
			return fflush(stdout) ? EXIT_INTERNAL : EXIT_OK;
		}
		if (!strcmp(a, "--bash-completion")) {
			cli_print_bash_completion(stdout);
			return fflush(stdout) ? EXIT_INTERNAL : EXIT_OK;
		}
		if (!strncmp(a, "--data", 6) && (a[6] == '=' || !a[6])) {
			if (a[6] == '=')
				data = a + 7;
			else if (i + 1 < argc)
				data = argv[++i];
			else
				return usage_error("option '--data' needs a value DIR");
			continue;
		}
		return usage_error("option '%s' unknown before the verb (see 'snapfs help')", a);
	}
	if (i >= argc) {
		cli_print_overview(stderr);
		return EXIT_USAGE;
	}
	v = cli_find_verb(argc - i, argv + i, &nw);
	group_subs(argv[i], subs, sizeof(subs));
	if (subs[0] && i + 1 < argc &&
	    (!strcmp(argv[i + 1], "--help") || !strcmp(argv[i + 1], "-h")))
		return cli_help_topic(1, argv + i);
	if (subs[0] && nw == 1 && !v) {
		if (i + 1 >= argc)
			return usage_error("%s: sub-command missing (%s; see 'snapfs help %s')",
					   argv[i], subs, argv[i]);
		return usage_error("%s: sub-command '%s' unknown (%s)", argv[i], argv[i + 1], subs);
	}
	if (!v)
		return usage_error("command '%s': unknown (see 'snapfs help')", argv[i]);
	return run_verb(v, data, argc - i - nw, argv + i + nw);
}
