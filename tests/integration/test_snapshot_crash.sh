#!/usr/bin/env bash
# Crash injection: serve aborts at each named point inside snapshot create
# and delete (SNAPFS_CRASH_AT); after a restart nothing half-made is listed
# COMPLETE, a cut-short create is FAILED with its directories removed, and a
# cut-short delete is finished.
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

for point in create-after-record create-checkpoint-tmp create-after-checkpoints create-after-metadata; do
	crash_serve "$point"
	expect_exit 4 sf snapshot create ks
	wait_crashed "$point"
	snapfs_serve
	expect_ok sf snapshot list --json
	n_complete=$(printf '%s\n' "$LAST_OUT" | grep -c '"state":"COMPLETE"' || true)
	failed=$(printf '%s\n' "$LAST_OUT" | grep '"state":"FAILED"' | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')
	[[ -n $failed ]] || fail "$point: no FAILED snapshot after restart: $LAST_OUT"
	expect_not_contains "$LAST_OUT" CREATING "$point: CREATING after restart"
	for id in $failed; do
		[[ -z $(leftovers "$id") ]] || fail "$point: files of FAILED $id remain: $(leftovers "$id")"
		expect_ok sf snapshot delete "$id"
	done
	echo "ok: $point ($n_complete complete)"
	snapfs_stop
done

for point in delete-after-mark delete-after-remove; do
	snapfs_serve
	expect_ok sf snapshot create ks
	id=$LAST_OUT
	[[ -n $(leftovers "$id") ]] || fail "snapshot $id has no files"
	snapfs_stop
	crash_serve "$point"
	expect_exit 4 sf snapshot delete "$id"
	wait_crashed "$point"
	snapfs_serve
	expect_ok sf snapshot list --json
	expect_not_contains "$LAST_OUT" "$id" "$point: deleted snapshot still listed"
	[[ -z $(leftovers "$id") ]] || fail "$point: files of deleted $id remain"
	echo "ok: $point"
	snapfs_stop
done

# the store still works: a new snapshot completes
snapfs_serve
expect_ok sf snapshot create ks
expect_ok sf scan ks.t --snapshot "$LAST_OUT" --limit 5
snapfs_stop
pass
