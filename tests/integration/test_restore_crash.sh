#!/usr/bin/env bash
# Crash injection into restores (SNAPFS_CRASH_AT=<point> makes the daemon
# abort there). For the marker restore at start and for the online one, at
# every named step: the daemon dies; the next start, itself crashed once
# more in the middle of finishing (restore-after-filter is reached again by
# every roll-forward), and then a clean start must leave each table either
# entirely as before or entirely as in the snapshot (full scans compared),
# all restored tables alike, the others untouched, one restoration recorded,
# and no journal, marker, restore/, staging dir or orphan tablet left.
. "$(dirname "$0")/lib.sh"
snapfs_setup
ulimit -c 0

# state TABLE — "old" or "new" when a full scan equals one of them, else fails
state() {
	scan_to "$1" "$T/now.scan"
	if cmp -s "$T/now.scan" "$T/new.$1"; then
		echo new
	elif cmp -s "$T/now.scan" "$T/old.$1"; then
		echo old
	else
		fail "$point: $1 is neither the old nor the restored table: $(diff "$T/new.$1" "$T/now.scan" | head -4)"
	fi
}

check_tablet_dirs() { # live tablet directories against the catalog
	local want have
	expect_ok sf table list --json
	want=$(jq '[.[].tablets] | add // 0' <<<"$LAST_OUT")
	have=$(find "$DATA/tablets" -mindepth 2 -maxdepth 2 -type d -name 'tablet-*' ! -name '*.snapshots' | wc -l)
	((want == have)) || fail "$point: $have live tablet directories, the catalog has $want tablets"
}

no_leftovers() {
	local f
	for f in _restore restore restore.journal restore-staging; do
		[[ ! -e $DATA/$f ]] || fail "$point: DATA/$f left over"
	done
}

# a start that finishes the restore: crashed once more in the roll-forward,
# then a clean one
finish_after_crash() {
	SNAPFS_CRASH_AT=restore-after-filter expect_serve_exit 134
	expect_contains "$LAST_ERR" "finishing a restore cut short" "$point: second start"
	expect_contains "$LAST_ERR" "crash injected at 'restore-after-filter'" "$point: second start"
	snapfs_serve
	grep -q "finished the restore of snapshot '$id' cut short by a crash" "$T/serve.log" ||
		fail "$point: the log does not say the restore was finished"
}

# --- the store, a snapshot of ks.a and ks.b, changes after it -----------------
expect_ok sf init
snapfs_serve --mount "$MNT"
expect_ok sf table create ks.a --tablets 3
expect_ok sf table create ks.b --tablets 2
expect_ok sf table create other.c --tablets 2
expect_ok sf load ks.a --rows 3000 --value-size 64
expect_ok sf load ks.b --rows 1000 --seed 5
expect_ok sf load other.c --rows 300 --seed 6
expect_ok sf put ks.a k1 old
# writes race the cut, so the filter has versions newer than it to hide
race_start ks.a
sleep 0.3
expect_ok sf snapshot create ks
id=$LAST_OUT
race_stop
scan_to ks.a "$T/new.ks.a" --snapshot "$id"
scan_to ks.b "$T/new.ks.b" --snapshot "$id"
expect_ok sf put ks.a k1 changed
expect_ok sf put ks.a added v
expect_ok sf del ks.a key0000000003
expect_ok sf put ks.b bk changed
expect_ok sf put other.c ck v
scan_to ks.a "$T/old.ks.a"
scan_to ks.b "$T/old.ks.b"
scan_to other.c "$T/old.other.c"
mkdir "$T/backup"
rsync -a "$MNT/snapshots/$id/" "$T/backup/"
snapfs_stop
cp -a "$DATA" "$T/pristine"

reset_data() {
	rm -rf "$DATA"
	cp -a "$T/pristine" "$DATA"
	: >"$T/serve.log"
}

# --- marker restore at start ----------------------------------------------------
for point in restore-after-journal restore-after-first-move restore-after-moves \
	restore-after-filter restore-after-commit restore-after-first-removal; do
	reset_data
	cp -a "$T/backup" "$DATA/restore"
	touch "$DATA/_restore"
	SNAPFS_CRASH_AT=$point expect_serve_exit 134
	expect_contains "$LAST_ERR" "crash injected at '$point'"
	[[ -e $DATA/restore.journal ]] || fail "$point: no journal after the crash"
	finish_after_crash
	sa=$(state ks.a)
	sb=$(state ks.b)
	[[ $sa == "$sb" ]] || fail "$point: a mix: ks.a is $sa, ks.b is $sb"
	[[ $sa == new ]] || fail "$point: the journaled restore was not finished"
	[[ $(state other.c) == old ]] || fail "$point: other.c changed"
	no_leftovers
	check_tablet_dirs
	expect_ok sf restore list --json
	n=$(jq '[.[] | select(."source" == "backup tree")] | length' <<<"$LAST_OUT")
	((n == 1)) || fail "$point: $n restorations recorded, expected 1: $LAST_OUT"
	expect_ok sf put ks.a k1 after
	expect_ok sf get ks.a k1
	expect_eq "$LAST_OUT" after "$point: a write after the restore"
	snapfs_stop
	echo "ok: marker restore crashed at $point: ks.a and ks.b $sa"
done

# --- online restore -------------------------------------------------------------
for point in online-restore-after-journal restore-after-first-move restore-after-moves \
	restore-after-filter restore-after-commit restore-after-first-removal; do
	reset_data
	SNAPFS_CRASH_AT=$point snapfs_serve
	expect_exit 4 sf snapshot restore "$id" --table ks.a
	wait_crashed "$point"
	[[ -e $DATA/restore.journal ]] || fail "$point: no journal after the crash"
	finish_after_crash
	sa=$(state ks.a)
	[[ $sa == new ]] || fail "$point: the journaled restore was not finished"
	[[ $(state ks.b) == old ]] || fail "$point: ks.b changed (only ks.a was restored)"
	[[ $(state other.c) == old ]] || fail "$point: other.c changed"
	no_leftovers
	check_tablet_dirs
	expect_ok sf restore list --json
	n=$(jq '[.[] | select(."source" == "snapshot")] | length' <<<"$LAST_OUT")
	((n == 1)) || fail "$point: $n restorations recorded, expected 1: $LAST_OUT"
	scan_to ks.a "$T/snap.again" --snapshot "$id"
	cmp -s "$T/snap.again" "$T/new.ks.a" || fail "$point: the snapshot reads differently"
	expect_ok sf put ks.a k1 after
	expect_ok sf get ks.a k1
	expect_eq "$LAST_OUT" after "$point: a write after the restore"
	snapfs_stop
	echo "ok: online restore crashed at $point: ks.a $sa"
done

# an online restore cut short, then a marker dropped before the restart:
# the start finishes the one and then restores the other (never ignores a
# marker, which would restore at some later start instead)
point=online-then-marker
reset_data
SNAPFS_CRASH_AT=restore-after-moves snapfs_serve
expect_exit 4 sf snapshot restore "$id" --table ks.b
wait_crashed restore-after-moves
cp -a "$T/backup" "$DATA/restore"
touch "$DATA/_restore"
snapfs_serve
grep -q "finished the restore of snapshot '$id' cut short by a crash; then restored snapshot '$id'" \
	"$T/serve.log" || fail "$point: the log does not say both restores were done"
[[ $(state ks.a) == new && $(state ks.b) == new ]] || fail "$point: not restored"
no_leftovers
check_tablet_dirs
expect_ok sf restore list --json
n=$(jq '[.[] | select(."result" == "ok")] | length' <<<"$LAST_OUT")
((n == 2)) || fail "$point: $n restorations recorded, expected 2: $LAST_OUT"
snapfs_stop
echo "ok: an online restore cut short, then a marker: both done at the next start"

# an online restore cut short before its journal (killed while staging):
# the old table, and the staged copies removed at the next start
reset_data
snapfs_serve
mkdir -p "$DATA/restore-staging/0123456789abcdef0123456789abcdef"
kill -KILL "$SNAPFS_PID"
wait "$SNAPFS_PID" 2>/dev/null || true
SNAPFS_PID=
point=before-journal
snapfs_serve
[[ $(state ks.a) == old ]] || fail "before-journal: ks.a changed"
no_leftovers
check_tablet_dirs
snapfs_stop
echo "ok: a restore cut short before its journal leaves the old state"

# --- a restore to a time cut short: tables created after it go too ------------
# (their drop is in the restore's own catalog batch and clean-up)
reset_data
snapfs_serve
expect_ok sf schedule create ks --interval 1s --retention 1h
sleep 1.3
t_before=$(date -u +%FT%T.%6NZ)
sleep 0.2
expect_ok sf table create ks.later --tablets 2
expect_ok sf put ks.later x y
expect_ok sf table drop ks.b
expect_ok sf table create ks.b --tablets 1 # dropped and made again after the time
expect_ok sf put ks.b new-b v
sleep 1.3
snapfs_stop
cp -a "$DATA" "$T/pitr"
for point in restore-after-filter restore-after-commit restore-after-first-removal; do
	rm -rf "$DATA"
	cp -a "$T/pitr" "$DATA"
	: >"$T/serve.log"
	SNAPFS_CRASH_AT=$point snapfs_serve
	expect_exit 4 sf restore --to "$t_before" ks
	wait_crashed "$point"
	[[ -e $DATA/restore.journal ]] || fail "$point: no journal after the crash"
	snapfs_serve
	expect_exit 2 sf scan ks.later
	[[ $(state ks.b) == old ]] || fail "$point: ks.b is not the one before the time"
	no_leftovers
	check_tablet_dirs
	expect_ok sf restore list --json
	expect_contains "$LAST_OUT" '"dropped":["later"]' "$point: the restore record"
	snapfs_stop
	echo "ok: a restore to a time crashed at $point: ks.later gone, ks.b as it was"
done
pass
