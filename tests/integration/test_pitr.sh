#!/usr/bin/env bash
# Restore points: a schedule takes snapshots every second, writes happen at
# known times, and `restore --to` brings the keyspace to exactly those
# times, row for row; DROP TABLE is undone; tables created later go; the
# restore-points tree follows while mounted; retention removes old
# snapshots and old history; schedules survive a restart; a slot missed
# while stopped is taken at start; bad input gets its exit code.
. "$(dirname "$0")/lib.sh"
snapfs_setup

now() { date -u +%FT%T.%6NZ; }
rows() { sf scan "$1"; } # the whole table, KEY<TAB>VALUE

expect_ok sf init
snapfs_serve --mount "$MNT"
expect_ok sf table create app.users --tablets 3
expect_ok sf table create app.orders --tablets 2
expect_ok sf table create other.t --tablets 1
expect_ok sf put other.t k untouched

expect_exit 1 sf schedule create app --interval 1x --retention 1h
expect_exit 1 sf schedule create app --interval 1s --retention 0s
expect_exit 2 sf schedule create nosuch --interval 1s --retention 1m
expect_exit 3 sf restore --to -1s app # no schedule yet
# the retention outlasts the steps and restores below even when they run
# slowly (ASan, a loaded machine); the retention check waits it out
RETENTION=30
expect_ok sf schedule create app --interval 1s --retention ${RETENTION}s
sched=$LAST_OUT
[[ $sched =~ ^[0-9a-f]{32}$ ]] || fail "schedule create printed '$sched'"

# four states at known times
declare -a times states
for step in 1 2 3 4; do
	sleep 1.2
	for i in $(seq 1 20); do
		sf put app.users "user$i" "s${step}v$i" >/dev/null
	done
	sf del app.users "user$step" >/dev/null
	sf put app.orders "order$step" "$step" >/dev/null
	sleep 0.2
	times[step]=$(now)
	states[step]=$(rows app.users; echo ---; rows app.orders)
done
sleep 0.3
users_before_drop=$(rows app.orders)
t_before_drop=$(now)
sleep 0.3
expect_ok sf table drop app.orders
expect_ok sf table create app.later --tablets 1
expect_ok sf put app.later x y
sleep 1.5

# the restore-points tree shows the schedule's snapshots while mounted
n_rp=$(find "$MNT/restore-points/$sched" -mindepth 1 -maxdepth 1 | wc -l)
((n_rp >= 3)) || fail "restore-points/$sched holds $n_rp entries"
rp=$(find "$MNT/restore-points/$sched" -mindepth 1 -maxdepth 1 | sort | head -1)
[[ -f $rp/SNAPSHOT.json && -f $rp/SHA256SUMS ]] || fail "restore point $rp is not a snapshot tree"
(cd "$rp" && sha256sum -c --quiet SHA256SUMS) || fail "restore point checksums"
expect_ok sf restore-point list --json
expect_contains "$LAST_OUT" "\"schedule_id\":\"$sched\""

# outside the window: refused with the window printed
expect_exit 3 sf restore --to 2000-01-01T00:00:00Z app
expect_contains "$LAST_ERR" "outside the restore window"
expect_exit 1 sf restore --to yesterday app

# undo the DROP TABLE: back with its rows; the later table goes
expect_ok sf restore --to "$t_before_drop" app
expect_eq "$(rows app.orders)" "$users_before_drop" "app.orders after undoing its drop"
expect_exit 2 sf scan app.later
expect_eq "$(rows other.t)" "k	untouched" "another keyspace"

# restore to each known time, newest first then oldest, row for row
for step in 4 2 3 1; do
	expect_ok sf restore --to "${times[step]}" app
	got=$(rows app.users; echo ---; rows app.orders)
	expect_eq "$got" "${states[step]}" "state at step $step"
done
# new writes work after a restore and are visible
expect_ok sf put app.users after restore
expect_ok sf get app.users after
expect_eq "$LAST_OUT" "restore"
expect_ok sf restore list --json
expect_contains "$LAST_OUT" '"source":"time"'

# a schedule survives a restart; a slot missed while stopped is taken at start
snapfs_stop
sleep 2
lines=$(wc -l <"$T/serve.log")
snapfs_serve --mount "$MNT"
expect_ok sf schedule list --json
expect_contains "$LAST_OUT" "\"id\":\"$sched\""
# (in this daemon's part of the log: a <(...) here would be read once;
# a snapshot made, not one deleted by retention)
wait_until 10 bash -c 'tail -n +"$1" "$2" | grep -q "$3"' _ $((lines + 1)) "$T/serve.log" \
	"schedule '$sched': snapshot '[0-9a-f]\{32\}' of keyspace 'app' COMPLETE" ||
	fail "no snapshot taken at start for the missed slot"

# retention: snapshots older than RETENTION go (the newest stays), and so
# does history: wait until step 1 is 2 s past it
old_time=${times[1]}
wait_s=$(($(date -d "$old_time" +%s) + RETENTION + 3 - $(date +%s)))
((wait_s <= 0)) || sleep "$wait_s"
expect_ok sf snapshot list --json
# (COMPLETE ones: a CREATING snapshot the tick is taking has no cut yet, its time null)
oldest=$(jq -r --arg s "$sched" '[.[] | select(.schedule_id == $s and .state == "COMPLETE") | .time] | sort | .[0]' <<<"$LAST_OUT")
oldest_s=$(date -d "$oldest" +%s)
(($(date +%s) - oldest_s <= RETENTION + 2)) || fail "a snapshot from $oldest outlived the $RETENTION s retention"
n=$(jq --arg s "$sched" '[.[] | select(.schedule_id == $s)] | length' <<<"$LAST_OUT")
((n >= 1)) || fail "no schedule snapshot left: retention keeps the newest"
((n <= RETENTION + 4)) || fail "$n schedule snapshots: retention does not keep up"
expect_exit 3 sf get app.users user9 --at "$old_time"
expect_exit 3 sf restore --to "$old_time" app
# the tree follows: old restore points are gone from the mount
[[ ! -e $rp ]] || fail "expired restore point $rp still mounted"

expect_ok sf schedule delete "$sched"
expect_exit 2 sf schedule delete "$sched"
snapfs_stop
pass
