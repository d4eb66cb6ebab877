#!/usr/bin/env bash
# Restore by copy-in with a marker (SPEC "Restore by copy-in with a marker").
#
# Refusals: each damaged backup tree copied into DATA/restore/ with the
# _restore marker makes `serve` exit 3 naming the file at fault, and leaves
# DATA exactly as it was (a manifest of every path, size, mtime, mode and
# sha256, DATA/snapfs.log and DATA/snapfs.lock aside), marker and restore/
# included; `snapfs verify` says the same (exit 3) and changes nothing.
# Happy paths: a live DATA (only the backup's tables replaced, a table
# dropped after the snapshot comes back, other tables untouched, versions
# newer than the cut gone, the clock above every restored time), then the
# round trip into a freshly initialised DATA from a tree rsync'ed out of
# the mount.
. "$(dirname "$0")/lib.sh"
snapfs_setup

# manifest DIR [noroot] — every path under DIR (type, size, mtime, mode)
# and the sha256 of every file, the daemon's own snapfs.log and snapfs.lock
# aside; noroot: not DIR's own mtime (which creating snapfs.lock changes).
manifest() {
	(
		cd "$1" &&
			find . \( -path ./snapfs.log -o -path ./snapfs.lock \) -prune -o \
				-printf '%p %y %s %T@ %m\n' | LC_ALL=C sort |
			if [[ ${2:-} == noroot ]]; then sed '/^\. /s/ [0-9.]* \([0-7]*\)$/ - \1/'; else cat; fi &&
			find . \( -path ./snapfs.log -o -path ./snapfs.lock \) -prune -o -type f -print0 |
			LC_ALL=C sort -z | xargs -0 -r sha256sum
	)
}

now_rfc3339() { date -u +%FT%T.%6NZ; }

# SNAPSHOT.json's hybrid time, read and set with sed: jq 1.6 reads numbers
# as doubles and would round it (bash's 64-bit arithmetic holds it)
hybrid_time() { # FILE
	sed -n 's/^ *"hybrid_time": *\([0-9]*\).*/\1/p' "$1"
}
set_hybrid_time() { # FILE VALUE — and wall_time with it: the two must agree
	local us wall
	[[ $(grep -c '^ *"hybrid_time": *[0-9]' "$1") == 1 && $2 =~ ^[0-9]+$ ]] ||
		fail "$1: not one hybrid_time to set to '$2'"
	sed -i "s/^\( *\"hybrid_time\": *\)[0-9]*/\1$2/" "$1"
	us=$(($2 >> 12))
	wall=$(date -u -d "@$((us / 1000000))" +%Y-%m-%dT%H:%M:%S).$(printf '%06d' $((us % 1000000)))Z
	sed -i "s/^\( *\"wall_time\": *\)\"[^\"]*\"/\1\"$wall\"/" "$1"
}

# --- a store, a snapshot, a backup tree out of the mount --------------------
expect_ok sf init
snapfs_serve --mount "$MNT"
expect_ok sf table create ks.a --tablets 2
expect_ok sf table create ks.b --tablets 3
expect_ok sf table create other.c --tablets 2
expect_ok sf load ks.a --rows 4000 --value-size 100
expect_ok sf load ks.b --rows 1500 --value-size 50 --seed 7
expect_ok sf load other.c --rows 500
expect_ok sf put ks.a k1 old
expect_ok sf put ks.a gone-later v
expect_ok sf put ks.b bk b-old
expect_ok sf del ks.a key0000000007
# a time x inside the snapshot: a backup whose cut is moved back to x must
# come back without what was written after x (the hybrid-time filter)
expect_ok sf put ks.a kx before-x
expect_ok sf status --json
ht_x=$(jq -r .hybrid_time <<<"$LAST_OUT")
expect_ok sf put ks.a kx after-x
expect_ok sf put ks.a only-after-x v
expect_ok sf del ks.a key0000000009

# the cut races a writer on ks.a, so the checkpoints may hold versions
# newer than the cut (the restore must hide them)
race_start ks.a
sleep 0.3
expect_ok sf snapshot create ks
id=$LAST_OUT
[[ $id =~ ^[0-9a-f]{32}$ ]] || fail "snapshot create printed '$id'"
race_stop

# the rows at the cut, as the store reads them from the snapshot
scan_to ks.a "$T/cut.a" --snapshot "$id"
scan_to ks.b "$T/cut.b" --snapshot "$id"
grep -qx $'k1\told' "$T/cut.a" || fail "k1 not in the snapshot"

mkdir "$T/backup"
rsync -a "$MNT/snapshots/$id/" "$T/backup/"
(cd "$T/backup" && sha256sum -c --quiet SHA256SUMS) || fail "sha256sum -c of the backup"
# the backup reads offline exactly as the snapshot does
expect_ok sf dump "$T/backup" --table ks.a
[[ $LAST_OUT == "$(<"$T/cut.a")" ]] || fail "dump of the backup differs from scan --snapshot"

# after the snapshot: new values, a delete, a new key, more rows elsewhere,
# a dropped table
t_before_change=$(now_rfc3339)
sleep 0.05
expect_ok sf put ks.a k1 new
expect_ok sf del ks.a gone-later
expect_ok sf put ks.a added-later v
expect_ok sf put other.c c-key c-val
expect_ok sf table drop ks.b
sleep 0.05
t_after_change=$(now_rfc3339)
scan_to ks.a "$T/live.a"
scan_to other.c "$T/live.c"
expect_ok sf table list --json
printf '%s\n' "$LAST_OUT" >"$T/tables.before"
snapfs_stop

# --- verify: a good tree, unchanged by the check ------------------------------
manifest "$T/backup" >"$T/backup.m1"
expect_ok sf verify "$T/backup"
expect_contains "$LAST_OUT" "good backup"
expect_contains "$LAST_OUT" "$id"
manifest "$T/backup" >"$T/backup.m2"
cmp -s "$T/backup.m1" "$T/backup.m2" || fail "verify changed the backup tree"

# --- refusals -----------------------------------------------------------------
# Every case copies the good tree into DATA/restore, drops the marker,
# damages the copy, and expects serve and verify to refuse, naming WANT.
sst_a=$(cd "$T/backup" && find ks/a -name '*.sst' -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
[[ -n $sst_a ]] || fail "no SST in the backup of ks.a"
tab_a=$(dirname "$sst_a")
R=$DATA/restore

flip_byte() { # FILE OFFSET
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059 # the octal escape is the format
	printf "\\$(printf '%03o' $(((b + 1) % 256)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# SHA256SUMS rewritten to match the tree as it is now (a forger's edit)
resum() { # ROOT FILE...
	local root=$1 f sum
	shift
	for f in "$@"; do
		sum=$(cd "$root" && sha256sum "$f" | cut -d' ' -f1)
		sed -i "s|^[0-9a-f]\{64\}  $f\$|$sum  $f|" "$root/SHA256SUMS"
	done
}

damage_flip() { flip_byte "$R/$sst_a" $(($(stat -c %s "$R/$sst_a") / 2)); }
damage_flip_resummed() {
	flip_byte "$R/$sst_a" $(($(stat -c %s "$R/$sst_a") / 2))
	resum "$R" "$sst_a"
}
damage_truncate() { truncate -s -100 "$R/$sst_a"; }
damage_missing() { rm "$R/$sst_a"; }
damage_extra() { echo extra >"$R/$tab_a/EXTRA"; }
damage_extra_listed() { # an extra file that SHA256SUMS lists but SNAPSHOT.json does not
	echo extra >"$R/$tab_a/EXTRA"
	(cd "$R" && sha256sum "$tab_a/EXTRA") >>"$R/SHA256SUMS"
	LC_ALL=C sort -k2 -o "$R/SHA256SUMS" "$R/SHA256SUMS"
}
damage_json() { # an earlier cut: still valid JSON
	set_hybrid_time "$R/SNAPSHOT.json" $(($(hybrid_time "$R/SNAPSHOT.json") - (1 << 20)))
}
damage_json_resummed() { # a file size off by one, SHA256SUMS made to match
	local size
	size=$(stat -c %s "$R/$sst_a")
	# SNAPSHOT.json is json-c's pretty print: a file's "name" line, then its
	# "size" line
	awk -v name="\"name\": \"$(basename "$sst_a")\"" -v size="$size" '
		index($0, name) { file = 1 }
		file && $1 == "\"size\":" && $2 + 0 == size { sub(/[0-9]+/, size + 1); n++ }
		/}/ { file = 0 }
		{ print }
		END { exit n == 0 }' "$R/SNAPSHOT.json" >"$T/snapshot.json" ||
		fail "no file of $(basename "$sst_a") with size $size in SNAPSHOT.json"
	cat "$T/snapshot.json" >"$R/SNAPSHOT.json"
	resum "$R" SNAPSHOT.json
}
damage_json_dotdot() { # the keyspace name leaves the tree, SHA256SUMS made to match
	sed -i 's/"keyspace": *"ks"/"keyspace": "..\/..\/ks"/' "$R/SNAPSHOT.json"
	resum "$R" SNAPSHOT.json
}
damage_dotdot() { # SHA256SUMS names a file outside the tree
	echo outside >"$DATA/outside"
	(cd "$R" && sha256sum ../outside) >>"$R/SHA256SUMS"
}
damage_symlink() { # an SST replaced by a symlink to an identical copy outside
	cp "$R/$sst_a" "$T/outside.sst"
	rm "$R/$sst_a"
	ln -s "$T/outside.sst" "$R/$sst_a"
}
damage_symlink_dir() { # a tablet directory replaced by a symlink to a copy
	cp -a "$R/$tab_a" "$T/outside-tablet"
	rm -r "${R:?}/$tab_a"
	ln -s "$T/outside-tablet" "$R/$tab_a"
}

refuse() { # CASE WANT... — damage, then serve and verify must refuse naming WANT
	local case=$1 want
	shift
	rm -rf "$R" "$T/outside.sst" "$T/outside-tablet" "$DATA/outside"
	cp -a "$T/backup" "$R"
	touch "$DATA/_restore"
	"damage_$case"
	manifest "$DATA" >"$T/data.before"
	expect_serve_exit 3
	for want in "$@"; do
		expect_contains "$LAST_ERR" "$want" "$case: serve's message"
	done
	expect_contains "$LAST_ERR" "snapfs: error: " "$case: serve's message"
	manifest "$DATA" >"$T/data.after"
	cmp -s "$T/data.before" "$T/data.after" ||
		fail "$case: the refused restore changed DATA: $(diff "$T/data.before" "$T/data.after" | head -8)"
	[[ -e $DATA/_restore && -d $R ]] || fail "$case: marker or restore/ gone after a refusal"
	[[ ! -e $DATA/restore.journal ]] || fail "$case: a journal after a refusal"
	expect_exit 3 sf verify "$R"
	for want in "$@"; do
		expect_contains "$LAST_ERR" "$want" "$case: verify's message"
	done
	manifest "$DATA" >"$T/data.after"
	cmp -s "$T/data.before" "$T/data.after" || fail "$case: verify changed DATA"
	echo "ok: refused $case: $(printf '%s\n' "$LAST_ERR" | head -1)"
}

refuse flip "'$sst_a': checksum mismatch"
refuse flip_resummed "tablet '$tab_a'"
refuse truncate "'$sst_a': truncated"
refuse missing "'$sst_a': missing"
refuse extra "'$tab_a/EXTRA': not listed in SHA256SUMS"
refuse extra_listed "'$tab_a/EXTRA': not in SNAPSHOT.json"
refuse json "'SNAPSHOT.json': checksum mismatch"
refuse json_resummed "'$sst_a': truncated"
refuse json_dotdot "SNAPSHOT.json" "keyspace"
refuse dotdot "SHA256SUMS" "'..'"
refuse symlink "symlink '$sst_a'"
refuse symlink_dir "symlink '$tab_a'"

# restore/ without a marker: ignored with a warning, the store serves as before
rm -f "$DATA/_restore" "$DATA/outside"
rm -rf "$R" "$T/outside.sst" "$T/outside-tablet"
cp -a "$T/backup" "$R"
manifest "$R" >"$T/restore.before"
snapfs_serve
grep -q "warning: '$R' exists but there is no marker" "$T/serve.log" ||
	fail "no warning about restore/ without a marker"
same_scan ks.a "$T/live.a" "restore/ without marker"
expect_exit 2 sf scan ks.b --limit 1
expect_ok sf restore list --json
[[ $LAST_OUT == "[]" ]] || fail "a restoration recorded without a marker: $LAST_OUT"
snapfs_stop
manifest "$R" >"$T/restore.after"
cmp -s "$T/restore.before" "$T/restore.after" || fail "restore/ without a marker was changed"
echo "ok: restore/ without a marker ignored"

# a marker without restore/: refused, nothing changed, the marker stays
rm -rf "$R"
touch "$DATA/_restore"
manifest "$DATA" >"$T/data.before"
expect_serve_exit 3
expect_contains "$LAST_ERR" "_restore"
expect_contains "$LAST_ERR" "no backup tree at '$R'"
manifest "$DATA" >"$T/data.after"
cmp -s "$T/data.before" "$T/data.after" || fail "marker without restore/: DATA changed"
[[ -e $DATA/_restore ]] || fail "marker without restore/: the marker is gone"
echo "ok: refused a marker without restore/"

# --- happy path on a live DATA ------------------------------------------------
cp -a "$T/backup" "$R"
# restore/ may be copied in with any tool; a tree with the modes rsync -a keeps
snapfs_serve
expect_ok sf restore list --json
[[ $LAST_OUT == *"\"snapshot_id\":\"$id\""* ]] || fail "restore list does not show $id: $LAST_OUT"
[[ $LAST_OUT == *'"source":"backup tree"'* ]] || fail "restore list source: $LAST_OUT"
[[ $LAST_OUT == *'"result":"ok"'* ]] || fail "restore list result: $LAST_OUT"
grep -q "restored snapshot '$id' of keyspace 'ks' (2 tables)" "$T/serve.log" ||
	fail "the log does not say what was restored"
[[ ! -e $DATA/_restore && ! -e $R && ! -e $DATA/restore.journal ]] ||
	fail "marker, restore/ or journal left after success: $(ls "$DATA")"
same_scan ks.a "$T/cut.a" "live restore"
same_scan ks.b "$T/cut.b" "live restore (table dropped after the snapshot)"
same_scan other.c "$T/live.c" "live restore (a table not in the backup)"
expect_ok sf get ks.a k1
expect_eq "$LAST_OUT" old "k1 after the restore"
expect_exit 2 sf get ks.a added-later
expect_ok sf get ks.a gone-later
expect_tables "ks.a/2 ks.b/3 other.c/2" "tables after the restore (ks.b back)"
# versions newer than the cut never show: not now, not at a past time
for at in "$t_before_change" "$t_after_change" -1s; do
	rc=0
	out=$("$SNAPFS" get ks.a k1 --at "$at" 2>"$T/get.err") || rc=$?
	[[ $out != new ]] || fail "get --at $at shows the hidden version"
	# the value at the cut, or refused (3): history before the restore is not kept
	[[ ($rc == 0 && $out == old) || $rc == 3 ]] ||
		fail "get --at $at: exit $rc, printed '$out': $(cat "$T/get.err")"
	rc=0
	"$SNAPFS" scan ks.a --at "$at" >"$T/at.scan" 2>"$T/get.err" || rc=$?
	! grep -q $'^added-later\t' "$T/at.scan" || fail "scan --at $at shows a hidden row"
	((rc == 3)) || { ((rc == 0)) && cmp -s "$T/at.scan" "$T/cut.a"; } ||
		fail "scan --at $at: exit $rc, not the rows at the cut"
done
# the clock runs on above every restored time: new writes land and show
expect_ok sf restore list --json
ht_cut=$(jq -r '[.[].cut_hybrid_time] | max' <<<"$LAST_OUT")
expect_ok sf put ks.a k1 after-restore
expect_ok sf get ks.a k1
expect_eq "$LAST_OUT" after-restore "a write after the restore"
# (a hybrid time from the clock: after a restart it may run ahead of the wall)
expect_ok sf status --json
ht_mid=$(jq -r .hybrid_time <<<"$LAST_OUT")
expect_ok sf put ks.a k1 later
expect_ok sf get ks.a k1 --at "$ht_mid"
expect_eq "$LAST_OUT" after-restore "get --at between two writes after the restore"
expect_ok sf get ks.a k1
expect_eq "$LAST_OUT" later
expect_ok sf put ks.b bk b-new
expect_ok sf get ks.b bk
expect_eq "$LAST_OUT" b-new
expect_ok sf status --json
ht_now=$(jq -r .hybrid_time <<<"$LAST_OUT")
[[ -n $ht_now && -n $ht_cut ]] || fail "no hybrid_time in status or restore list"
((ht_now > ht_cut)) || fail "clock $ht_now not above the cut $ht_cut"
# a snapshot of the restored store is complete and holds the new rows
expect_ok sf snapshot create ks
id2=$LAST_OUT
expect_ok sf get ks.a k1 --snapshot "$id2"
expect_eq "$LAST_OUT" later "snapshot after the restore"
snapfs_stop
# after a restart, the same
snapfs_serve
expect_ok sf get ks.a k1
expect_eq "$LAST_OUT" later "k1 after a restart"
same_scan other.c "$T/live.c" "other.c after a restart"
snapfs_stop
echo "ok: restore into a live DATA"

# --- round trip into a freshly initialised DATA -------------------------------
DATA=$T/data2
export SNAPFS_DATA=$DATA
R=$DATA/restore
# on an empty DATA (no init): a bad backup is refused and creates nothing...
mkdir "$DATA"
cp -a "$T/backup" "$R"
touch "$DATA/_restore"
sst=$(find "$R" -name '*.sst' | sort | head -1)
cp "$sst" "$T/sst.good"
printf 'X' | dd of="$sst" bs=1 seek=100 conv=notrunc status=none
manifest "$DATA" noroot >"$T/data.before"
expect_serve_exit 3
expect_contains "$LAST_ERR" "$(basename "$sst")"
manifest "$DATA" noroot >"$T/data.after"
cmp -s "$T/data.before" "$T/data.after" || fail "empty DATA: a refused restore changed it: $(diff "$T/data.before" "$T/data.after" | head -5)"
[[ ! -e $DATA/catalog ]] || fail "a refused restore initialised DATA"
# ...and a good one initialises it and restores (disaster recovery)
cp "$T/sst.good" "$sst"
snapfs_serve --mount "$MNT"
same_scan ks.a "$T/cut.a" "fresh DATA"
same_scan ks.b "$T/cut.b" "fresh DATA (table dropped after the snapshot)"
# the backup's tables, nothing else (other.c was never in it)
expect_tables "ks.a/2 ks.b/3" "tables in a fresh DATA after the restore"
expect_exit 2 sf scan other.c --limit 1
expect_ok sf restore list
expect_contains "$LAST_OUT" "$id"
[[ ! -e $DATA/_restore && ! -e $R && ! -e $DATA/restore.journal ]] || fail "leftovers in fresh DATA"
expect_ok sf put ks.a k1 fresh
expect_ok sf get ks.a k1
expect_eq "$LAST_OUT" fresh
# and the restored data backs up again: a snapshot through the mount verifies
expect_ok sf snapshot create ks
id3=$LAST_OUT
wait_until 10 test -e "$MNT/snapshots/$id3/SHA256SUMS" || fail "snapshot $id3 not in the mount"
expect_ok sf verify "$MNT/snapshots/$id3"
snapfs_stop
echo "ok: round trip into a fresh DATA"

# --- a cut moved back inside the snapshot: versions after it are gone -------
cp -a "$T/backup" "$T/backup-x"
set_hybrid_time "$T/backup-x/SNAPSHOT.json" "$ht_x"
resum "$T/backup-x" SNAPSHOT.json
expect_ok sf verify "$T/backup-x"
expect_ok sf dump "$T/backup-x" --table ks.a
printf '%s\n' "$LAST_OUT" >"$T/x.a"
grep -qx $'kx\tbefore-x' "$T/x.a" || fail "dump at x: kx is not before-x"
grep -q $'^only-after-x\t' "$T/x.a" && fail "dump at x: a row written after x"
grep -q $'^key0000000009\t' "$T/x.a" || fail "dump at x: a row deleted after x is missing"
DATA=$T/data3
export SNAPFS_DATA=$DATA
expect_ok sf init
cp -a "$T/backup-x" "$DATA/restore"
touch "$DATA/_restore"
snapfs_serve
same_scan ks.a "$T/x.a" "restore at x"
expect_ok sf get ks.a kx
expect_eq "$LAST_OUT" before-x "kx after a restore at x"
expect_exit 2 sf get ks.a only-after-x
expect_ok sf put ks.a kx after-restore
expect_ok sf get ks.a kx
expect_eq "$LAST_OUT" after-restore
snapfs_stop
echo "ok: restore at a cut inside the snapshot hides the later versions"
pass
