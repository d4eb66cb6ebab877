/*
 * cli_help: every text about the command line, generated from the verb
 * table (cli.h): the usage line of a verb, its --help, the overview of
 * `snapfs help`, the man page (`snapfs --man`, run by the build into
 * snapfs.1) and the bash completion (`snapfs --bash-completion`, likewise).
 * Nothing here lists a verb or an option by hand: a new table entry shows
 * up in all of them. The only prose of its own is the man page's sections
 * that are not about one verb (description, environment, files, signals).
 */
#include "snapfs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const exit_meaning[] = {
    "ok",
    "usage: bad command, option or argument",
    "not found: no such table, key, snapshot, keyspace, schedule, data directory or path",
    "refused: verification failed, marker restore refused, state conflict (e.g. the table "
    "exists, the data directory is served), permission denied, no space left, a time "
    "outside the history kept",
    "daemon not reachable: no `serve` answers on DATA/snapfs.sock, or this user may not "
    "connect to it",
    "internal error",
};

const char *cli_exit_meaning(int code)
{
	return code >= 0 && code <= 5 ? exit_meaning[code] : "";
}

void cli_print_version(FILE *f)
{
	fprintf(f, "snapfs %s\n", snapfs_version_string());
}

/* ---- usage lines ---- */

static const struct cli_option *opt_named(const struct cli_option *opts, const char *name)
{
	for (const struct cli_option *p = opts; p && p->name; p++)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

static void put_opt(FILE *f, const struct cli_option *p)
{
	fprintf(f, "--%s%s%s", p->name, p->argh ? " " : "", p->argh ? p->argh : "");
}

void cli_print_usage_line(FILE *f, const struct cli_verb *v)
{
	unsigned char done[64] = {0};

	fprintf(f, "snapfs %s", v->name);
	for (const struct cli_arg *a = v->args; a && a->name; a++)
		fprintf(f,
			a->arity == CLI_ONE	   ? " %s"
			: a->arity == CLI_OPTIONAL ? " [%s]"
						   : " [%s...]",
			a->name);
	for (const struct cli_option *p = v->opts; p && p->name; p++) {
		const struct cli_option *x;
		size_t i = (size_t)(p - v->opts);

		if (i < sizeof(done) && done[i])
			continue;
		x = p->excludes ? opt_named(v->opts, p->excludes) : NULL;
		fputs((p->flags & CLI_REQUIRED) ? " " : " [", f);
		put_opt(f, p);
		if (x && (size_t)(x - v->opts) > i) {
			fputs(" | ", f);
			put_opt(f, x);
			if ((size_t)(x - v->opts) < sizeof(done))
				done[x - v->opts] = 1;
		}
		if (!(p->flags & CLI_REQUIRED))
			fputc(']', f);
	}
	fputc('\n', f);
}

/* ---- help of one verb ---- */

/* The help of an option with its bounds and default. */
static void opt_help(const struct cli_option *p, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s", p->help);

	if (n < 0 || (size_t)n >= len || p->type != CLI_NUMBER)
		return;
	if (p->max == UINT64_MAX)
		n += snprintf(buf + n, len - (size_t)n, " (%" PRIu64 " or more", p->min);
	else
		n +=
		    snprintf(buf + n, len - (size_t)n, " (%" PRIu64 " to %" PRIu64, p->min, p->max);
	if ((size_t)n < len && p->def >= p->min)
		n += snprintf(buf + n, len - (size_t)n, ", default %" PRIu64, p->def);
	if ((size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ")");
}

static void print_item(FILE *f, const char *head, const char *text)
{
	if (strlen(head) < 22)
		fprintf(f, "  %-22s%s\n", head, text);
	else
		fprintf(f, "  %s\n  %-22s%s\n", head, "", text);
}

/* The codes that apply to v, in order, with their meaning there. */
static void for_each_exit(const struct cli_verb *v,
			  void (*fn)(void *arg, int code, const char *why), void *arg)
{
	fn(arg, 0, exit_meaning[0]);
	fn(arg, 1, exit_meaning[1]);
	for (const struct cli_exit *x = v->exits; x && x->code; x++) {
		char why[256];

		snprintf(why, sizeof(why), "%s: %s", x->code == 2 ? "not found" : "refused",
			 x->why);
		fn(arg, x->code, why);
	}
	if (v->flags & CLI_CLIENT)
		fn(arg, 4, "daemon not reachable (start it with 'snapfs serve')");
	fn(arg, 5, exit_meaning[5]);
}

static void help_exit(void *arg, int code, const char *why)
{
	fprintf(arg, "  %d  %s\n", code, why);
}

static void print_lines(FILE *f, const char *indent, const char *text)
{
	while (text && *text) {
		size_t n = strcspn(text, "\n");

		fprintf(f, "%s%.*s\n", n ? indent : "", (int)n, text);
		text += n + (text[n] == '\n');
	}
}

void cli_print_verb_help(FILE *f, const struct cli_verb *v)
{
	char buf[512];

	fputs("usage: ", f);
	cli_print_usage_line(f, v);
	fprintf(f, "\n%s\n", v->summary);
	if (v->text) {
		fputc('\n', f);
		print_lines(f, "", v->text);
	}
	if (v->args && v->args->name) {
		fputs("\narguments:\n", f);
		for (const struct cli_arg *a = v->args; a->name; a++)
			print_item(f, a->name, a->help);
	}
	fputs("\noptions:\n", f);
	for (const struct cli_option *p = v->opts; p && p->name; p++) {
		char head[64];

		snprintf(head, sizeof(head), "--%s%s%s", p->name, p->argh ? " " : "",
			 p->argh ? p->argh : "");
		opt_help(p, buf, sizeof(buf));
		print_item(f, head, buf);
	}
	if (!(v->flags & CLI_NODATA))
		print_item(f, "--data DIR", cli_global_opts[0].help);
	print_item(f, "--help", "show this help, and exit");
	fputs("\nexit codes:\n", f);
	for_each_exit(v, help_exit, f);
	if (v->example) {
		fputs("\nexample:\n", f);
		print_lines(f, "  ", v->example);
	}
}

void cli_print_overview(FILE *f)
{
	fputs("usage: snapfs [--data DIR] VERB [OPTION | ARG]...\n"
	      "       snapfs VERB --help | snapfs help VERB | snapfs --version\n\n",
	      f);
	for (const struct cli_verb *v = cli_verbs; v->name; v++) {
		fputs("  ", f);
		cli_print_usage_line(f, v);
	}
	fputs("\nglobal options (before the verb):\n", f);
	for (const struct cli_option *p = cli_global_opts; p->name; p++) {
		char head[64];

		snprintf(head, sizeof(head), "--%s%s%s", p->name, p->argh ? " " : "",
			 p->argh ? p->argh : "");
		print_item(f, head, p->help);
	}
	fputs("\nexit codes:\n", f);
	for (int i = 0; i <= 5; i++)
		fprintf(f, "  %d  %s\n", i, exit_meaning[i]);
}

int cli_help_topic(int argc, char **argv)
{
	const struct cli_verb *v;
	int nw, any = 0;

	if (!argc) {
		cli_print_overview(stdout);
		return EXIT_OK;
	}
	v = cli_find_verb(argc, argv, &nw);
	if (v && nw == argc) {
		cli_print_verb_help(stdout, v);
		return EXIT_OK;
	}
	if (argc == 1) {
		size_t n = strlen(argv[0]);

		for (v = cli_verbs; v->name; v++)
			if (!strncmp(v->name, argv[0], n) && v->name[n] == ' ') {
				if (!any)
					printf("usage:\n");
				fputs("  ", stdout);
				cli_print_usage_line(stdout, v);
				printf("      %s\n", v->summary);
				any = 1;
			}
		if (any) {
			printf("\nsee 'snapfs %s SUB-COMMAND --help'\n", argv[0]);
			return EXIT_OK;
		}
	}
	return cli_error(-EINVAL, "help: command '%s%s%s': unknown (see 'snapfs help')", argv[0],
			 argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
}

/* ---- the man page ---- */

/* Text for roff: backslashes and hyphens escaped, no line starting a request. */
static void man_text(FILE *f, const char *s)
{
	int bol = 1;

	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
		bol = *s == '\n';
	}
}

static void man_item(FILE *f, const char *head, const char *text)
{
	fputs(".TP\n.B ", f);
	man_text(f, head);
	fputc('\n', f);
	man_text(f, text);
	fputc('\n', f);
}

/* ".TP" and the tag of an option: bold name, italic value name. */
static void man_opt_tag(FILE *f, const struct cli_option *p)
{
	fputs(".TP\n.BI \"", f);
	man_text(f, "--");
	man_text(f, p->name);
	fputs(p->argh ? " \" " : "\"", f);
	if (p->argh)
		man_text(f, p->argh);
	fputc('\n', f);
}

static void man_usage(FILE *f, const struct cli_verb *v)
{
	char *line = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&line, &len);

	if (!m)
		abort();
	cli_print_usage_line(m, v);
	fclose(m);
	line[strcspn(line, "\n")] = '\0';
	man_text(f, line);
	free(line);
}

static void man_exit(void *arg, int code, const char *why)
{
	fprintf(arg, ".TP\n.B %d\n", code);
	man_text(arg, why);
	fputc('\n', arg);
}

static void man_verb(FILE *f, const struct cli_verb *v)
{
	char buf[512];

	fputs(".SS \"", f);
	man_text(f, v->name);
	fputs("\"\n.B ", f);
	man_usage(f, v);
	fputs("\n.PP\n", f);
	man_text(f, v->summary);
	fputc('\n', f);
	if (v->text) {
		fputs(".PP\n", f);
		man_text(f, v->text);
		fputc('\n', f);
	}
	for (const struct cli_arg *a = v->args; a && a->name; a++) {
		fputs(".TP\n.I ", f);
		man_text(f, a->name);
		fputc('\n', f);
		man_text(f, a->help);
		fputc('\n', f);
	}
	for (const struct cli_option *p = v->opts; p && p->name; p++) {
		man_opt_tag(f, p);
		opt_help(p, buf, sizeof(buf));
		man_text(f, buf);
		fputc('\n', f);
	}
	fputs(".PP\nExit codes:\n.RS\n", f);
	for_each_exit(v, man_exit, f);
	fputs(".RE\n", f);
	if (v->example) {
		fputs(".PP\nExample:\n.PP\n.RS\n.nf\n", f);
		man_text(f, v->example);
		fputs("\n.fi\n.RE\n", f);
	}
}

void cli_print_man(FILE *f)
{
	fprintf(f,
		".\\\" Generated by 'snapfs --man' from the verb table (mount/cli_verbs.c).\n"
		".TH SNAPFS 1 \"\" \"snapfs %s\" \"User Commands\"\n",
		snapfs_version_string());
	fputs(".SH NAME\nsnapfs \\- tablet store with hybrid-time snapshots, mounted "
	      "read-only over FUSE\n.SH SYNOPSIS\n",
	      f);
	for (const struct cli_verb *v = cli_verbs; v->name; v++) {
		fputs(".B ", f);
		man_usage(f, v);
		fputs("\n.br\n", f);
	}
	fputs(".SH DESCRIPTION\n", f);
	man_text(f, "snapfs keeps tables in a RocksDB tablet store (each table hash-split into "
		    "tablets), takes consistent snapshots of a keyspace (all tablets cut at one "
		    "hybrid time), and mounts every COMPLETE snapshot as a read-only directory "
		    "tree over FUSE, so that rsync, tar or any backup tool copies it. A copied "
		    "tree is checked with sha256sum or 'snapfs verify', and restored by copying "
		    "it into DATA/restore and creating the marker DATA/_restore.\n");
	fputs(".PP\n", f);
	man_text(f, "'snapfs serve' owns a data directory and listens on DATA/snapfs.sock; every "
		    "other verb but init, verify, dump, help and version is a client of it. "
		    "Every --json prints one JSON document: an array for a listing, an object "
		    "otherwise; times are RFC 3339 UTC with microseconds, each beside its "
		    "hybrid time.\n");
	fputs(".SH GLOBAL OPTIONS\n", f);
	for (const struct cli_option *p = cli_global_opts; p->name; p++) {
		man_opt_tag(f, p);
		man_text(f, p->help);
		fputc('\n', f);
	}
	fputs(".SH COMMANDS\n", f);
	for (const struct cli_verb *v = cli_verbs; v->name; v++)
		man_verb(f, v);
	fputs(".SH EXIT STATUS\n", f);
	for (int i = 0; i <= 5; i++) {
		fprintf(f, ".TP\n.B %d\n", i);
		man_text(f, exit_meaning[i]);
		fputc('\n', f);
	}
	fputs(".SH ENVIRONMENT\n.TP\n.B SNAPFS_DATA\n", f);
	man_text(f,
		 "the data directory when --data is not given (an empty value counts as unset)\n");
	fputs(".TP\n.B SNAPFS_HISTORY\n", f);
	man_text(f, "for serve: how long a keyspace without a schedule keeps old versions "
		    "(a duration, or 'none'; default 15m)\n");
	fputs(".SH FILES\n", f);
	man_item(f, "DATA/snapfs.sock", "the control socket (mode 0600)");
	man_item(f, "DATA/snapfs.lock", "held by the running daemon; holds its pid");
	man_item(f, "DATA/snapfs.log", "the log of a detached daemon (with --foreground: stderr)");
	fputs(".SH SIGNALS\n", f);
	man_item(f, "SIGHUP", "serve reopens DATA/snapfs.log (after a rotation) and goes on");
	man_item(f, "SIGTERM, SIGINT", "serve stops cleanly, as 'snapfs stop' does");
	fputs(".SH SEE ALSO\n.BR fusermount3 (1),\n.BR rsync (1),\n.BR sha256sum (1),\n"
	      ".BR systemd.service (5),\n.BR logrotate (8)\n",
	      f);
}

/* ---- bash completion ---- */

static const char *type_word(enum cli_type t)
{
	switch (t) {
	case CLI_SNAPSHOT:
		return "snapshot";
	case CLI_SCHEDULE:
		return "schedule";
	case CLI_TABLE:
		return "table";
	case CLI_KEYSPACE:
		return "keyspace";
	case CLI_PATH:
		return "file";
	case CLI_DIR:
		return "dir";
	default:
		return "none";
	}
}

void cli_print_bash_completion(FILE *f)
{
	fputs("# bash completion for snapfs; generated by 'snapfs --bash-completion' from the\n"
	      "# verb table (mount/cli_verbs.c): do not edit.\n\n"
	      "# _snapfs_spec VERB: sets _snapfs_opts (the verb's options) and _snapfs_args\n"
	      "# (the type of each positional argument; a last one ending in '...' repeats).\n"
	      "_snapfs_spec() {\n\t_snapfs_opts='' _snapfs_args=''\n\tcase $1 in\n",
	      f);
	for (const struct cli_verb *v = cli_verbs; v->name; v++) {
		fprintf(f, "\t'%s')\n\t\t_snapfs_opts='", v->name);
		for (const struct cli_option *p = v->opts; p && p->name; p++)
			fprintf(f, "--%s ", p->name);
		if (!(v->flags & CLI_NODATA))
			fputs("--data ", f);
		fputs("--help'\n\t\t_snapfs_args='", f);
		for (const struct cli_arg *a = v->args; a && a->name; a++)
			fprintf(f, "%s%s%s", a == v->args ? "" : " ", type_word(a->type),
				a->arity == CLI_MANY ? "..." : "");
		fputs("'\n\t\t;;\n", f);
	}
	fputs("\tesac\n}\n\n# _snapfs_opt_type VERB OPTION: the type of the option's value "
	      "(flag: none).\n_snapfs_opt_type() {\n\tcase \"$1 $2\" in\n",
	      f);
	for (const struct cli_verb *v = cli_verbs; v->name; v++)
		for (const struct cli_option *p = v->opts; p && p->name; p++)
			fprintf(f, "\t'%s --%s') echo %s ;;\n", v->name, p->name,
				p->type == CLI_FLAG ? "flag" : type_word(p->type));
	fputs("\t*' --data') echo dir ;;\n\t*) echo flag ;;\n\tesac\n}\n\n", f);
	fputs("_snapfs_verbs='", f);
	for (const struct cli_verb *v = cli_verbs; v->name; v++) {
		size_t n = strcspn(v->name, " ");
		int seen = 0;

		for (const struct cli_verb *w = cli_verbs; w < v; w++)
			seen |= strcspn(w->name, " ") == n && !strncmp(w->name, v->name, n);
		if (!seen)
			fprintf(f, "%.*s ", (int)n, v->name);
	}
	fputs("'\n\n", f);
	fputs("# _snapfs_subs WORD: the sub-verbs of WORD (empty if it has none).\n"
	      "_snapfs_subs() {\n\tlocal v\n\tfor v in ",
	      f);
	for (const struct cli_verb *v = cli_verbs; v->name; v++)
		if (strchr(v->name, ' '))
			fprintf(f, "'%s' ", v->name);
	fputs("; do\n\t\t[[ ${v%% *} == \"$1\" ]] && printf '%s ' \"${v#* }\"\n\tdone\n}\n\n", f);
	fputs("# _snapfs_values TYPE: candidates for a value of TYPE, from the daemon.\n"
	      "_snapfs_values() {\n"
	      "\tlocal -a d=()\n"
	      "\t[[ -n $_snapfs_data ]] && d=(--data \"$_snapfs_data\")\n"
	      "\tcase $1 in\n"
	      "\tsnapshot) snapfs \"${d[@]}\" snapshot list 2>/dev/null | awk 'NR > 1 { print $1 "
	      "}' ;;\n"
	      "\tschedule) snapfs \"${d[@]}\" schedule list 2>/dev/null | awk '{ print $1 }' ;;\n"
	      "\ttable) snapfs \"${d[@]}\" table list 2>/dev/null | awk 'NR > 1 { print $2 }' ;;\n"
	      "\tkeyspace) snapfs \"${d[@]}\" table list 2>/dev/null | awk 'NR > 1 { sub(/\\..*/, "
	      "\"\", $2); print $2 }' | sort -u ;;\n"
	      "\tesac\n}\n\n",
	      f);
	fputs("_snapfs_complete_type() {\n"
	      "\tlocal cur=$2\n"
	      "\tcase $1 in\n"
	      "\tfile) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
	      "\tdir) COMPREPLY=($(compgen -d -- \"$cur\")) ;;\n"
	      "\tsnapshot | schedule | table | keyspace)\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$(_snapfs_values \"$1\")\" -- \"$cur\")) ;;\n"
	      "\t*) COMPREPLY=() ;;\n"
	      "\tesac\n}\n\n",
	      f);
	fputs("_snapfs() {\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} verb='' w subs t i=1 npos=0 only_args=0\n"
	      "\tlocal -a args\n"
	      "\t_snapfs_data=${SNAPFS_DATA:-}\n"
	      "\tCOMPREPLY=()\n"
	      "\t# the words before the cursor: global options, the verb, its words\n"
	      "\twhile ((i < COMP_CWORD)); do\n"
	      "\t\tw=${COMP_WORDS[i]}\n"
	      "\t\tif [[ -z $verb ]]; then\n"
	      "\t\t\tcase $w in\n"
	      "\t\t\t--data) _snapfs_data=${COMP_WORDS[i + 1]}; ((i += 2)); continue ;;\n"
	      "\t\t\t-*) ((i++)); continue ;;\n"
	      "\t\t\tesac\n"
	      "\t\t\tverb=$w\n"
	      "\t\t\tsubs=$(_snapfs_subs \"$w\")\n"
	      "\t\t\tif [[ -n $subs ]] && ((i + 1 < COMP_CWORD)) && [[ \" $subs \" == *\" "
	      "${COMP_WORDS[i + 1]} \"* ]]; then\n"
	      "\t\t\t\tverb=\"$w ${COMP_WORDS[i + 1]}\"; ((i++))\n"
	      "\t\t\telif [[ -n $subs ]] && [[ -z $(_snapfs_spec \"$w\"; echo \"$_snapfs_opts\") "
	      "]]; then\n"
	      "\t\t\t\t((i + 1 == COMP_CWORD)) && { COMPREPLY=($(compgen -W \"$subs\" -- "
	      "\"$cur\")); return; }\n"
	      "\t\t\tfi\n"
	      "\t\t\t((i++)); continue\n"
	      "\t\tfi\n"
	      "\t\tif ((only_args == 0)) && [[ $w == -- ]]; then only_args=1\n"
	      "\t\telif ((only_args == 0)) && [[ $w == --* ]]; then\n"
	      "\t\t\tt=$(_snapfs_opt_type \"$verb\" \"$w\")\n"
	      "\t\t\t[[ $w == --data ]] && _snapfs_data=${COMP_WORDS[i + 1]}\n"
	      "\t\t\t[[ $t != flag ]] && ((i++))\n"
	      "\t\telse ((npos++))\n"
	      "\t\tfi\n"
	      "\t\t((i++))\n"
	      "\tdone\n"
	      "\tif [[ -z $verb ]]; then\n"
	      "\t\tif [[ $cur == -* ]]; then\n"
	      "\t\t\tCOMPREPLY=($(compgen -W '--data --help --version' -- \"$cur\"))\n"
	      "\t\telif [[ ${COMP_WORDS[COMP_CWORD - 1]} == --data ]]; then\n"
	      "\t\t\tCOMPREPLY=($(compgen -d -- \"$cur\"))\n"
	      "\t\telse\n"
	      "\t\t\tCOMPREPLY=($(compgen -W \"$_snapfs_verbs\" -- \"$cur\"))\n"
	      "\t\tfi\n"
	      "\t\treturn\n"
	      "\tfi\n"
	      "\t_snapfs_spec \"$verb\"\n"
	      "\tw=${COMP_WORDS[COMP_CWORD - 1]}\n"
	      "\tif ((only_args == 0)) && [[ $w == --* ]] && ((COMP_CWORD - 1 > 0)); then\n"
	      "\t\tt=$(_snapfs_opt_type \"$verb\" \"$w\")\n"
	      "\t\tif [[ $t != flag ]]; then _snapfs_complete_type \"$t\" \"$cur\"; return; fi\n"
	      "\tfi\n"
	      "\tif ((only_args == 0)) && [[ $cur == -* ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$_snapfs_opts\" -- \"$cur\"))\n"
	      "\t\treturn\n"
	      "\tfi\n"
	      "\tread -ra args <<<\"$_snapfs_args\"\n"
	      "\tif ((npos < ${#args[@]})); then t=${args[npos]}\n"
	      "\telif ((${#args[@]})) && [[ ${args[-1]} == *... ]]; then t=${args[-1]}\n"
	      "\telse t=none\n"
	      "\tfi\n"
	      "\t_snapfs_complete_type \"${t%...}\" \"$cur\"\n"
	      "}\n\ncomplete -F _snapfs snapfs\n",
	      f);
}
