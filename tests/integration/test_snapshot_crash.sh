#!/usr/bin/env bash
# Crash injection: serve aborts at each named point inside snapshot create
# and delete (SNAPFS_CRASH_AT); after a restart nothing half-made is listed
# COMPLETE, a cut-short create is FAILED with its directories removed, and a
# cut-short delete is finished. A snapshot made before the crashes stays
# COMPLETE and reads the same throughout: after each crash point the list
# holds exactly the COMPLETE and FAILED snapshots expected, nothing else.
. "$(dirname "$0")/lib.sh"
snapfs_setup
ulimit -c 0

expect_ok sf init
snapfs_serve
expect_ok sf table create ks.t --tablets 3
expect_ok sf load ks.t --rows 3000
snapfs_stop

leftovers() { # ID: prints what of snapshot ID is left on disk
	find "$DATA/snapshots" "$DATA/tablets" -name "$1*" 2>/dev/null
}

crash_serve() { # POINT: serve with the crash switch on
	SNAPFS_CRASH_AT=$1 snapfs_serve
}

same_scan_snapshot() { # ID WHAT: a scan of snapshot ID reads as it did
	expect_ok sf scan ks.t --snapshot "$1"
	printf '%s\n' "$LAST_OUT" | cmp -s - "$T/keep.scan" || fail "$2: snapshot $1 reads differently"
}

# expect_states WHAT WANT — `snapshot list` holds exactly WANT, the count
# of each state, e.g. "COMPLETE=1 FAILED=1" (none CREATING or DELETING:
# work a restart left). Leaves the listing in LAST_OUT for listed().
expect_states() {
	expect_ok sf snapshot list --json
	expect_eq "$(printf '%s\n' "$LAST_OUT" | json_rows .state | sort | uniq -c |
		awk '{ printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1 }')" "$2" "$1: snapshots by state"
}

listed() { # STATE: the ids in STATE in the last listing
	printf '%s\n' "$LAST_OUT" | json_rows "select(.state == \"$1\") | .id"
}

# one COMPLETE snapshot made before the crashes: each crash point must
# leave it COMPLETE and readable, and add exactly one FAILED
snapfs_serve
expect_ok sf snapshot create ks
keep=$LAST_OUT
scan_to ks.t "$T/keep.scan" --snapshot "$keep"
expect_states "before the crashes" COMPLETE=1
snapfs_stop

for point in create-after-record create-checkpoint-tmp create-after-checkpoints create-after-metadata; do
	crash_serve "$point"
	expect_exit 4 sf snapshot create ks
	wait_crashed "$point"
	snapfs_serve
	expect_states "$point: after the restart" "COMPLETE=1 FAILED=1"
	expect_eq "$(listed COMPLETE)" "$keep" "$point: the COMPLETE snapshot"
	failed=$(listed FAILED)
	same_scan_snapshot "$keep" "$point"
	[[ -z $(leftovers "$failed") ]] || fail "$point: files of FAILED $failed remain: $(leftovers "$failed")"
	expect_ok sf snapshot delete "$failed"
	expect_states "$point: the FAILED one deleted" COMPLETE=1
	echo "ok: $point (FAILED $failed, $keep still COMPLETE)"
	snapfs_stop
done

for point in delete-after-mark delete-after-remove; do
	snapfs_serve
	expect_ok sf snapshot create ks
	id=$LAST_OUT
	[[ -n $(leftovers "$id") ]] || fail "snapshot $id has no files"
	expect_states "$point: before the delete" COMPLETE=2
	snapfs_stop
	crash_serve "$point"
	expect_exit 4 sf snapshot delete "$id"
	wait_crashed "$point"
	snapfs_serve
	expect_states "$point: after the restart" COMPLETE=1
	expect_eq "$(listed COMPLETE)" "$keep" "$point: the COMPLETE snapshot left"
	same_scan_snapshot "$keep" "$point"
	[[ -z $(leftovers "$id") ]] || fail "$point: files of deleted $id remain"
	echo "ok: $point"
	snapfs_stop
done

# the store still works: a new snapshot completes, beside the kept one
snapfs_serve
expect_ok sf snapshot create ks
id=$LAST_OUT
expect_states "a snapshot after the crashes" COMPLETE=2
expect_ok sf scan ks.t --snapshot "$id"
printf '%s\n' "$LAST_OUT" | cmp -s - "$T/keep.scan" || fail "the new snapshot differs from the kept one"
snapfs_stop
pass
