/*
 * cli_verbs: THE table of the command line (see cli.h for what each field
 * means and how to add a verb). One entry per verb, in the order help and
 * the man page show them. Parsing, --help, `snapfs help`, the man page and
 * the bash completion are all generated from these entries.
 *
 * Bounds of numbers (the daemon checks the same ones, snapfs.h):
 *   --tablets     1 to PARTITION_MAX_TABLETS (256), default 4
 *   --rows        1 to SNAPFS_LOAD_ROWS_MAX (10^9)
 *   --value-size  0 to VALUE_MAX (16 MiB), default 100
 *   --seed        0 to 2^64-1, default 0
 *   --limit       1 to 2^64-1; absent: no limit
 */
#include "snapfs.h"

#include "partition.h"
#include "tablet.h"

#define OPT_JSON CLI_OPT_FLAG("json", json, "print one JSON document (see README, JSON output)")
#define OPT_HEX CLI_OPT_FLAG("hex", hex, "print keys and values in hex")
#define OPT_AT                                                                                     \
	CLI_OPT_TIME("at", at, 0, "snapshot",                                                      \
		     "read as of TIME: RFC 3339 (2026-11-23T10:00:00Z), relative (-15m), or a "    \
		     "hybrid time")
#define OPT_SNAPSHOT                                                                               \
	CLI_OPT_STR("snapshot", CLI_SNAPSHOT, "ID", snapshot, 0,                                   \
		    "read from snapshot ID, at its cut")

/* The verbs whose work is long show its progress (cli_progress.c). */
#define OPT_PROGRESS                                                                               \
	{                                                                                          \
		.name = "progress", .type = CLI_FLAG, .off = CLI_FIELD(progress, int),             \
		.excludes = "quiet",                                                               \
		.help = "show progress as plain lines on stderr even when it is not a terminal"    \
	}
#define OPT_QUIET                                                                                  \
	{                                                                                          \
		.name = "quiet", .type = CLI_FLAG, .off = CLI_FIELD(quiet, int),                   \
		.help = "show no progress, not even on a terminal"                                 \
	}

#define ARG_TABLE                                                                                  \
	{                                                                                          \
		"KS.TABLE", CLI_TABLE, CLI_ONE, "keyspace and table, e.g. app.users"               \
	}
#define ARG_KEY                                                                                    \
	{                                                                                          \
		"KEY", CLI_STRING, CLI_ONE, "the row's key (1 byte to 4 KiB)"                      \
	}
#define ARG_SNAPSHOT_ID                                                                            \
	{                                                                                          \
		"ID", CLI_SNAPSHOT, CLI_ONE, "a snapshot id (32 hex digits)"                       \
	}
#define ARG_END                                                                                    \
	{                                                                                          \
		NULL                                                                               \
	}

#define EXITS(...) ((const struct cli_exit[]){__VA_ARGS__, {0}})
#define ARGS(...) ((const struct cli_arg[]){__VA_ARGS__, ARG_END})
#define OPTS(...) ((const struct cli_option[]){__VA_ARGS__, CLI_OPT_END})

const struct cli_verb cli_verbs[] = {
    /* ---- the store and its daemon ---- */
    {
	.name = "init",
	.summary = "create a data directory and its empty store",
	.text = "Creating a directory that already holds a store is not an error.",
	.exits = EXITS({3, "the data directory is served by a running daemon"}),
	.example = "snapfs init --data /srv/snapfs",
	.fn = cmd_init,
    },
    {
	.name = "serve",
	.summary = "run the daemon that owns the data directory, and mount the view",
	.text = "Detaches and returns once the daemon answers, logging to DATA/snapfs.log\n"
		"(SIGHUP reopens it). With --foreground it stays attached and logs to\n"
		"stderr (for systemd: Type=notify is supported). A pending DATA/_restore\n"
		"marker is restored first.",
	.opts = OPTS(CLI_OPT_STR("mount", CLI_DIR, "MNT", mount, 0,
				 "mount the read-only view of every COMPLETE snapshot at MNT"),
		     CLI_OPT_FLAG("foreground", foreground,
				  "stay attached; log to stderr; tell systemd when ready"),
		     CLI_OPT_FLAG("allow-other", allow_other,
				  "let other users read the mount (FUSE allow_other)"),
		     OPT_PROGRESS, OPT_QUIET),
	.exits = EXITS({2, "the data directory does not exist"},
		       {3, "already served by another daemon; a marker restore refused"}),
	.example = "snapfs serve --data /srv/snapfs --mount /mnt/snapfs",
	.fn = cmd_serve,
    },
    {
	.name = "stop",
	.summary = "stop the daemon (flushes every tablet, unmounts the view)",
	.exits = EXITS({2, "the data directory does not exist"}),
	.example = "snapfs stop",
	.fn = cmd_stop,
	.flags = CLI_CLIENT,
    },
    {
	.name = "status",
	.summary = "show the daemon (version, uptime, mount) and per keyspace its snapshots, "
		   "schedules, restore window and disk",
	.opts = OPTS(OPT_JSON),
	.exits = EXITS({2, "the data directory does not exist"}),
	.example = "snapfs status --json",
	.fn = cmd_status,
	.flags = CLI_CLIENT,
    },
    {
	.name = "metrics",
	.summary = "print the numbers of status as OpenMetrics text (node_exporter's textfile "
		   "collector)",
	.text = "Gauges named snapfs_*, per keyspace with a keyspace label, per schedule with\n"
		"keyspace and schedule labels, the same numbers as 'status --json', ending\n"
		"with '# EOF'. When no daemon answers it still prints a document, with\n"
		"snapfs_up 0, and exits 4 (2 when DATA does not exist). Write it to a file\n"
		"atomically (README, Monitoring).",
	.exits = EXITS({2, "the data directory does not exist (prints snapfs_up 0)"}),
	.example = "snapfs metrics > /var/lib/node_exporter/snapfs.prom.$$ && mv "
		   "/var/lib/node_exporter/snapfs.prom.$$ /var/lib/node_exporter/snapfs.prom",
	.fn = cmd_metrics,
	.flags = CLI_CLIENT,
    },
    {
	.name = "version",
	.summary = "show the version of snapfs",
	.example = "snapfs version",
	.fn = cmd_version,
	.flags = CLI_NODATA,
    },
    {
	.name = "help",
	.summary = "show the help of a verb, or the list of verbs",
	.args = ARGS({"VERB", CLI_STRING, CLI_MANY, "a verb, e.g. 'table create'"}),
	.example = "snapfs help table create",
	.fn = cmd_help,
	.flags = CLI_NODATA,
    },

    /* ---- tables and rows ---- */
    {
	.name = "table create",
	.summary = "create a table, hash-split into tablets",
	.args = ARGS(ARG_TABLE),
	.opts = OPTS(CLI_OPT_NUM("tablets", "N", tablets, 1, PARTITION_MAX_TABLETS, 4, 0,
				 "tablets to split the table into")),
	.exits = EXITS({3, "the table exists; a restore is swapping the keyspace"}),
	.example = "snapfs table create app.users --tablets 8",
	.fn = cmd_table_create,
	.flags = CLI_CLIENT,
    },
    {
	.name = "table list",
	.summary = "list the tables: id, name, tablets",
	.opts = OPTS(OPT_JSON),
	.example = "snapfs table list --json",
	.fn = cmd_table_list,
	.flags = CLI_CLIENT,
    },
    {
	.name = "table drop",
	.summary = "drop a table (a scheduled keyspace snapshots it first)",
	.args = ARGS(ARG_TABLE),
	.exits = EXITS({2, "no such table"}),
	.example = "snapfs table drop app.users",
	.fn = cmd_table_drop,
	.flags = CLI_CLIENT,
    },
    {
	.name = "put",
	.summary = "write one row",
	.args = ARGS(ARG_TABLE, ARG_KEY,
		     {"VALUE", CLI_STRING, CLI_ONE, "the row's value (up to 16 MiB)"}),
	.exits = EXITS({2, "no such table"}, {3, "no space left; the table is being restored"}),
	.example = "snapfs put app.users alice '{\"age\": 30}'",
	.fn = cmd_put,
	.flags = CLI_CLIENT,
    },
    {
	.name = "get",
	.summary = "print one row's value, now or at a past time",
	.args = ARGS(ARG_TABLE, ARG_KEY),
	.opts = OPTS(OPT_AT, OPT_SNAPSHOT, OPT_HEX),
	.exits = EXITS({2, "no such table, key (at that time) or snapshot"},
		       {3, "TIME is before the history kept (the message names the earliest)"}),
	.example = "snapfs get app.users alice --at -15m",
	.fn = cmd_get,
	.flags = CLI_CLIENT,
    },
    {
	.name = "del",
	.summary = "delete one row",
	.args = ARGS(ARG_TABLE, ARG_KEY),
	.exits = EXITS({2, "no such table"}, {3, "no space left; the table is being restored"}),
	.example = "snapfs del app.users alice",
	.fn = cmd_del,
	.flags = CLI_CLIENT,
    },
    {
	.name = "scan",
	.summary = "print the rows of a table in key order (KEY<TAB>VALUE per line)",
	.text = "Bytes that are not printable are written \\xNN (a backslash as \\\\).",
	.args = ARGS(ARG_TABLE),
	.opts = OPTS(
	    CLI_OPT_STR("prefix", CLI_STRING, "P", prefix, 0, "only the keys starting with P"),
	    CLI_OPT_NUM("limit", "N", limit, 1, UINT64_MAX, 0, 0, "at most N rows (default: all)"),
	    OPT_AT, OPT_SNAPSHOT, OPT_JSON, OPT_HEX),
	.exits = EXITS({2, "no such table or snapshot"},
		       {3, "TIME is before the history kept (the message names the earliest)"}),
	.example = "snapfs scan app.users --prefix a --limit 10 --json",
	.fn = cmd_scan,
	.flags = CLI_CLIENT,
    },
    {
	.name = "load",
	.summary = "write N generated rows (a demo and benchmark aid)",
	.text = "Keys are key-<i> (zero-padded); values are pseudo-random bytes from the seed,\n"
		"so the same seed writes the same rows.",
	.args = ARGS(ARG_TABLE),
	.opts = OPTS(
	    CLI_OPT_NUM("rows", "N", rows, 1, SNAPFS_LOAD_ROWS_MAX, 0, CLI_REQUIRED,
			"rows to write"),
	    CLI_OPT_NUM("value-size", "BYTES", value_size, 0, VALUE_MAX, 100, 0, "bytes per value"),
	    CLI_OPT_NUM("seed", "S", seed, 0, UINT64_MAX, 0, 0, "seed of the values"), OPT_PROGRESS,
	    OPT_QUIET),
	.exits = EXITS({2, "no such table"}, {3, "no space left; the table is being restored"}),
	.example = "snapfs load demo.items --rows 10000 --seed 1",
	.fn = cmd_load,
	.flags = CLI_CLIENT,
    },

    /* ---- snapshots ---- */
    {
	.name = "snapshot create",
	.summary = "snapshot a keyspace (or some of its tables) at one hybrid time; print its id",
	.args = ARGS({"KS", CLI_KEYSPACE, CLI_ONE, "the keyspace"},
		     {"TABLE", CLI_STRING, CLI_MANY, "only these tables of KS (default: all)"}),
	.opts = OPTS(OPT_PROGRESS, OPT_QUIET),
	.exits = EXITS({2, "no such keyspace or table"},
		       {3, "no space left for the snapshot; a restore is under way"}),
	.example = "snapfs snapshot create app",
	.fn = cmd_snapshot_create,
	.flags = CLI_CLIENT,
    },
    {
	.name = "snapshot list",
	.summary = "list the snapshots: id, state, time, keyspace, bytes, what deleting each frees",
	.text = "BYTES is the size of a snapshot's files (what a copy of it takes); EXCLUSIVE\n"
		"the disk space deleting it would free: its files with no link outside it\n"
		"(not in the live tables, another snapshot or a file still open through the\n"
		"mount), counted in allocated blocks as du does, each file once.",
	.opts = OPTS(CLI_OPT_STR("keyspace", CLI_KEYSPACE, "KS", keyspace, 0,
				 "only the snapshots of keyspace KS"),
		     OPT_JSON),
	.exits = EXITS({2, "no such keyspace"}),
	.example = "snapfs snapshot list --keyspace app --json",
	.fn = cmd_snapshot_list,
	.flags = CLI_CLIENT,
    },
    {
	.name = "snapshot delete",
	.summary = "delete a snapshot (its open files stay readable until closed)",
	.args = ARGS(ARG_SNAPSHOT_ID),
	.exits = EXITS({2, "no such snapshot"}),
	.example = "snapfs snapshot delete 3f2a...",
	.fn = cmd_snapshot_delete,
	.flags = CLI_CLIENT,
    },
    {
	.name = "snapshot export",
	.summary = "write a snapshot's SNAPSHOT.json to FILE ('-': stdout)",
	.args =
	    ARGS(ARG_SNAPSHOT_ID, {"FILE", CLI_PATH, CLI_ONE, "where to write it; '-' for stdout"}),
	.exits = EXITS({2, "no such snapshot; FILE's directory does not exist"},
		       {3, "FILE cannot be written (permission denied, no space left)"}),
	.example = "snapfs snapshot export 3f2a... /backups/3f2a.json",
	.fn = cmd_snapshot_export,
	.flags = CLI_CLIENT,
    },
    {
	.name = "snapshot restore",
	.summary = "restore a snapshot online: all its tables, or one (as another name)",
	.args = ARGS(ARG_SNAPSHOT_ID),
	.opts = OPTS(CLI_OPT_STR("table", CLI_TABLE, "KS.T", table, 0,
				 "restore only this table of the snapshot"),
		     CLI_OPT_STR("as", CLI_TABLE, "KS.T2", as, 0,
				 "restore it into this table (created if absent)"),
		     OPT_PROGRESS, OPT_QUIET),
	.exits = EXITS({2, "no such snapshot, or the table is not in it"},
		       {3, "a restore is under way; no space left"}),
	.example = "snapfs snapshot restore 3f2a... --table app.users --as app.users_old",
	.fn = cmd_snapshot_restore,
	.flags = CLI_CLIENT,
    },

    /* ---- restore points ---- */
    {
	.name = "schedule create",
	.summary = "snapshot a keyspace every interval and keep them for the retention",
	.text = "Also keeps every version of the keyspace's tables for the retention, so\n"
		"'restore --to' can bring it to any time in that window.",
	.args = ARGS({"KS", CLI_KEYSPACE, CLI_ONE, "the keyspace"}),
	.opts = OPTS(CLI_OPT_DUR("interval", interval, CLI_REQUIRED,
				 "time between snapshots: 90s, 15m, 1h, 1h30m, 7d"),
		     CLI_OPT_DUR("retention", retention, CLI_REQUIRED,
				 "how long snapshots and versions are kept")),
	.exits = EXITS({2, "no such keyspace"}, {3, "the keyspace has a schedule already"}),
	.example = "snapfs schedule create app --interval 1h --retention 7d",
	.fn = cmd_schedule_create,
	.flags = CLI_CLIENT,
    },
    {
	.name = "schedule list",
	.summary = "list the schedules: id, keyspace, interval, retention",
	.opts = OPTS(OPT_JSON),
	.example = "snapfs schedule list",
	.fn = cmd_schedule_list,
	.flags = CLI_CLIENT,
    },
    {
	.name = "schedule delete",
	.summary = "delete a schedule and its snapshots",
	.args = ARGS({"ID", CLI_SCHEDULE, CLI_ONE, "a schedule id"}),
	.exits = EXITS({2, "no such schedule"}),
	.example = "snapfs schedule delete 9c41...",
	.fn = cmd_schedule_delete,
	.flags = CLI_CLIENT,
    },
    {
	.name = "restore-point list",
	.summary = "show each scheduled keyspace's restore window: earliest .. latest",
	.opts = OPTS(OPT_JSON),
	.example = "snapfs restore-point list",
	.fn = cmd_restore_point_list,
	.flags = CLI_CLIENT,
    },
    {
	.name = "restore",
	.summary = "bring a keyspace back to exactly TIME (point-in-time recovery)",
	.text = "Uses the first schedule snapshot at or after TIME and hides every version\n"
		"newer than TIME; tables created after TIME are dropped.",
	.args = ARGS({"KS", CLI_KEYSPACE, CLI_ONE, "the keyspace"}),
	.opts = OPTS(CLI_OPT_TIME("to", to, CLI_REQUIRED, NULL,
				  "RFC 3339 (2026-11-23T10:00:00Z), relative (-15m), or a "
				  "hybrid time"),
		     OPT_PROGRESS, OPT_QUIET),
	.exits = EXITS({2, "no such keyspace"},
		       {3, "TIME outside the restore window (named in the message); the "
			   "keyspace has no schedule"}),
	.example = "snapfs restore --to -15m app",
	.fn = cmd_restore_to,
	.flags = CLI_CLIENT,
    },
    {
	.name = "restore list",
	.summary = "list the restorations done: when, from what, the cut, the result",
	.opts = OPTS(OPT_JSON),
	.example = "snapfs restore list --json",
	.fn = cmd_restore_list,
	.flags = CLI_CLIENT,
    },

    /* ---- backups, without a daemon ---- */
    {
	.name = "verify",
	.summary = "check a backup tree (SHA256SUMS, SNAPSHOT.json, every file); change nothing",
	.text = "Reports every bad file, not only the first. Needs no daemon.",
	.args = ARGS({"DIR", CLI_DIR, CLI_ONE, "a copied snapshot directory"}),
	.opts = OPTS(OPT_JSON, OPT_PROGRESS, OPT_QUIET),
	.exits = EXITS({2, "DIR does not exist"},
		       {3, "the backup is bad (each bad file is named), or DIR is not a "
			   "directory"}),
	.example = "snapfs verify /backups/3f2a...",
	.fn = cmd_verify,
	.flags = CLI_NODATA,
    },
    {
	.name = "check",
	.summary = "check a whole data directory offline: records, tablets, snapshots; change "
		   "nothing",
	.text = "Parses every catalog record, the restore journal and the hash cache as the "
		"daemon does at start, reads every tablet and every checkpoint of a COMPLETE "
		"snapshot with RocksDB's checksums verified, and hashes every snapshot file "
		"against its SHA256SUMS. Prints each problem as 'problem: ...'. Refuses a data "
		"directory a daemon serves.",
	.exits = EXITS({2, "DATA does not exist or is not initialised"},
		       {3, "a problem was found (each is printed), or a daemon serves DATA"}),
	.example = "snapfs check --data /var/lib/snapfs",
	.fn = cmd_check,
    },
    {
	.name = "dump",
	.summary = "print a table of a backup tree at its cut, straight from the files",
	.args = ARGS({"DIR", CLI_DIR, CLI_ONE,
		      "a backup tree, DATA/snapshots/<id>, or a snapshot in the mount"}),
	.opts = OPTS(
	    CLI_OPT_STR("table", CLI_TABLE, "KS.TABLE", table, CLI_REQUIRED, "the table to print"),
	    OPT_HEX),
	.exits = EXITS({2, "DIR or its SNAPSHOT.json does not exist; the table is not in it"},
		       {3, "the tree is corrupt"}),
	.example = "snapfs dump /backups/3f2a... --table app.users",
	.fn = cmd_dump,
	.flags = CLI_NODATA,
    },
    {NULL},
};
