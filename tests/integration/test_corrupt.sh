#!/usr/bin/env bash
# One corruption policy (issue 10, part 4): each kind of record of DATA
# (keyspace, table, snapshot, schedule and restoration records in the
# catalog, the restore journal, the hash cache) damaged on purpose refuses
# the start with exit 3 naming it, and `snapfs check` (offline, read-only)
# reports it with exit 3; nothing is skipped or defaulted. A journal
# naming a path outside DATA touches nothing. check also reads every
# tablet and every snapshot file.
. "$(dirname "$0")/lib.sh"
snapfs_setup
command -v ldb >/dev/null || fail "ldb (rocksdb-tools) is needed"

expect_ok sf init
snapfs_serve
expect_ok sf table create ks.t --tablets 2
expect_ok sf load ks.t --rows 2000
expect_ok sf schedule create ks --interval 1h --retention 1d
expect_ok sf snapshot create ks
snap=$LAST_OUT
expect_ok sf snapshot restore "$snap" --table ks.t --as ks.t2
# a served DATA is not checked: it changes under the check
expect_exit 3 sf check
expect_contains "$LAST_ERR" "served by pid"
snapfs_stop

expect_ok sf check
expect_contains "$LAST_OUT" "no problem"

cat=$DATA/catalog
key_of() { # PREFIX: the first catalog key with that prefix ("k : v" in ldb 7.8, "k ==> v" in 9.10)
	ldb --db="$cat" scan --from="$1" 2>/dev/null | grep -m1 "^$1" | sed -E 's/ (:|==>) .*//'
}
get() { ldb --db="$cat" get "$1"; }
put() { ldb --db="$cat" put "$1" "$2" >/dev/null; }

# KIND PREFIX SED: damage the first record of PREFIX with SED, expect the
# refusal naming it, then put it back
damage() {
	local kind=$1 prefix=$2 edit=$3 key orig bad
	key=$(key_of "$prefix")
	[[ -n $key ]] || fail "$kind: no record under '$prefix'"
	orig=$(get "$key")
	bad=$(printf '%s' "$orig" | sed "$edit")
	[[ $bad != "$orig" ]] || fail "$kind: the edit changed nothing"
	put "$key" "$bad"
	expect_serve_exit 3
	expect_contains "$LAST_ERR" "catalog record '$key'" "$kind: refusal names the record"
	expect_exit 3 sf check
	expect_contains "$LAST_OUT" "catalog record '$key'" "$kind: check names the record"
	put "$key" "$orig"
	echo "ok: a damaged $kind record refuses the start and fails the check"
}

damage keyspace "ks/" 's/"name":"ks"/"name":"k s"/'
damage table "table/" 's/"start":0/"start":7/'
damage snapshot "snap/" 's/"state":"COMPLETE"/"state":"DONE"/'
damage "snapshot (missing field)" "snap/" 's/"bytes":[0-9]*,//'
damage schedule "sched/" 's/"retention_us":[0-9]*/"retention_us":5/'
damage restoration "restore/" 's/"snapshot_id":"[0-9a-f]*"/"snapshot_id":"x"/'
damage "table (not JSON)" "table/" 's/}$//'

# a journal naming a path outside DATA is refused before anything is done
mkdir -p "$T/canary"
journal=$DATA/restore.journal
cat >"$journal" <<EOF
{"id":"0123456789abcdef0123456789abcdef","cut":1,"moves":[],"tablets":[],"records":[],
 "remove":["$DATA/../canary"],
 "record":{"id":"0123456789abcdef0123456789abcdef","source":"snapshot",
  "snapshot_id":"0123456789abcdef0123456789abcdef","keyspace":"ks","cut_time":"x",
  "hybrid_time":1,"tables":[],"dropped":[],"result":"ok"}}
EOF
expect_serve_exit 3
expect_contains "$LAST_ERR" "restore journal '$journal'"
expect_contains "$LAST_ERR" "remove[0]"
[[ -d $T/canary ]] || fail "a journal path outside DATA was removed"
expect_exit 3 sf check
expect_contains "$LAST_OUT" "restore journal"
# a symlink inside DATA pointing out is refused too
ln -s "$T/canary" "$DATA/tablets/table-0123456789abcdef0123456789abcdef"
sed -i "s|$DATA/../canary|$DATA/tablets/table-0123456789abcdef0123456789abcdef/tablet-0123456789abcdef0123456789abcdef|" "$journal"
expect_serve_exit 3
expect_contains "$LAST_ERR" "symlink"
[[ -d $T/canary ]] || fail "a journal path through a symlink was removed"
rm "$DATA/tablets/table-0123456789abcdef0123456789abcdef" "$journal"
echo "ok: journal paths outside DATA refuse the start and touch nothing"

# the hash cache: damaged refuses (it says it may be removed); removed, fine
hc=$DATA/snapshots/HASHCACHE
[[ -s $hc ]] || fail "no hash cache"
cp "$hc" "$T/hc.good"
printf 'snapfs-hashcache 2\nnonsense\n' >"$hc"
expect_serve_exit 3
expect_contains "$LAST_ERR" "hash cache '$hc'"
expect_contains "$LAST_ERR" "line 2"
expect_exit 3 sf check
expect_contains "$LAST_OUT" "hash cache"
rm "$hc"
expect_ok sf check
echo "ok: a damaged hash cache refuses the start; removed, it is rebuilt"

# a flipped byte in a snapshot's SST: check finds it (sha256 and RocksDB)
sst=$(find "$DATA/tablets" -path "*.snapshots/$snap/*.sst" | head -1)
[[ -n $sst ]] || fail "no SST in snapshot $snap"
cp -p "$sst" "$T/sst.good"
# a hard link shares the live file: break it first so only the copy changes
cp "$sst" "$sst.x" && mv "$sst.x" "$sst"
printf '\xff' | dd of="$sst" bs=1 seek=100 conv=notrunc 2>/dev/null
expect_exit 3 sf check
expect_contains "$LAST_OUT" "$sst"
expect_contains "$LAST_OUT" "SHA-256 differs"
cp -p "$T/sst.good" "$sst"
expect_ok sf check

# and after all that, DATA serves as before
snapfs_serve
expect_ok sf scan ks.t2 --limit 3
expect_ok sf snapshot list
snapfs_stop
pass
