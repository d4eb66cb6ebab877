#!/usr/bin/env bash
# Consistent snapshots: a writer appends keys 1, 2, 3, ... one after the
# other while snapshots are taken; every snapshot must hold exactly keys
# 1..k for some k (no holes), read both through the daemon (scan
# --snapshot) and offline from the snapshot's own files (snapfs dump).
# Also: list/export/delete, error exit codes, bytes reported.
. "$(dirname "$0")/lib.sh"
snapfs_setup
require_cmd rocksdb-tools sst_dump

expect_ok sf init
snapfs_serve
expect_ok sf table create ks.seq --tablets 4
expect_ok sf table create ks.bulk --tablets 2
expect_ok sf load ks.bulk --rows 20000 --value-size 200

# errors first
expect_exit 2 sf snapshot create nosuchks
expect_contains "$LAST_ERR" "keyspace 'nosuchks': not found"
expect_exit 2 sf snapshot create ks nosuchtable
expect_contains "$LAST_ERR" "table 'ks.nosuchtable': not found"
expect_exit 2 sf snapshot delete 0123456789abcdef0123456789abcdef
expect_exit 1 sf snapshot create 'bad name'

# the writer: strictly sequential puts k00000001, k00000002, ...
(
	i=1
	while [[ ! -e $T/stop-writer ]]; do
		"$SNAPFS" put ks.seq "$(printf 'k%08d' "$i")" "v$i" || exit 1
		echo "$i" >"$T/writer.last"
		i=$((i + 1))
	done
) &
writer=$!
wait_until 30 test -s "$T/writer.last" || fail "writer did not start"

ids=()
for n in 1 2 3 4 5 6; do
	sleep 0.3
	# keep the bulk table busy too, so checkpoints race real writes
	sf put ks.bulk "extra$n" "x" >/dev/null
	expect_ok sf snapshot create ks
	[[ $LAST_OUT =~ ^[0-9a-f]{32}$ ]] || fail "snapshot create printed '$LAST_OUT'"
	ids+=("$LAST_OUT")
done
touch "$T/stop-writer"
wait "$writer" || fail "the writer failed"

check_prefix() { # FILE WHAT: keys k00000001..k0000000K in order, no hole
	local file=$1 what=$2 k
	k=$(wc -l <"$file")
	((k > 0)) || fail "$what: empty"
	seq -f 'k%08g' 1 "$k" | cmp -s - <(cut -f1 "$file") ||
		fail "$what: not exactly keys 1..$k: $(diff <(seq -f 'k%08g' 1 "$k") <(cut -f1 "$file") | head -5)"
	echo "$k"
}

prev=0
for id in "${ids[@]}"; do
	expect_ok sf scan ks.seq --snapshot "$id"
	printf '%s\n' "$LAST_OUT" >"$T/scan.$id"
	k=$(check_prefix "$T/scan.$id" "scan --snapshot $id")
	((k >= prev)) || fail "snapshot $id holds $k keys, an earlier one held $prev"
	prev=$k
	# values belong to their keys
	awk -F'\t' '{ if ($2 != "v" (substr($1, 2) + 0)) { print; exit 1 } }' "$T/scan.$id" ||
		fail "snapshot $id: a value does not match its key"
	expect_ok sf scan ks.bulk --snapshot "$id" --limit 1
done
echo "snapshots hold $prev keys at most"

# the snapshot as files: SNAPSHOT.json, SHA256SUMS, checkpoints per tablet
id=${ids[2]}
meta=$DATA/snapshots/$id
[[ -f $meta/SNAPSHOT.json && -f $meta/SHA256SUMS ]] || fail "metadata of $id missing"
expect_ok sf snapshot export "$id" "$T/export.json"
cmp "$T/export.json" "$meta/SNAPSHOT.json" || fail "export differs from the metadata folder"
expect_ok sf snapshot list --json
expect_contains "$LAST_OUT" "\"id\":\"$id\""
expect_contains "$LAST_OUT" '"state":"COMPLETE"'
bytes=$(jq -r --arg id "$id" '.[] | select(.id == $id) | .bytes' <<<"$LAST_OUT")
((bytes > 100000)) || fail "snapshot list reports $bytes bytes for $id"
expect_ok sf snapshot list
expect_contains "$LAST_OUT" "COMPLETE"

# offline: read the checkpoint files directly, without the daemon
expect_ok sf dump "$DATA/snapshots/$id" --table ks.seq
printf '%s\n' "$LAST_OUT" >"$T/dump.$id"
cmp -s "$T/dump.$id" "$T/scan.$id" || fail "offline dump of $id differs from scan --snapshot"

# stock RocksDB tools read every checkpoint (same comparator name and order)
n=0
for sst in $(find "$DATA/tablets" -path "*.snapshots/$id/*.sst" | head -3); do
	sst_dump --file="$sst" --command=verify >/dev/null 2>&1 || fail "sst_dump cannot verify $sst"
	n=$((n + 1))
done
((n > 0)) || fail "no SST in the checkpoints of $id for sst_dump to read"

# a newer version of a key after the cut stays invisible in the snapshot
expect_ok sf put ks.seq k00000001 changed
expect_ok sf get ks.seq k00000001 --snapshot "$id"
expect_eq "$LAST_OUT" "v1"
expect_ok sf get ks.seq k00000001
expect_eq "$LAST_OUT" "changed"

# delete removes metadata and checkpoints
expect_ok sf snapshot delete "$id"
[[ ! -e $meta ]] || fail "metadata of a deleted snapshot is still there"
[[ -z $(find "$DATA/tablets" -name "$id*") ]] || fail "checkpoints of a deleted snapshot remain"
expect_exit 2 sf scan ks.seq --snapshot "$id"

# an empty keyspace is refused; snapshots survive a restart
expect_ok sf table create empty.t
expect_ok sf table drop empty.t
expect_exit 3 sf snapshot create empty
snapfs_stop
snapfs_serve
expect_ok sf scan ks.seq --snapshot "${ids[5]}"
[[ $(printf '%s\n' "$LAST_OUT" | wc -l) -eq $(wc -l <"$T/scan.${ids[5]}") ]] || fail "snapshot changed across a restart"
snapfs_stop
pass
