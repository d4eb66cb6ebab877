#!/usr/bin/env bash
# test_signals: signals, logs and systemd readiness (issue 13 item 3).
#
# What must hold: a detached daemon logs to DATA/snapfs.log; SIGHUP never
# stops it; after the log is renamed (as logrotate does) SIGHUP makes it
# write to a new DATA/snapfs.log while the old one keeps what was before;
# SIGTERM and SIGINT stop it cleanly (lock released, socket removed, exit
# logged); in the foreground the log is stderr and SIGHUP only says so;
# with $NOTIFY_SOCKET (systemd's Type=notify) it sends READY=1 once its
# socket answers and STOPPING=1 on the way down.
. "$(dirname "$0")/lib.sh"
snapfs_setup

log=$DATA/snapfs.log
daemon_pid() { cat "$DATA/snapfs.lock"; }

expect_ok sf init
# ---- detached: SIGHUP reopens the log, keeps serving ------------------------------
expect_ok sf serve
SNAPFS_PID=$(daemon_pid) # the harness kills it if the test fails
expect_ok sf table create demo.t --tablets 1
expect_ok sf put demo.t k1 v1
grep -q "table 'demo.t' created" "$log" || fail "the detached daemon does not log to $log"

kill -HUP "$SNAPFS_PID"
wait_until 10 grep -q "SIGHUP: log reopened" "$log" || fail "no reopen logged after SIGHUP"
kill -0 "$SNAPFS_PID" 2>/dev/null || fail "SIGHUP stopped the daemon"
expect_ok sf status

mv "$log" "$log.1"
kill -HUP "$SNAPFS_PID"
wait_until 10 test -s "$log" || fail "SIGHUP after a rename did not reopen $log"
expect_ok sf table create demo.u --tablets 1
wait_until 10 grep -q "table 'demo.u' created" "$log" || fail "new lines do not go to the new log"
grep -q "table 'demo.u' created" "$log.1" && fail "new lines still go to the renamed log"
grep -q "table 'demo.t' created" "$log.1" || fail "the renamed log lost its lines"
expect_ok sf get demo.t k1
expect_eq "$LAST_OUT" v1 "a read after two SIGHUPs"

# a log that cannot be reopened: the daemon goes on with the old file
mv "$log" "$log.2"
mkdir "$log" # now a directory: open fails
kill -HUP "$SNAPFS_PID"
wait_until 10 grep -q "cannot reopen" "$log.2" || fail "no message when the log cannot be reopened"
expect_ok sf status
rmdir "$log"
kill -HUP "$SNAPFS_PID"
wait_until 10 test -s "$log" || fail "no reopen once the log can be made again"

# ---- SIGTERM stops cleanly ---------------------------------------------------------
pid=$SNAPFS_PID
kill -TERM "$pid"
wait_until 30 bash -c '! kill -0 "$0" 2>/dev/null' "$pid" || fail "SIGTERM did not stop the daemon"
SNAPFS_PID=
grep -q "signal 15: shutting down" "$log" || fail "SIGTERM not logged"
grep -q "stopped$" "$log" || fail "no clean stop logged after SIGTERM"
[[ ! -e $DATA/snapfs.sock ]] || fail "socket left after SIGTERM"
flock -n "$DATA/snapfs.lock" true || fail "lock still held after SIGTERM"

# ---- SIGINT too, and a restart keeps the data ------------------------------------
expect_ok sf serve
pid=$(daemon_pid)
SNAPFS_PID=$pid
expect_ok sf get demo.t k1
kill -INT "$pid"
wait_until 30 bash -c '! kill -0 "$0" 2>/dev/null' "$pid" || fail "SIGINT did not stop the daemon"
SNAPFS_PID=
grep -q "signal 2: shutting down" "$log" || fail "SIGINT not logged"

# ---- foreground, as under systemd: stderr, READY=1 and STOPPING=1 ---------------
sock=$T/notify.sock
socat -u "UNIX-RECV:$sock" - >"$T/notify.out" &
socat_pid=$!
wait_until 10 test -S "$sock" || fail "socat did not listen on $sock"
NOTIFY_SOCKET=$sock snapfs_serve
wait_until 10 grep -q "READY=1" "$T/notify.out" || fail "no READY=1 from the daemon: $(cat "$T/notify.out")"
before=$(wc -l <"$log")
kill -HUP "$SNAPFS_PID"
wait_until 10 grep -q "SIGHUP: logging to stderr, nothing to reopen" "$T/serve.log" ||
	fail "SIGHUP in the foreground not logged to stderr"
expect_eq "$(wc -l <"$log")" "$before" "lines written to snapfs.log in the foreground"
expect_ok sf status
snapfs_stop
wait_until 10 grep -q "STOPPING=1" "$T/notify.out" || fail "no STOPPING=1: $(cat "$T/notify.out")"
kill "$socat_pid" 2>/dev/null || true
wait "$socat_pid" 2>/dev/null || true
pass
