#!/usr/bin/env bash
# test_space: what deleting a snapshot frees (issue 13 item 8).
#
# What must hold: snapshot list shows per snapshot its total (bytes) and
# what deleting it frees (exclusive_bytes): the blocks of its files with
# no link outside it, as zfs `used`. That figure is what du sees go when
# the snapshot is deleted (within a block); it drops when the live store
# or a later snapshot comes to share the snapshot's files, and grows back
# when they go; --keyspace lists one keyspace's snapshots, an unknown one
# is not found (2), a bad name a usage error (1).
. "$(dirname "$0")/lib.sh"
snapfs_setup
require_cmd jq jq

# the disk of the tablets and snapshots, each file once (du), without the
# hash cache, which a delete rewrites
disk() {
	du -scB1 --exclude=HASHCACHE "$DATA/tablets" "$DATA/snapshots" | tail -1 | cut -f1
}
exclusive() { # ID
	sf snapshot list --json | jq -r ".[] | select(.id == \"$1\") | .exclusive_bytes"
}
# what of snapshot ID has no other link (its directories, its copies of
# MANIFEST and CURRENT, SNAPSHOT.json, SHA256SUMS), from find's link counts
own() {
	local id=$1
	{
		find "$DATA/tablets" -path "*.snapshots/$id" -type d -printf '%b\n'
		find "$DATA/tablets" -path "*.snapshots/$id/*" -type f -links 1 -printf '%b\n'
		find "$DATA/snapshots/$id" -links 1 -printf '%b\n'
		find "$DATA/snapshots/$id" -type d -printf '%b\n'
	} | awk '{ s += $1 * 512 } END { print s }'
}
# delete_frees ID — delete snapshot ID: du must drop by its exclusive bytes
# (within one 4 KiB block)
delete_frees() {
	local id=$1 want before after
	want=$(exclusive "$id")
	before=$(disk)
	expect_ok sf snapshot delete "$id"
	after=$(disk)
	local freed=$((before - after))
	((freed - want <= 4096 && want - freed <= 4096)) ||
		fail "deleting $id freed $freed bytes, snapshot list said $want"
}

expect_ok sf init
snapfs_serve
expect_ok sf table create app.t --tablets 2
expect_ok sf load app.t --rows 40000 --value-size 200 --seed 1

# A: every SST shared with the live tablets, only its own copies exclusive
expect_ok sf snapshot create app
A=$LAST_OUT
expect_ok sf snapshot list --json
bytes=$(printf '%s\n' "$LAST_OUT" | jq -r ".[] | select(.id == \"$A\") | .bytes")
((bytes > 4000000)) || fail "snapshot A's total is $bytes bytes"
expect_eq "$(exclusive "$A")" "$(own "$A")" "A while the live tablets share its SSTs"
expect_ok sf snapshot list
expect_contains "$LAST_OUT" "EXCLUSIVE" "the text listing's columns"

# the live table goes: A alone holds its SSTs, all of it is exclusive
expect_ok sf table drop app.t
all_of_a=$(exclusive "$A")
((all_of_a > bytes)) || fail "A alone: exclusive $all_of_a, not above its files' $bytes bytes"
expect_eq "$all_of_a" "$(du -cB1 $(find "$DATA/tablets" -path "*.snapshots/$A" -type d) "$DATA/snapshots/$A" |
	tail -1 | cut -f1)" "A alone: exclusive is du of its directories"

# the live table comes back from A (its SSTs hard-linked) and a later
# snapshot B shares them too; once the live table goes again, A's SSTs
# are still B's: A's exclusive drops to its own files
expect_ok sf snapshot restore "$A"
expect_eq "$(exclusive "$A")" "$(own "$A")" "A after the restore shares its SSTs with the live table"
expect_ok sf snapshot create app
B=$LAST_OUT
expect_ok sf table drop app.t
expect_eq "$(exclusive "$A")" "$(own "$A")" "A once B shares its SSTs"
(($(exclusive "$A") < all_of_a)) || fail "A's exclusive did not drop as B came to share its files"

# deleting A frees what it said; then B alone holds the SSTs and frees them
delete_frees "$A"
b_alone=$(exclusive "$B")
((b_alone > bytes)) || fail "B alone: exclusive $b_alone, not above A's files' $bytes bytes"
delete_frees "$B"

# ---- --keyspace ---------------------------------------------------------------------
expect_ok sf table create app.u --tablets 1
expect_ok sf table create other.v --tablets 1
expect_ok sf put app.u k v
expect_ok sf put other.v k v
expect_ok sf snapshot create app
expect_ok sf snapshot create other
o=$LAST_OUT
expect_ok sf snapshot list --keyspace other --json
expect_eq "$(printf '%s\n' "$LAST_OUT" | jq -r '[.[].id] | join(" ")')" "$o" "snapshot list --keyspace other"
expect_ok sf snapshot list --keyspace other
expect_not_contains "$LAST_OUT" " app " "the text listing of --keyspace other"
expect_exit 2 sf snapshot list --keyspace nosuch
expect_contains "$LAST_ERR" "keyspace 'nosuch': not found"
expect_eq "$LAST_OUT" "" "no listing for an unknown keyspace"
expect_exit 1 sf snapshot list --keyspace 'bad/name'
expect_ok sf table drop other.v
expect_ok sf snapshot list --keyspace other --json
expect_eq "$(printf '%s\n' "$LAST_OUT" | jq -r 'length')" "1" "a keyspace without tables still lists its snapshot"
snapfs_stop
pass
