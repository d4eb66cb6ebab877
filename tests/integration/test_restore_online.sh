#!/usr/bin/env bash
# Online restore: `snapfs snapshot restore ID [--table KS.T] [--as KS.T2]`
# while serving. A whole snapshot, one table, one table into a new table
# (the original left alone), a table dropped after the snapshot; versions
# newer than the cut hidden; writes to other tables carry on untouched,
# writes to the table being swapped either land or are refused with 3;
# the snapshot itself stays intact; after a restart nothing is left over.
. "$(dirname "$0")/lib.sh"
snapfs_setup

jfield() { # JSON FIELD — the value of FIELD in the JSON object
	jq -r --arg f "$2" '.[$f]' <<<"$1"
}

# live tablet directories against the catalog: no orphan, none missing
check_tablet_dirs() { # WHAT
	local want have
	expect_ok sf table list --json
	want=$(jq '[.[].tablets] | add // 0' <<<"$LAST_OUT")
	have=$(find "$DATA/tablets" -mindepth 2 -maxdepth 2 -type d -name 'tablet-*' ! -name '*.snapshots' | wc -l)
	((want == have)) || fail "$1: $have live tablet directories, the catalog has $want tablets"
}

expect_ok sf init
snapfs_serve --mount "$MNT"
expect_ok sf table create ks.a --tablets 3
expect_ok sf table create ks.b --tablets 2
expect_ok sf table create ks.c --tablets 2
expect_ok sf table create other.d --tablets 2
expect_ok sf load ks.a --rows 3000 --value-size 64
expect_ok sf load ks.b --rows 1000 --seed 3
expect_ok sf load ks.c --rows 500 --seed 4
expect_ok sf put ks.a k1 old
expect_ok sf put ks.a gone-later v
expect_ok sf put ks.b bk b-old

# the cut races a writer on ks.a: versions newer than the cut may land in
# the checkpoints, and the restore must hide them
race_start ks.a
sleep 0.3
expect_ok sf snapshot create ks a b
id=$LAST_OUT
race_stop
scan_to ks.a "$T/snap.a" --snapshot "$id"
scan_to ks.b "$T/snap.b" --snapshot "$id"
grep -qx $'k1\told' "$T/snap.a" || fail "k1 not in the snapshot"

# changes after the snapshot
expect_ok sf put ks.a k1 new
expect_ok sf del ks.a gone-later
expect_ok sf put ks.a added-later v
expect_ok sf put ks.b bk b-new
expect_ok sf put ks.c ck c-new
scan_to ks.a "$T/live.a"
scan_to ks.b "$T/live.b"
scan_to ks.c "$T/live.c"
cmp -s "$T/live.a" "$T/snap.a" && fail "ks.a did not change after the snapshot"

# a writer on a table outside the snapshot carries on through every restore
(
	i=1
	while [[ ! -e $T/stop-d ]]; do
		"$SNAPFS" put other.d "$(printf 'd%07d' "$i")" "v$i" 2>>"$T/d.err" || {
			echo "put $i failed" >>"$T/d.err"
			exit 1
		}
		echo "$i" >"$T/d.last"
		i=$((i + 1))
	done
) &
dwriter=$!
wait_until 30 test -s "$T/d.last" || fail "writer on other.d did not start"

# --- refusals: bad requests change nothing ------------------------------------
expect_exit 2 sf snapshot restore 0123456789abcdef0123456789abcdef
expect_exit 1 sf snapshot restore "$id" --as ks.a2
expect_exit 2 sf snapshot restore "$id" --table ks.zz
expect_contains "$LAST_ERR" "ks.zz"
expect_exit 2 sf snapshot restore "$id" --table ks.c
expect_exit 3 sf snapshot restore "$id" --table ks.a --as ks.b
expect_contains "$LAST_ERR" "ks.b"
same_scan ks.a "$T/live.a" "after refused requests"
same_scan ks.b "$T/live.b" "after refused requests"
expect_ok sf restore list --json
[[ $LAST_OUT == "[]" ]] || fail "refused requests recorded a restoration: $LAST_OUT"
[[ ! -e $DATA/restore.journal && ! -e $DATA/restore-staging ]] || fail "leftovers of refused requests"

# --- one table into a new table: the original is left alone -------------------
expect_ok sf snapshot restore "$id" --table ks.a --as ks.a2
same_scan ks.a2 "$T/snap.a" "restore --as ks.a2"
same_scan ks.a "$T/live.a" "the original of --as"
expect_ok sf get ks.a2 k1
expect_eq "$LAST_OUT" old
expect_ok sf snapshot restore "$id" --table ks.b --as copy.b
same_scan copy.b "$T/snap.b" "restore --as copy.b (a new keyspace)"
expect_ok sf put ks.a2 k1 a2-new
expect_ok sf get ks.a2 k1
expect_eq "$LAST_OUT" a2-new "a write into the restored copy"
expect_ok sf get ks.a k1
expect_eq "$LAST_OUT" new "the original after a write into the copy"
echo "ok: restore --table --as"

# --- one table in place, while a writer hammers it ----------------------------
# its puts either land or are refused (3) while the table is swapped; the
# rows of the snapshot come back exactly, and every put that succeeded after
# the restore returned is there
(
	i=0
	while [[ ! -e $T/stop-w ]]; do
		after=0
		[[ -e $T/restored ]] && after=1
		rc=0
		"$SNAPFS" put ks.a "w$i" "x" >/dev/null 2>&1 || rc=$?
		echo "$i $rc $after" >>"$T/w.log"
		i=$((i + 1))
	done
) &
wwriter=$!
wait_until 30 test -s "$T/w.log" || fail "writer on ks.a did not start"
expect_ok sf snapshot restore "$id" --table ks.a
touch "$T/restored"
wait_until 30 grep -q ' 1$' "$T/w.log" || fail "writer on ks.a made no put after the restore"
touch "$T/stop-w"
wait "$wwriter"
awk '$2 != 0 && $2 != 3 { print; bad = 1 } END { exit bad }' "$T/w.log" ||
	fail "a put during the restore exited with neither 0 nor 3"
scan_to ks.a "$T/after.a"
grep -v $'^w[0-9]*\t' "$T/after.a" >"$T/after.a.nw" || true
cmp -s "$T/after.a.nw" "$T/snap.a" ||
	fail "ks.a after restore --table: $(diff "$T/snap.a" "$T/after.a.nw" | head -5)"
n_after=0
while read -r i rc after; do
	[[ $after == 1 ]] || continue
	# begun once the restore had returned: the table is no longer busy
	[[ $rc == 0 ]] || fail "put w$i, begun after the restore returned, exited $rc"
	grep -q "^w$i"$'\t' "$T/after.a" || fail "put w$i succeeded after the restore but is gone"
	n_after=$((n_after + 1))
done <"$T/w.log"
((n_after > 0)) || fail "no put began after the restore returned"
echo "ok: restore --table in place ($(wc -l <"$T/w.log") concurrent puts, $(grep -c ' 3 ' "$T/w.log" || true) refused while swapping)"
same_scan ks.b "$T/live.b" "ks.b after restoring only ks.a"
same_scan ks.c "$T/live.c" "ks.c after restoring only ks.a"
expect_ok sf get ks.a k1
expect_eq "$LAST_OUT" old "k1 after the restore"
expect_exit 2 sf get ks.a added-later
# the clock runs on above every restored time: new writes land and show
expect_ok sf put ks.a k1 after-restore
expect_ok sf get ks.a k1
expect_eq "$LAST_OUT" after-restore
expect_ok sf status --json
ht_mid=$(jfield "$LAST_OUT" hybrid_time)
expect_ok sf put ks.a k1 later
expect_ok sf get ks.a k1 --at "$ht_mid"
expect_eq "$LAST_OUT" after-restore "get --at between two writes after the restore"
expect_ok sf get ks.a k1
expect_eq "$LAST_OUT" later
# a version hidden by the restore never shows again, at any time
for at in -1s -2s -5s "$ht_mid"; do
	rc=0
	out=$("$SNAPFS" get ks.a k1 --at "$at" 2>/dev/null) || rc=$?
	[[ $out != new ]] || fail "get --at $at shows the version hidden by the restore"
	[[ $rc == 0 || $rc == 3 ]] || fail "get --at $at: exit $rc"
done

# --- the whole snapshot --------------------------------------------------------
expect_ok sf snapshot restore "$id"
same_scan ks.a "$T/snap.a" "whole snapshot: ks.a"
same_scan ks.b "$T/snap.b" "whole snapshot: ks.b"
same_scan ks.c "$T/live.c" "whole snapshot: ks.c (not in it)"
echo "ok: restore of the whole snapshot"

# --- a table dropped after the snapshot comes back ----------------------------
expect_ok sf table drop ks.b
expect_exit 2 sf scan ks.b --limit 1
expect_ok sf snapshot restore "$id" --table ks.b
same_scan ks.b "$T/snap.b" "dropped table restored"
expect_ok sf put ks.b bk b-again
expect_ok sf get ks.b bk
expect_eq "$LAST_OUT" b-again
echo "ok: a dropped table restored"

# --- restores at the same time: each one lands --------------------------------
# (they share the journal: unserialised, one's clean-up removed the other's)
for r in 1 2 3; do
	pids=()
	for i in 1 2 3 4; do
		"$SNAPFS" snapshot restore "$id" --table ks.b --as "par.b$r$i" >"$T/par.b$r$i" 2>&1 &
		pids+=($!)
	done
	for i in 1 2 3 4; do
		wait "${pids[i - 1]}" || fail "concurrent restore par.b$r$i: $(cat "$T/par.b$r$i")"
	done
done
for r in 1 2 3; do
	for i in 1 2 3 4; do
		same_scan "par.b$r$i" "$T/snap.b" "concurrent restores"
	done
done
echo "ok: concurrent restores"

# --- the other tables carried on ------------------------------------------------
touch "$T/stop-d"
wait "$dwriter" || fail "the writer on other.d failed: $(cat "$T/d.err")"
last=$(<"$T/d.last")
scan_to other.d "$T/d.scan"
seq -f 'd%07g' 1 "$last" | cmp -s - <(cut -f1 "$T/d.scan") ||
	fail "other.d does not hold exactly d1..d$last"
echo "ok: other.d took $last writes during the restores"

# --- recorded, the snapshot intact, nothing left over ---------------------------
expect_ok sf restore list --json
n=$(jq '[.[] | select(."source" == "snapshot")] | length' <<<"$LAST_OUT")
((n == 17)) || fail "restore list: $n restorations from a snapshot, expected 17: $LAST_OUT"
expect_contains "$LAST_OUT" "\"snapshot_id\":\"$id\""
expect_contains "$LAST_OUT" '"tables":["a2"]' "the record of --as ks.a2"
expect_contains "$LAST_OUT" '"tables":["copy.b"]' "the record of --as copy.b"
expect_ok sf restore list
expect_contains "$LAST_OUT" "$id"
grep -q "restored snapshot '$id' table ks.a as ks.a2 online" "$T/serve.log" ||
	fail "the log does not say what was restored"
scan_to ks.a "$T/snap.a.again" --snapshot "$id"
cmp -s "$T/snap.a" "$T/snap.a.again" || fail "the snapshot reads differently after the restores"
expect_ok sf verify "$MNT/snapshots/$id"
[[ ! -e $DATA/restore.journal && ! -e $DATA/restore-staging ]] || fail "journal or staging left over: $(find "$DATA/restore.journal" "$DATA/restore-staging" 2>/dev/null)"
check_tablet_dirs "after the restores"
scan_to ks.a "$T/final.a"
scan_to ks.a2 "$T/final.a2"
scan_to ks.b "$T/final.b"
snapfs_stop

# a restart reads the same, and a snapshot of restored tables completes
snapfs_serve
same_scan ks.a "$T/final.a" "ks.a after a restart"
same_scan ks.a2 "$T/final.a2" "ks.a2 after a restart"
same_scan ks.b "$T/final.b" "ks.b after a restart"
check_tablet_dirs "after a restart"
expect_ok sf snapshot create ks
expect_ok sf scan ks.a --snapshot "$LAST_OUT"
printf '%s\n' "$LAST_OUT" | cmp -s - "$T/final.a" || fail "a snapshot of the restored ks.a differs"
snapfs_stop
pass
