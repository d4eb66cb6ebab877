#!/usr/bin/env bash
# A full disk at a snapshot: the snapshot is refused (exit 3) before RocksDB
# writes anything, with nothing of it left on disk, the error names the
# cause, and the daemon keeps answering (reads of what was written before
# still work). DATA is a small tmpfs.
. "$(dirname "$0")/lib.sh"
snapfs_setup

((EUID == 0)) || skip "mounting a small tmpfs for DATA needs root"
mkdir "$T/small"
mount -t tmpfs -o size=32m tmpfs "$T/small" || fail "cannot mount a tmpfs"
DATA=$T/small/data
export SNAPFS_DATA=$DATA

expect_ok sf init
snapfs_serve
expect_ok sf table create ks.t --tablets 2
expect_ok sf load ks.t --rows 2000 --value-size 1000
expect_ok sf put ks.t before full
# fill what is left of the disk
dd if=/dev/zero of="$T/small/filler" bs=1M count=64 status=none 2>/dev/null || true
[[ $(df --output=avail -k "$T/small" | tail -1) -lt 64 ]] || fail "the tmpfs did not fill up"

expect_exit 3 sf snapshot create ks
expect_contains "$LAST_ERR" "no space left"
expect_ok sf snapshot list --json
expect_not_contains "$LAST_OUT" COMPLETE
expect_not_contains "$LAST_OUT" CREATING
[[ -z $(find "$DATA" -path '*.snapshots/*') ]] || fail "snapshot files remain: $(find "$DATA" -path '*.snapshots/*')"
[[ -z $(ls "$DATA/snapshots" | grep -v HASHCACHE) ]] || fail "snapshot metadata remains"

# the daemon still serves: status, reads of what was there
expect_ok sf status
expect_ok sf get ks.t before
expect_eq "$LAST_OUT" full
expect_ok sf scan ks.t --limit 3

# space back, and a restart: snapshots work again
rm -f "$T/small/filler"
snapfs_stop
snapfs_serve
expect_ok sf snapshot create ks
expect_ok sf scan ks.t --snapshot "$LAST_OUT" --prefix before
expect_eq "$LAST_OUT" "before	full"
snapfs_stop
umount "$T/small"
pass
