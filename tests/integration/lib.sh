# tests/integration/lib.sh — sourced by every tests/integration/test_*.sh.
#
# An integration test starts the real daemon in the foreground, talks to it
# with the real client, reads the real mount with real rsync/tar/sha256sum,
# and always cleans up: unmount, kill what it started, remove its temp dir.
# It fails if the daemon dies, if a log holds a sanitizer report, or if it
# runs past its own timeout. ctest runs each file as `bash FILE` with
# SNAPFS_BIN (the built snapfs) and SNAPFS_SRC (the source dir) set.
#
#     #!/usr/bin/env bash
#     . "$(dirname "$0")/lib.sh"
#     snapfs_setup
#     sf init
#     snapfs_serve --mount "$MNT"
#     sf table create demo.items --tablets 2
#     expect_exit 0 sf snapshot create demo
#     id=$LAST_OUT
#     rsync -a "$MNT/snapshots/$id/" "$T/backup/"
#     (cd "$T/backup" && sha256sum -c --quiet SHA256SUMS) || fail "checksums"
#     snapfs_stop
#     pass
#
# After snapfs_setup:
#   T        the test's temp dir (removed at exit; kept on failure when
#            SNAPFS_TEST_KEEP=1)
#   DATA     $T/data, not created (snapfs init does that); exported as
#            SNAPFS_DATA, so every client finds it without --data
#   MNT      $T/mnt, created empty
#   SNAPFS   absolute path of the snapfs binary under test
#   TEST_NAME  the test file's name without .sh
#
# Knobs (environment): TEST_TIMEOUT (300 s, the whole test), SERVE_TIMEOUT
# (60 s, until serve is ready), STOP_TIMEOUT (30 s, until it has exited).
#
# Helpers exit the test with `fail` (or `skip`, exit 77, when it cannot run
# here); call them from the test's own shell, not inside $(...), where a
# failure would only end the subshell.
# shellcheck shell=bash

SANITIZER_PATTERNS=("ERROR: AddressSanitizer" "runtime error:" "LeakSanitizer" "WARNING: ThreadSanitizer")

# fail MSG... — print "FAIL: <test>: MSG" on stderr and end the test with 1.
fail() {
	echo "FAIL: ${TEST_NAME:-test}: $*" >&2
	exit 1
}

# skip MSG... — the test cannot run here (a device, a privilege or a tool
# it needs is missing): print "SKIP: <test>: MSG" and end the test with 77,
# which ctest counts as skipped (SKIP_RETURN_CODE), never as passed. Call
# it before the checks it stands for, never to hide a failing one.
skip() {
	echo "SKIP: ${TEST_NAME:-test}: $*" >&2
	exit 77
}

# require_cmd PACKAGE CMD... — skip unless every CMD is on PATH. PACKAGE is
# the Debian package that has them; scripts/test installs it (the test
# group of scripts/lib/deps.sh), so only a bare ctest run can skip here.
require_cmd() {
	local pkg=$1 cmd
	shift
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null ||
			skip "no '$cmd' on PATH (Debian package $pkg; scripts/test installs it)"
	done
}

# pass [NAME] — print "ok: NAME" (default: the test's name), after checking
# the daemon logs for sanitizer reports so far.
pass() {
	[[ -z ${T:-} ]] || _snapfs_check_logs
	echo "ok: ${1:-${TEST_NAME:-test}}"
}

# expect_eq ACTUAL EXPECTED [MSG] — fail unless the two strings are equal.
expect_eq() {
	[[ $1 == "$2" ]] ||
		fail "${3:-values differ}: expected '$2', got '$1'"
}

# expect_contains HAYSTACK NEEDLE [MSG] — fail unless NEEDLE (a fixed
# string) is in HAYSTACK.
expect_contains() {
	[[ $1 == *"$2"* ]] ||
		fail "${3:-missing text}: expected to find '$2' in: $1"
}

# expect_not_contains HAYSTACK NEEDLE [MSG] — the opposite.
expect_not_contains() {
	[[ $1 != *"$2"* ]] ||
		fail "${3:-unexpected text}: did not expect '$2' in: $1"
}

# expect_exit CODE CMD [ARG...] — run CMD, fail unless it exits with CODE.
# Sets LAST_RC, LAST_OUT (stdout) and LAST_ERR (stderr), trailing newlines
# stripped; the raw bytes stay in $T/last.out and $T/last.err. Fails too if
# stderr holds a sanitizer report (UBSan halts with exit 1, like a usage error).
expect_exit() {
	local want=$1
	shift
	LAST_RC=0
	"$@" >"$T/last.out" 2>"$T/last.err" </dev/null || LAST_RC=$?
	LAST_OUT=$(<"$T/last.out")
	LAST_ERR=$(<"$T/last.err")
	if _snapfs_sanitizer_report "$T/last.err"; then
		fail "sanitizer report from: $*"
	fi
	if [[ $LAST_RC != "$want" ]]; then
		{
			echo "--- stdout of: $*"
			printf '%s\n' "$LAST_OUT"
			echo "--- stderr"
			printf '%s\n' "$LAST_ERR"
		} >&2
		fail "exit code of '$*': expected $want, got $LAST_RC"
	fi
}

# expect_ok CMD [ARG...] — expect_exit 0 CMD [ARG...].
expect_ok() {
	expect_exit 0 "$@"
}

# wait_until SECONDS CMD [ARG...] — run CMD every 0.1 s until it succeeds;
# returns 1 (does not fail the test) if it has not after SECONDS.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# is_mounted PATH — true if PATH is a mount point in /proc/mounts (a dead
# FUSE mount included: stat-based checks fail on those).
is_mounted() {
	local want mp _
	want=$(_snapfs_mount_escape "$(realpath -ms -- "$1")")
	while read -r _ mp _; do
		[[ $mp == "$want" ]] && return 0
	done </proc/mounts
	return 1
}

# sf ARG... — run the snapfs under test ($SNAPFS_DATA is the test's DATA).
sf() {
	"$SNAPFS" "$@"
}

# scan_to TABLE FILE [ARG...] — a full `snapfs scan` (with ARG...) into FILE.
scan_to() {
	local t=$1 f=$2
	shift 2
	expect_ok sf scan "$t" "$@"
	printf '%s\n' "$LAST_OUT" >"$f"
}

# same_scan TABLE FILE WHAT — fail unless a full scan of TABLE equals FILE.
same_scan() {
	expect_ok sf scan "$1"
	printf '%s\n' "$LAST_OUT" >"$T/now.scan"
	cmp -s "$T/now.scan" "$2" ||
		fail "$3: $1 differs from $2: $(diff "$2" "$T/now.scan" | head -5)"
}

# test_helper NAME — the path of a helper program built from
# tests/integration/NAME.c: $SNAPFS_BUILD/tests/ (by default the build dir
# of the snapfs under test); fails if it is not there.
test_helper() {
	local p=${SNAPFS_BUILD:-$(dirname "$SNAPFS")}/tests/$1
	[[ -x $p ]] || fail "no test helper at $p (build the tree, or set SNAPFS_BUILD)"
	printf '%s\n' "$p"
}

# json_rows FILTER — run jq -r FILTER on each row of a --json listing read
# from stdin (one array, or one object per line). --json prints hybrid
# times as strings; a number above 2^53 (SNAPSHOT.json's hybrid_time) jq
# 1.6 (Debian 12) would round: read that one with sed.
json_rows() {
	jq -r "if type == \"array\" then .[] else . end | $1"
}

# expect_tables WANT [MSG] — `snapfs table list` holds exactly WANT: its
# tables as KS.NAME/TABLETS, sorted, separated by spaces.
expect_tables() {
	expect_ok sf table list --json
	expect_eq "$(printf '%s\n' "$LAST_OUT" | json_rows '"\(.keyspace).\(.name)/\(.tablets)"' |
		LC_ALL=C sort | paste -sd' ')" "$1" "${2:-tables listed}"
}

# race_start TABLE — a writer in the background putting race0, race1, ...
# into TABLE one after the other until race_stop; every put must succeed.
race_start() {
	rm -f "$T/race.stop" "$T/race.err" "$T/race.count"
	(
		i=0
		while [[ ! -e $T/race.stop ]]; do
			"$SNAPFS" put "$1" "race$i" "r$i" >/dev/null 2>"$T/race.err" || exit 1
			i=$((i + 1))
			echo "$i" >"$T/race.count"
		done
	) &
	_RACE_PID=$!
}

# race_stop — stop the race_start writer; fail if a put failed or none was
# made. Sets RACE_PUTS.
race_stop() {
	touch "$T/race.stop"
	wait "$_RACE_PID" || fail "a racing put failed: $(cat "$T/race.err")"
	RACE_PUTS=$(cat "$T/race.count" 2>/dev/null) || RACE_PUTS=0
	((RACE_PUTS > 0)) || fail "the racing writer made no put"
}

# wait_crashed POINT — the daemon started by snapfs_serve with
# SNAPFS_CRASH_AT=POINT has aborted there (checked in its log); forget it.
wait_crashed() {
	local i
	for ((i = 0; i < 200; i++)); do
		kill -0 "$SNAPFS_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$SNAPFS_PID" 2>/dev/null && fail "daemon did not crash at $1"
	wait "$SNAPFS_PID" 2>/dev/null || true
	_snapfs_forget_daemon
	grep -q "crash injected at '$1'" "$T/serve.log" || fail "no crash at $1"
}

# snapfs_setup — start a test: temp dir, variables, cleanup trap, watchdog.
snapfs_setup() {
	set -euo pipefail
	TEST_NAME=$(basename "$0" .sh)
	local src
	src=${SNAPFS_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
	SNAPFS=${SNAPFS_BIN:-$src/build/snapfs}
	SNAPFS=$(realpath -m "$SNAPFS")
	[[ -x $SNAPFS ]] || fail "no snapfs binary at $SNAPFS (build first, or set SNAPFS_BIN)"

	T=$(mktemp -d /tmp/snapfs-test.XXXXXX)
	DATA=$T/data
	MNT=$T/mnt
	mkdir "$MNT"
	: >"$T/serve.log"
	export SNAPFS_DATA=$DATA
	SNAPFS_PID=
	_SNAPFS_MAIN_PID=$$

	trap _snapfs_cleanup EXIT
	trap '_snapfs_on_signal INT 130' INT
	trap '_snapfs_on_signal TERM 143' TERM
	_snapfs_start_watchdog "${TEST_TIMEOUT:-300}"
}

# snapfs_serve [ARG...] — start `snapfs serve --data $DATA --foreground ARG...`
# in the background (output appended to $T/serve.log, pid in SNAPFS_PID) and
# wait until `snapfs status` answers and, with --mount DIR, DIR is mounted.
# Fails, printing the log, if the daemon exits first or is not ready in
# SERVE_TIMEOUT seconds.
snapfs_serve() {
	local mnt="" arg prev="" rc=0
	for arg in "$@"; do
		[[ $prev == --mount ]] && mnt=$arg
		[[ $arg == --mount=* ]] && mnt=${arg#--mount=}
		prev=$arg
	done
	if [[ -n $SNAPFS_PID ]] && kill -0 "$SNAPFS_PID" 2>/dev/null; then
		fail "snapfs_serve: a daemon (pid $SNAPFS_PID) is still running"
	fi
	if [[ -n $mnt && ! -c /dev/fuse ]]; then
		skip "no /dev/fuse on this machine, cannot mount"
	fi

	echo "=== $(date -u +%FT%TZ) snapfs serve --data $DATA --foreground $*" >>"$T/serve.log"
	"$SNAPFS" serve --data "$DATA" --foreground "$@" </dev/null >>"$T/serve.log" 2>&1 &
	SNAPFS_PID=$!
	echo "$SNAPFS_PID" >"$T/serve.pid"

	local deadline=$((SECONDS + ${SERVE_TIMEOUT:-60}))
	while :; do
		if ! kill -0 "$SNAPFS_PID" 2>/dev/null; then
			wait "$SNAPFS_PID" || rc=$?
			_snapfs_forget_daemon
			fail "snapfs serve exited with status $rc before it was ready"
		fi
		if "$SNAPFS" status --data "$DATA" >/dev/null 2>&1 &&
			{ [[ -z $mnt ]] || is_mounted "$mnt"; }; then
			break
		fi
		if ((SECONDS >= deadline)); then
			fail "snapfs serve not ready after ${SERVE_TIMEOUT:-60} s${mnt:+ (mount $mnt)}"
		fi
		sleep 0.1
	done
	_snapfs_check_logs
}

# snapfs_stop — `snapfs stop`, then wait for the daemon to exit with status 0
# and its mount (if any) to be gone. Fails on a sanitizer report in the logs.
snapfs_stop() {
	local rc=0
	[[ -n $SNAPFS_PID ]] || fail "snapfs_stop: no daemon started by snapfs_serve"
	"$SNAPFS" stop --data "$DATA" || rc=$?
	((rc == 0)) || fail "snapfs stop exited with status $rc"

	local deadline=$((SECONDS + ${STOP_TIMEOUT:-30}))
	while kill -0 "$SNAPFS_PID" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			fail "daemon (pid $SNAPFS_PID) still running ${STOP_TIMEOUT:-30} s after snapfs stop"
		fi
		sleep 0.1
	done
	wait "$SNAPFS_PID" || rc=$?
	_snapfs_forget_daemon
	_snapfs_check_logs
	if ((rc != 0)); then
		fail "daemon exited with status $rc after snapfs stop"
	fi
	if is_mounted "$MNT"; then
		fail "$MNT still mounted after snapfs stop"
	fi
}

# expect_serve_exit CODE [ARG...] — start `snapfs serve --foreground ARG...`
# and expect it to exit on its own with CODE (a refused restore: 3) within
# SERVE_TIMEOUT; fail if it becomes ready instead. Sets LAST_RC and LAST_ERR
# (this run's output only).
expect_serve_exit() {
	local want=$1 pid deadline log="$T/serve-refused.log"
	shift
	LAST_RC=0
	echo "=== $(date -u +%FT%TZ) snapfs serve --data $DATA --foreground $* (expect exit $want)" >>"$T/serve.log"
	"$SNAPFS" serve --data "$DATA" --foreground "$@" </dev/null >"$log" 2>&1 &
	pid=$!
	SNAPFS_PID=$pid
	echo "$pid" >"$T/serve.pid"
	deadline=$((SECONDS + ${SERVE_TIMEOUT:-60}))
	while kill -0 "$pid" 2>/dev/null; do
		if "$SNAPFS" status --data "$DATA" >/dev/null 2>&1; then
			cat "$log" >>"$T/serve.log"
			fail "snapfs serve became ready; expected it to exit with $want"
		fi
		((SECONDS < deadline)) || fail "snapfs serve still running after ${SERVE_TIMEOUT:-60} s; expected exit $want"
		sleep 0.1
	done
	wait "$pid" || LAST_RC=$?
	_snapfs_forget_daemon
	cat "$log" >>"$T/serve.log"
	LAST_ERR=$(<"$log")
	_snapfs_check_logs
	if [[ $LAST_RC != "$want" ]]; then
		printf '%s\n' "--- output of snapfs serve" "$LAST_ERR" >&2
		fail "snapfs serve exited with $LAST_RC, expected $want"
	fi
}

# --- internals ---------------------------------------------------------------

_snapfs_forget_daemon() {
	SNAPFS_PID=
	: >"$T/serve.pid"
}

# _snapfs_mounts_under DIR — the mount points at or below DIR, deepest first.
_snapfs_mounts_under() {
	local dir mp _
	local -a found=()
	dir=$(_snapfs_mount_escape "$1")
	while read -r _ mp _; do
		[[ $mp == "$dir" || $mp == "$dir"/* ]] && found+=("$(printf '%b' "$mp")")
	done </proc/mounts
	((${#found[@]})) || return 0
	printf '%s\n' "${found[@]}" | sort -r
}

# _snapfs_unmount_all — lazily unmount everything mounted under $T.
_snapfs_unmount_all() {
	local mp
	local -a mps
	mapfile -t mps < <(_snapfs_mounts_under "$T")
	for mp in "${mps[@]}"; do
		fusermount3 -u -z "$mp" >/dev/null 2>&1 || umount -l "$mp" >/dev/null 2>&1
	done
	return 0
}

# _snapfs_children PID — the pids whose parent is PID (from /proc, no procps).
_snapfs_children() {
	local st ppid pid
	for st in /proc/[0-9]*/status; do
		ppid=$(grep -s '^PPid:' "$st") || continue
		[[ ${ppid//[!0-9]/} == "$1" ]] || continue
		pid=${st#/proc/}
		printf '%s\n' "${pid%/status}"
	done
	return 0
}

# /proc/mounts writes space, tab, newline and backslash as octal escapes.
_snapfs_mount_escape() {
	local s=$1
	s=${s//\\/\\134}
	s=${s// /\\040}
	s=${s//$'\t'/\\011}
	s=${s//$'\n'/\\012}
	printf '%s' "$s"
}

# _snapfs_sanitizer_report FILE... — true (and prints the report) if a FILE
# holds a sanitizer report.
_snapfs_sanitizer_report() {
	local f p ret=1
	for f in "$@"; do
		[[ -f $f ]] || continue
		for p in "${SANITIZER_PATTERNS[@]}"; do
			if grep -qF -- "$p" "$f"; then
				echo "--- sanitizer report in $f:" >&2
				grep -F -A 40 -- "$p" "$f" | head -n 80 >&2
				ret=0
				break
			fi
		done
	done
	return $ret
}

_snapfs_logs() {
	printf '%s\n' "$T/serve.log"
	[[ -f $DATA/snapfs.log ]] && printf '%s\n' "$DATA/snapfs.log"
	return 0
}

_snapfs_check_logs() {
	local -a logs
	mapfile -t logs < <(_snapfs_logs)
	if _snapfs_sanitizer_report "${logs[@]}"; then
		_SNAPFS_SAN_REPORTED=1
		fail "sanitizer report in the daemon log"
	fi
}

_snapfs_show_log() {
	echo "--- last 100 lines of $T/serve.log:" >&2
	tail -n 100 "$T/serve.log" >&2 || true
}

# Stop the daemon: SIGTERM, up to 10 s, then SIGKILL. Reaps it.
_snapfs_kill_daemon() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || {
		wait "$pid" 2>/dev/null
		return 0
	}
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "cleanup: daemon $pid ignored SIGTERM for 10 s, sending SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

_snapfs_on_signal() {
	if [[ -e $T/.timed_out ]]; then
		echo "FAIL: ${TEST_NAME:-test}: timed out after ${TEST_TIMEOUT:-300} s (TEST_TIMEOUT)" >&2
		exit 124
	fi
	echo "FAIL: ${TEST_NAME:-test}: interrupted by SIG$1" >&2
	exit "$2"
}

_snapfs_cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [[ -n ${_SNAPFS_WATCHDOG_PID:-} ]]; then
		kill -TERM "$_SNAPFS_WATCHDOG_PID" 2>/dev/null
		wait "$_SNAPFS_WATCHDOG_PID" 2>/dev/null
	fi
	_snapfs_unmount_all
	[[ -n ${SNAPFS_PID:-} ]] && _snapfs_kill_daemon "$SNAPFS_PID"
	_snapfs_unmount_all
	local -a logs
	mapfile -t logs < <(_snapfs_logs)
	if [[ -z ${_SNAPFS_SAN_REPORTED:-} ]] && _snapfs_sanitizer_report "${logs[@]}"; then
		echo "FAIL: ${TEST_NAME:-test}: sanitizer report in the daemon log" >&2
		((rc != 0 && rc != 77)) || rc=1 # a report is a failure, never a skip
	fi
	if ((rc != 0 && rc != 77)) && [[ -s $T/serve.log ]]; then
		_snapfs_show_log
	fi
	if [[ -n $(_snapfs_mounts_under "$T") ]]; then
		echo "cleanup: something under $T is still mounted; leaving it in place" >&2
	elif ((rc != 0)) && [[ ${SNAPFS_TEST_KEEP:-0} == 1 ]]; then
		echo "cleanup: kept $T (SNAPFS_TEST_KEEP=1)" >&2
	else
		rm -rf --one-file-system "$T"
	fi
	exit "$rc"
}

# The watchdog: after SECS, SIGTERM the test (its trap cleans up). A bash
# trap waits for the running command, and a command stuck on a hung FUSE
# mount never returns, so 5 s later it unmounts, SIGKILLs the daemon and
# SIGTERMs the test's other children, which unblocks the test; 10 s after
# that it SIGKILLs the test and cleans up in its place. It never holds the
# test's stdout, so ctest does not wait on it.
_snapfs_start_watchdog() {
	local secs=$1
	(
		set +e
		trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
		sleep "$secs" &
		sleeper=$!
		wait "$sleeper"
		: >"$T/.timed_out"
		echo "watchdog: ${TEST_NAME:-test} ran past ${secs} s, stopping it" >&2
		kill -TERM "$_SNAPFS_MAIN_PID" 2>/dev/null
		sleep 5 & sleeper=$! && wait "$sleeper"
		kill -0 "$_SNAPFS_MAIN_PID" 2>/dev/null || exit 0
		_snapfs_unmount_all
		pid=$(cat "$T/serve.pid" 2>/dev/null) || pid=
		[[ -z $pid ]] || kill -KILL "$pid" 2>/dev/null
		for pid in $(_snapfs_children "$_SNAPFS_MAIN_PID"); do
			[[ $pid == "$BASHPID" ]] || kill -TERM "$pid" 2>/dev/null
		done
		sleep 10 & sleeper=$! && wait "$sleeper"
		kill -0 "$_SNAPFS_MAIN_PID" 2>/dev/null || exit 0
		echo "watchdog: ${TEST_NAME:-test} still alive, SIGKILL" >&2
		kill -KILL "$_SNAPFS_MAIN_PID" 2>/dev/null
		_snapfs_unmount_all
		[[ -n $(_snapfs_mounts_under "$T") ]] || rm -rf --one-file-system "$T"
	) </dev/null >/dev/null &
	_SNAPFS_WATCHDOG_PID=$!
}
