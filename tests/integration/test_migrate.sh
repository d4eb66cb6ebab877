#!/usr/bin/env bash
# A DATA written by the release before issue 10 (tests/data/
# data-fcdb372.tar.gz, made by tests/data/make-main-data.sh with that
# release's binary) opens with this one: its catalog records parse under
# the strict parsers, its first-format hash cache is dropped, and its
# restore journal (an online restore cut short) is finished at start.
. "$(dirname "$0")/lib.sh"
snapfs_setup
src=${SNAPFS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}

tar -C "$T" -xzf "$src/tests/data/data-fcdb372.tar.gz"
mv "$T/snapfs-old-data" "$DATA"
# the journal names absolute paths of where that DATA was made: put them
# where it is now (as if it had never moved)
esc() { printf '%s' "$1" | sed 's|/|\\\\/|g'; }
sed -i "s|$(esc /tmp/snapfs-old-data)|$(esc "$DATA")|g" "$DATA/restore.journal"
[[ -s $DATA/restore.journal ]] || fail "fixture without a journal"
head -1 "$DATA/snapshots/HASHCACHE" | grep -qx "snapfs-hashcache 1" || fail "fixture cache not format 1"

# offline first: nothing wrong, two notes
expect_ok sf check
expect_contains "$LAST_OUT" "no problem"
expect_contains "$LAST_OUT" "restore was cut short"
expect_contains "$LAST_OUT" "first format"

snapfs_serve --mount "$MNT"
grep -q "finished the restore of snapshot" "$T/serve.log" || fail "journal not finished"
grep -q "first format, dropped" "$T/serve.log" || fail "old hash cache not dropped"
[[ ! -e $DATA/restore.journal ]] || fail "journal still there"

# the journal restored app.users to the snapshot: alice is 'one' again
expect_ok sf get app.users alice
expect_eq "$LAST_OUT" one
expect_ok sf scan app.items
expect_eq "$(printf '%s\n' "$LAST_OUT" | wc -l)" 500
expect_ok sf scan app.copy
expect_eq "$(printf '%s\n' "$LAST_OUT" | wc -l)" 500
expect_ok sf restore list --json
expect_eq "$(jq length <<<"$LAST_OUT")" 2
expect_ok sf schedule list --json
expect_contains "$LAST_OUT" '"keyspace":"app"'

# every COMPLETE snapshot, old and new, checks through the mount
expect_ok sf snapshot create app
expect_ok sf snapshot list --json
n=0
for id in $(jq -r '.[] | select(.state == "COMPLETE") | .id' <<<"$LAST_OUT"); do
	(cd "$MNT/snapshots/$id" && sha256sum -c --quiet SHA256SUMS) || fail "snapshot $id fails sha256sum -c"
	n=$((n + 1))
done
((n >= 3)) || fail "expected 3 COMPLETE snapshots, got $n"
snapfs_stop
expect_ok sf check
pass
