#!/usr/bin/env bash
# test_mount_holds: a file kept for a reader after its snapshot went (a hold
# in DATA/view-holds) goes when its reader is done, without waiting for the
# kernel to drop its caches (issue 11, item 9), on each read path.
#
# The case that used to leave a hold behind: an SST shared by snapshots S1
# and S2 is open through S1 when S1 is deleted (the file stays, in S2:
# nothing to hold), and closed after. The kernel kept the name under S1,
# in use when S1's directory went, and that name kept the inode; when S2
# went too (the file is held then), the kernel was told the file was
# deleted under S2's name only, which it did not have: the hold stayed
# until `echo 2 > /proc/sys/vm/drop_caches`. Now every name of a file
# leaving the view that the kernel may have is dropped from its cache.
. "$(dirname "$0")/lib.sh"
snapfs_setup

holds() { find "$DATA/view-holds" -type f 2>/dev/null | wc -l; }

fuse=$(pkg-config --modversion fuse3)
paths=(copy auto)
[[ $(printf '%s\n' 3.17 "$fuse" | sort -V | head -1) == 3.17 ]] && paths+=(passthrough)

sf init
for rp in "${paths[@]}"; do
	SNAPFS_READ_PATH=$rp snapfs_serve --mount "$MNT"
	t=h$rp.items
	expect_ok sf table create "$t" --tablets 1
	expect_ok sf load "$t" --rows 3000 --value-size 1000 --seed 1
	expect_ok sf snapshot create "h$rp"
	S1=$LAST_OUT
	expect_ok sf load "$t" --rows 10 --value-size 1000 --seed 2
	expect_ok sf snapshot create "h$rp"
	S2=$LAST_OUT
	# an SST of S1 that S2 shares, found without looking S2 up through
	# the mount (the kernel must not have S2's names)
	x= n=0
	for f in "$MNT/snapshots/$S1/h$rp"/items/tablet-*/*.sst; do
		rel=${f#"$MNT/snapshots/$S1/"}
		tablet=$(basename "$(dirname "$rel")")
		native=$(echo "$DATA"/tablets/table-*/"$tablet.snapshots/$S2/$(basename "$f")")
		if [[ -e $native && $(stat -c %i "$native") == $(stat -c %i "$f") ]]; then
			x=$f
			break
		fi
	done
	[[ -n $x ]] || fail "[$rp] no SST shared by $S1 and $S2"
	size=$(stat -c %s "$x")

	exec 7<"$x"
	head -c 4096 <&7 >/dev/null
	expect_ok sf snapshot delete "$S1"
	[[ ! -e $MNT/snapshots/$S1 ]] || fail "[$rp] $S1 still there after its deletion"
	expect_eq "$(holds)" 0 "[$rp] holds while the file is still in $S2"
	expect_eq "$(cat <&7 | wc -c)" "$((size - 4096))" "[$rp] bytes read after $S1 went"
	exec 7<&-

	# the table's live links go, then S2's: the file is gone for good
	expect_ok sf table drop "$t"
	expect_ok sf snapshot delete "$S2"
	wait_until 10 eval '[[ $(holds) == 0 ]]' ||
		fail "[$rp] $(holds) hold(s) left with no reader: $(ls "$DATA/view-holds")"
	snapfs_stop
done
pass
