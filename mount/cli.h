/*
 * cli.h: the command line as data. Every verb is one entry of one table
 * (cli_verbs[] in cli_verbs.c): its name (sub-verbs are two words, "table
 * create"), a one-line summary, its positional arguments, its options with
 * their types and bounds, the exit codes that apply, an example, and the
 * client function that runs it. That one table drives everything:
 *
 *   parsing         cli_parse.c   global options, verb lookup, options,
 *                                 numbers (bounds), times, durations,
 *                                 positional arguments, every usage error
 *   help            cli_help.c    `snapfs VERB --help`, `snapfs help VERB`,
 *                                 `snapfs help` (the overview)
 *   man page        cli_help.c    `snapfs --man` (run at build time into
 *                                 snapfs.1)
 *   bash completion cli_help.c    `snapfs --bash-completion` (likewise)
 *
 * so a verb's help, man page and completion cannot drift from what it
 * parses. The models are git's parse-options (typed option descriptors
 * pointing at where the value goes) and sshfs's fuse_opt table.
 *
 * Adding a verb (see also README "Adding a verb"):
 *   1. one entry in cli_verbs[] (cli_verbs.c), next to its group; options
 *      are CLI_OPT_* macros naming a field of struct cli_opts (add the field
 *      below if no verb has such an option yet: the macros check its type
 *      at compile time);
 *   2. its client function `int cmd_<name>(struct cli_opts *o)` in a
 *      cmd_<group>.c, declared in snapfs.h: o holds the parsed values and
 *      the positional arguments, already checked against the table;
 *   3. if it talks to the daemon: its srv_<name> handler beside it and one
 *      line in srv_verbs[] (daemon.c).
 * Help, the man page, completion and the README check (test_cli.sh) follow
 * from the entry.
 *
 * Errors name the verb and the option ("table create --tablets '0': out of
 * range (1 to 256)", "restore: option '--table' unknown") or the missing
 * argument ("put: argument VALUE missing"), on stderr, exit 1.
 */
#ifndef SNAPFS_CLI_H
#define SNAPFS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What a value is: decides parsing, the help's value name and completion. */
enum cli_type {
	CLI_FLAG,     /* no value; int field set to 1 */
	CLI_STRING,   /* any non-empty text; const char * field */
	CLI_NUMBER,   /* plain digits within [min, max]; uint64_t field */
	CLI_DURATION, /* "90s", "15m", "1h30m", "7d"; struct cli_duration field */
	CLI_TIME,     /* RFC 3339, -15m, or a hybrid time; struct cli_time field */
	CLI_SNAPSHOT, /* a snapshot id; const char * field */
	CLI_SCHEDULE, /* a schedule id; const char * field */
	CLI_TABLE,    /* KS.TABLE; const char * field */
	CLI_KEYSPACE, /* KS; const char * field */
	CLI_PATH,     /* a file; const char * field */
	CLI_DIR,      /* a directory; const char * field */
};

struct cli_time {
	const char *text; /* as given; NULL when the option is absent */
	uint64_t ht;	  /* the hybrid time it names */
};

struct cli_duration {
	const char *text; /* as given; NULL when the option is absent */
	int64_t us;
};

/* Option flags. */
#define CLI_REQUIRED 0x1 /* the verb needs it (shown without brackets) */

struct cli_option {
	const char *name; /* long name without "--" */
	enum cli_type type;
	const char *argh;	/* value name in help ("N", "DIR"); NULL for a flag */
	size_t off;		/* where the value goes in struct cli_opts */
	uint64_t min, max, def; /* CLI_NUMBER: bounds and default */
	unsigned flags;
	const char *excludes; /* another option of the verb it cannot go with */
	const char *help;
};

enum cli_arity { CLI_ONE, CLI_OPTIONAL, CLI_MANY /* zero or more */ };

struct cli_arg {
	const char *name; /* as shown: "KS.TABLE", "KEY" */
	enum cli_type type;
	enum cli_arity arity;
	const char *help;
};

/* An exit code that applies to a verb, and what it means there. */
struct cli_exit {
	int code;
	const char *why;
};

/* Verb flags. */
#define CLI_NODATA 0x1 /* takes no --data: reads no data directory */
#define CLI_CLIENT 0x2 /* a client of `serve`: exit 4 applies */

struct cli_opts;

struct cli_verb {
	const char *name; /* "status", "table create" */
	const char *summary;
	const struct cli_arg *args;    /* {NULL}-terminated, may be NULL */
	const struct cli_option *opts; /* {NULL}-terminated, may be NULL */
	const struct cli_exit *exits;  /* {0}-terminated: codes 2 and 3 that apply */
	const char *example;	       /* one or more lines, each a command */
	const char *text;	       /* more about it, for help and man; may be NULL */
	int (*fn)(struct cli_opts *o); /* the client; returns the exit code */
	unsigned flags;
};

extern const struct cli_verb cli_verbs[]; /* {NULL}-terminated */
extern const struct cli_option cli_global_opts[];

/* What the parser hands a verb: every value, typed, plus the positional
 * arguments. Fields are shared by the verbs that take the same option. */
struct cli_opts {
	const struct cli_verb *verb;
	char *data;	      /* absolute, malloc'ed; NULL for a CLI_NODATA verb */
	const char *data_opt; /* --data as given (before or after the verb) */
	const char *mount, *prefix, *table, *as, *snapshot, *keyspace;
	struct cli_time at, to;
	struct cli_duration interval, retention;
	uint64_t limit, rows, seed, tablets, value_size;
	int foreground, json, hex, allow_other, help;
	int progress, quiet; /* --progress, --quiet (cli_progress.c) */
	int npos;
	char **pos; /* positional arguments (points into argv) */
};

/* The field of struct cli_opts an option fills, checked to be of type T at
 * compile time (git's parse-options checks its value pointers the same way). */
#define CLI_FIELD(f, T)                                                                            \
	(offsetof(struct cli_opts, f) +                                                            \
	 0 * sizeof(struct {                                                                       \
		 _Static_assert(_Generic(((struct cli_opts *)0)->f, T : 1, default : 0),           \
				"option field " #f " is not " #T);                                 \
		 int dummy;                                                                        \
	 }))

#define CLI_OPT_FLAG(n, f, h)                                                                      \
	{                                                                                          \
		.name = n, .type = CLI_FLAG, .off = CLI_FIELD(f, int), .help = h                   \
	}
#define CLI_OPT_STR(n, ty, a, f, fl, h)                                                            \
	{                                                                                          \
		.name = n, .type = ty, .argh = a, .off = CLI_FIELD(f, const char *), .flags = fl,  \
		.help = h                                                                          \
	}
#define CLI_OPT_NUM(n, a, f, lo, hi, d, fl, h)                                                     \
	{                                                                                          \
		.name = n, .type = CLI_NUMBER, .argh = a, .off = CLI_FIELD(f, uint64_t),           \
		.min = lo, .max = hi, .def = d, .flags = fl, .help = h                             \
	}
#define CLI_OPT_TIME(n, f, fl, ex, h)                                                              \
	{                                                                                          \
		.name = n, .type = CLI_TIME, .argh = "TIME", .off = CLI_FIELD(f, struct cli_time), \
		.flags = fl, .excludes = ex, .help = h                                             \
	}
#define CLI_OPT_DUR(n, f, fl, h)                                                                   \
	{                                                                                          \
		.name = n, .type = CLI_DURATION, .argh = "DUR",                                    \
		.off = CLI_FIELD(f, struct cli_duration), .flags = fl, .help = h                   \
	}
#define CLI_OPT_END                                                                                \
	{                                                                                          \
		NULL                                                                               \
	}

/* Runs the command line: global options, the verb, its options. Returns
 * the process exit code. */
int cli_main(int argc, char **argv);

/* Parses the words after the verb's name into o (o->verb set by the
 * caller). Returns 0, or the exit code after printing the error; a --help
 * among them sets o->help instead. */
int cli_parse_verb(const struct cli_verb *v, int argc, char **argv, struct cli_opts *o);
void cli_opts_release(struct cli_opts *o);

/* --data, else $SNAPFS_DATA (when not empty), else ./snapfs-data; made
 * absolute in *out (malloc'ed). -EINVAL with a message in e when the
 * option is empty or the path too long for DATA's control socket. */
struct errbuf;
int cli_data_dir(const char *opt, char **out, struct errbuf *e);

/* The verb named by words argv[0..]: sets *nwords (1 or 2). NULL if none. */
const struct cli_verb *cli_find_verb(int argc, char **argv, int *nwords);

/* Help, generated from the table (cli_help.c). */
void cli_print_usage_line(FILE *f, const struct cli_verb *v);
void cli_print_verb_help(FILE *f, const struct cli_verb *v);
/* The overview: every verb's usage line and summary, global options,
 * exit codes. */
void cli_print_overview(FILE *f);
/* `snapfs help WORD...`: help of a verb, or of a group ("table"). */
int cli_help_topic(int argc, char **argv);
void cli_print_man(FILE *f);
void cli_print_bash_completion(FILE *f);
void cli_print_version(FILE *f);

/* The documented meaning of each exit code (README's table). */
const char *cli_exit_meaning(int code);

#endif
