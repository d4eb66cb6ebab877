/*
 * main: the snapfs executable, git-style. One table of verbs; each verb's
 * client lives in its cmd_<group>.c. Only main exits.
 */
#include "snapfs.h"

#include <stdio.h>
#include <string.h>

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct cmd commands[] = {
    {"init", cmd_init, "init [--data DIR]                      create a data directory"},
    {"serve", cmd_serve, "serve [--data DIR] [--mount MNT] [--foreground] [--allow-other]"},
    {"stop", cmd_stop, "stop [--data DIR]                      stop the daemon"},
    {"status", cmd_status, "status [--data DIR] [--json]"},
    {"table", cmd_table, "table create KS.TABLE [--tablets N] | list [--json] | drop KS.TABLE"},
    {"put", cmd_put, "put KS.TABLE KEY VALUE"},
    {"get", cmd_get, "get KS.TABLE KEY [--at TIME | --snapshot ID] [--hex]"},
    {"del", cmd_del, "del KS.TABLE KEY"},
    {"scan", cmd_scan,
     "scan KS.TABLE [--prefix P] [--limit N] [--at TIME | --snapshot ID] [--json] [--hex]"},
    {"load", cmd_load, "load KS.TABLE --rows N [--value-size BYTES] [--seed S]"},
    {"snapshot", cmd_snapshot,
     "snapshot create KS [TABLE...] | list [--json] | delete ID | export ID FILE |\n"
     "                restore ID [--table KS.T] [--as KS.T2]"},
    {"schedule", cmd_schedule,
     "schedule create KS --interval DUR --retention DUR | list [--json] | delete ID"},
    {"restore-point", cmd_restore_point, "restore-point list [--json]"},
    {"restore", cmd_restore, "restore list [--json] | restore --to TIME KS"},
    {"verify", cmd_verify,
     "verify DIR                             check a backup tree, change nothing"},
    {"dump", cmd_dump,
     "dump DIR --table KS.T [--hex]          read a table of a backup tree offline"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: snapfs <command> [options]   (every command takes --data DIR)\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  snapfs %s\n", commands[i].help);
	fprintf(f, "\nexit codes: 0 ok, 1 usage, 2 not found, 3 refused, 4 daemon not reachable, "
		   "5 internal\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "snapfs: error: command '%s': unknown (see 'snapfs help')\n", argv[1]);
	return EXIT_USAGE;
}
