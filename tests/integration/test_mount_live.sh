#!/usr/bin/env bash
# The tree changes while mounted, without a remount: a snapshot appears
# when COMPLETE (and a negative lookup cached before does not hide it),
# `latest` and tables/<ks>/<table>/<id> follow, a deleted snapshot
# disappears; readers listing snapshots/ while snapshots are made never
# see one half made; a file opened before its snapshot is deleted (its
# table dropped too, so its last link goes) reads to the end with the right
# bytes, even with the page cache dropped, while new opens fail; it is
# kept as a hold in DATA/view-holds that goes when the reader closes, and
# a daemon killed with a hold open leaves nothing behind at its next start.
. "$(dirname "$0")/lib.sh"
TEST_TIMEOUT=${TEST_TIMEOUT:-120}
snapfs_setup
require_cmd util-linux-extra fincore

listing() { ls "$MNT/snapshots" | sort | tr '\n' ' '; }
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' '; }

expect_ok sf init
snapfs_serve --mount "$MNT"
expect_ok sf table create live.items --tablets 4
expect_ok sf table create live.big --tablets 1
expect_ok sf load live.items --rows 400 --value-size 1000
expect_ok sf load live.big --rows 6000 --value-size 4000

# ---- nothing yet; negative lookups are cached by the kernel ----
expect_eq "$(listing)" "" "snapshots/ before any snapshot"
[[ ! -e $MNT/snapshots/latest ]] || fail "latest exists without a snapshot"
[[ ! -e $MNT/tables/live ]] || fail "tables/live exists without a snapshot"

# ---- a snapshot appears ----
expect_ok sf snapshot create live
A=$LAST_OUT
expect_eq "$(listing)" "$(sorted "$A" latest)" "snapshots/ after the first snapshot"
expect_eq "$(readlink "$MNT/snapshots/latest")" "$A" "latest after A"
[[ -f $MNT/snapshots/latest/SNAPSHOT.json ]] || fail "latest/SNAPSHOT.json after A"
expect_eq "$(ls "$MNT/tables/live")" $'big\nitems' "tables/live after A"
expect_eq "$(readlink "$MNT/tables/live/items/$A")" "../../../snapshots/$A" "tables link of A"
(cd "$MNT/snapshots/$A" && sha256sum -c --quiet SHA256SUMS) || fail "checksums of A"

# a name looked up (and cached as absent) before its snapshot exists
for i in 1 2 3; do sf put live.items "k$i" "v$i" >/dev/null; done
expect_ok sf snapshot create live items
B=$LAST_OUT
expect_eq "$(listing)" "$(sorted "$A" "$B" latest)" "snapshots/ after B"
expect_eq "$(readlink "$MNT/snapshots/latest")" "$B" "latest after B"
expect_eq "$(cat "$MNT/snapshots/latest/SNAPSHOT.json" | grep -c "\"$B\"")" 1 "latest/ shows B"
expect_eq "$(ls "$MNT/tables/live/items" | sort | tr '\n' ' ')" "$(sorted "$A" "$B")" "tables/live/items after B"
expect_eq "$(ls "$MNT/tables/live/big")" "$A" "tables/live/big after B (items only)"
expect_ok sf snapshot create live
C=$LAST_OUT
expect_eq "$(listing)" "$(sorted "$A" "$B" "$C" latest)" "snapshots/ after C"
expect_eq "$(readlink "$MNT/snapshots/latest")" "$C" "latest after C"

# ---- a snapshot disappears ----
expect_ok sf snapshot delete "$C"
expect_eq "$(listing)" "$(sorted "$A" "$B" latest)" "snapshots/ after deleting C"
[[ ! -e $MNT/snapshots/$C ]] || fail "deleted snapshot C still resolves"
expect_eq "$(readlink "$MNT/snapshots/latest")" "$B" "latest after deleting C"
[[ ! -e $MNT/tables/live/items/$C ]] || fail "tables link of the deleted C still there"
expect_eq "$(ls "$MNT/tables/live/big")" "$A" "tables/live/big after deleting C"
expect_ok sf snapshot delete "$B"
expect_eq "$(readlink "$MNT/snapshots/latest")" "$A" "latest after deleting B"
expect_eq "$(ls "$MNT/tables/live/items")" "$A" "tables/live/items after deleting B"

# ---- readers never see a snapshot half made ----
# a reader lists snapshots/ over and over; every snapshot it lists must be
# whole: its metadata there, every file of its SHA256SUMS there and right.
(
	set +e
	checked=0
	deadline=$((SECONDS + 60))
	# ends on its own if the test dies first (its cleanup removes $T)
	while [[ -d $T && ! -e $T/stop-reader ]] && ((SECONDS < deadline)); do
		for d in "$MNT"/snapshots/*; do
			s=${d##*/}
			[[ $s == latest || $s == '*' ]] && continue
			[[ -e $T/seen.$s ]] && continue
			if [[ ! -f $d/SNAPSHOT.json || ! -f $d/SHA256SUMS ]]; then
				echo "listed $s without its metadata" >"$T/reader.err"
				exit 1
			fi
			if ! (cd "$d" && sha256sum -c --quiet SHA256SUMS >/dev/null 2>"$T/reader.sums"); then
				echo "listed $s but its files do not check: $(head -3 "$T/reader.sums")" >"$T/reader.err"
				exit 1
			fi
			: >"$T/seen.$s"
			checked=$((checked + 1))
		done
	done
	echo "$checked" >"$T/reader.count"
) &
reader=$!
made=()
for i in 1 2 3 4 5 6; do
	sf put live.items "race$i" "v$i" >/dev/null
	expect_ok sf snapshot create live items
	made+=("$LAST_OUT")
done
sleep 1
touch "$T/stop-reader"
wait "$reader" || fail "the reader: $(cat "$T/reader.err" 2>/dev/null)"
echo "the reader checked $(cat "$T/reader.count") snapshots while they were made"
for s in "${made[@]}"; do
	[[ -e $T/seen.$s ]] || fail "the reader never saw snapshot $s"
done
expect_eq "$(readlink "$MNT/snapshots/latest")" "${made[5]}" "latest after the race"
for s in "${made[@]}"; do expect_ok sf snapshot delete "$s"; done
expect_eq "$(listing)" "$(sorted "$A" latest)" "snapshots/ after deleting the race's snapshots"

# ---- reading a file while its snapshot is deleted ----
big=$(ls "$MNT/snapshots/$A"/live/big/tablet-*/*.sst)
[[ $(printf '%s\n' "$big" | wc -l) == 1 ]] || fail "live.big has $(printf '%s\n' "$big" | wc -l) SSTs, expected 1"
size=$(stat -c %s "$big")
((size > 16 * 1024 * 1024)) || fail "the big SST has $size bytes, expected more than 16 MiB"
rel=${big#"$MNT/snapshots/$A/"}
want=$(grep "  $rel\$" "$DATA/snapshots/$A/SHA256SUMS" | cut -c1-64)
manifest=$(ls "$MNT/snapshots/$A"/live/big/tablet-*/MANIFEST-*)
mrel=${manifest#"$MNT/snapshots/$A/"}
mwant=$(grep "  $mrel\$" "$DATA/snapshots/$A/SHA256SUMS" | cut -c1-64)
tablet=$(basename "$(dirname "$big")")
native=$(echo "$DATA"/tablets/table-*/"$tablet.snapshots/$A/$(basename "$big")")
[[ -f $native && $(stat -c %i "$native") == $(stat -c %i "$big") ]] || fail "no native file for $big"
exec 7<"$big" 9<"$manifest"
dd bs=1M count=1 iflag=fullblock <&7 >"$T/big.part" 2>/dev/null || fail "reading the first MiB of $big"
expect_eq "$(stat -c %s "$T/big.part")" 1048576 "first part read"
# drop the table (its live tablet's links go) and the snapshot (the last link)
expect_ok sf table drop live.big
expect_ok sf snapshot delete "$A"
[[ ! -e $native ]] || fail "$native still exists after its table and snapshot went"
[[ ! -e $big ]] || fail "$big still resolves after its snapshot was deleted"
if cat "$big" >/dev/null 2>&1; then fail "a new open of a deleted snapshot's file succeeded"; fi
expect_eq "$(listing)" "" "snapshots/ after deleting the last one"
holds() { find "$DATA/view-holds" -type f 2>/dev/null | wc -l; }
# the two open files are held; A's other files, looked up but not open,
# are forgotten by the kernel at once (told they are deleted)
wait_until 10 eval '[[ $(holds) == 2 ]]' || fail "$(holds) holds after deleting A, expected 2 (the open files)"
[[ ! -e $MNT/snapshots/latest ]] || fail "latest still there without a snapshot"
[[ ! -e $MNT/tables/live ]] || fail "tables/live still there without a snapshot"
# the page cache must not be what answers: drop the kernel's pages of both
# open files (posix_fadvise DONTNEED through a new open of each: dd
# iflag=nocache count=0), and check with fincore that none is left
for fd in 7 9; do
	dd if=/dev/fd/$fd iflag=nocache count=0 status=none || fail "dropping the cached pages of fd $fd"
	expect_ok fincore --noheadings --raw --output PAGES /dev/fd/$fd
	expect_eq "$LAST_OUT" 0 "pages of fd $fd in the page cache after dropping them"
done
cat <&7 >>"$T/big.part" || fail "reading the rest of $big after its snapshot was deleted"
cat <&9 >"$T/manifest.copy" || fail "reading $manifest after its snapshot was deleted"
expect_eq "$(stat -c %s "$T/big.part")" "$size" "bytes read from the deleted snapshot's SST"
expect_eq "$(sha256sum <"$T/big.part" | cut -c1-64)" "$want" "checksum of the SST read across the deletion"
expect_eq "$(sha256sum <"$T/manifest.copy" | cut -c1-64)" "$mwant" "checksum of the MANIFEST read across the deletion"
exec 7<&- 9<&-
wait_until 10 eval '[[ $(holds) == 0 ]]' || fail "$(holds) holds left after the readers closed"

# ---- a daemon killed while a deleted snapshot's file is open ----
expect_ok sf snapshot create live items
D=$LAST_OUT
f=$(ls "$MNT/snapshots/$D"/live/items/tablet-*/MANIFEST-* | head -1)
exec 8<"$f"
expect_ok sf snapshot delete "$D"
wait_until 10 eval '[[ $(holds) == 1 ]]' || fail "$(holds) holds with one file of a deleted snapshot open, expected 1"
kill -KILL "$SNAPFS_PID"
wait "$SNAPFS_PID" 2>/dev/null || true
_snapfs_forget_daemon
exec 8<&-
snapfs_serve --mount "$MNT"
expect_eq "$(holds)" 0 "holds after a restart (the killed daemon's are gone)"

snapfs_stop
[[ ! -e $DATA/view-holds ]] || fail "DATA/view-holds left after a clean stop"
pass
