#!/usr/bin/env bash
# test_exit_codes: README's exit-code table, row by row, with each case
# issue 13 found astray (item 5), and the messages that go with them.
#
# What must hold: 0 ok; 1 usage; 2 not found (status of a missing data
# directory, verify of a missing path, restore --to of a missing keyspace,
# export to a missing directory, an absent key or snapshot); 3 refused
# (init on a served data directory names the pid, a read before the kept
# history names the earliest readable time, verify of a plain file or of a
# bad backup, a table that exists); 4 daemon not reachable (none listens;
# the socket refuses this user). RocksDB's raw messages never show.
. "$(dirname "$0")/lib.sh"
snapfs_setup

no_rocksdb_words() { # the user never sees RocksDB's own status texts
	local w
	for w in "IO error" "Invalid argument" "While lock file" "full_history_ts_low" "Read timestamp"; do
		expect_not_contains "$LAST_ERR" "$w" "RocksDB's words"
	done
}

# ---- 1: usage -------------------------------------------------------------------
expect_exit 1 sf frob
expect_exit 1 sf table create demo.t --tablets 0
expect_exit 1 sf status --data ""

# ---- 2 and 4 before any daemon ------------------------------------------------------
expect_exit 2 sf status --data "$T/missing"
expect_contains "$LAST_ERR" "data directory '$T/missing': not found"
expect_not_contains "$LAST_ERR" "no daemon listens"
expect_exit 2 sf verify "$T/missing"
expect_contains "$LAST_ERR" "verify '$T/missing': not found"
echo plain >"$T/plain"
expect_exit 3 sf verify "$T/plain"
expect_contains "$LAST_ERR" "verify '$T/plain': not a directory"
expect_ok sf init
expect_exit 4 sf status
expect_contains "$LAST_ERR" "no daemon listens"

# ---- with a daemon ----------------------------------------------------------------
SNAPFS_HISTORY=1s snapfs_serve
expect_ok sf status
expect_ok sf table create demo.t --tablets 2
expect_exit 3 sf table create demo.t
expect_contains "$LAST_ERR" "table 'demo.t': already exists"
expect_ok sf put demo.t k v

# init on a served data directory: 3, naming the pid, not RocksDB's lock error
expect_exit 3 sf init
expect_contains "$LAST_ERR" "data directory '$DATA': already served by pid $SNAPFS_PID"
no_rocksdb_words

# not found
expect_exit 2 sf get demo.t nokey
expect_exit 2 sf get nosuch.t k
expect_exit 2 sf restore --to -5m nosuch
expect_contains "$LAST_ERR" "keyspace 'nosuch': not found"
expect_not_contains "$LAST_ERR" "has no schedule"
expect_exit 3 sf restore --to -5m demo # exists, no schedule: refused
expect_contains "$LAST_ERR" "has no schedule"
expect_ok sf snapshot create demo
id=$LAST_OUT
expect_exit 2 sf snapshot export "$id" /nonexistent/x.json
expect_contains "$LAST_ERR" "export file '/nonexistent/x.json': its directory does not exist"
expect_ok sf snapshot export "$id" "$T/x.json"
[[ -s $T/x.json ]] || fail "export wrote nothing"
expect_exit 2 sf snapshot delete 0123456789abcdef0123456789abcdef

# a read before the kept history (1 s here): 3, with the earliest readable time
wait_until 20 bash -c '"$0" get demo.t k --at 2000-01-01T00:00:00Z 2>/dev/null; (($? == 3))' "$SNAPFS" ||
	fail "a read in 2000 was never refused as before the kept history"
expect_exit 3 sf get demo.t k --at 2000-01-01T00:00:00Z
expect_contains "$LAST_ERR" "time before the history kept: the earliest readable time is 20"
no_rocksdb_words
expect_exit 3 sf scan demo.t --at 2000-01-01T00:00:00Z
expect_contains "$LAST_ERR" "the earliest readable time is"
# the time it names is readable
earliest=$(sed -n 's/.*(hybrid time \([0-9]*\)).*/\1/p' <<<"$LAST_ERR")
[[ -n $earliest ]] || fail "no hybrid time in: $LAST_ERR"
rc=0
sf scan demo.t --at "$((earliest + 4096))" >/dev/null 2>"$T/err" || rc=$?
((rc == 0)) || fail "a read just after the named earliest time: exit $rc: $(cat "$T/err")"

# verify of a bad backup: 3 (every bad file is in test_json and test_restore)
cp -a "$DATA/snapshots/$id" "$T/meta-only"
expect_exit 3 sf verify "$T/meta-only"

# 4: a socket that refuses this user. Root passes every permission check:
# try as nobody (setpriv, util-linux), through a directory nobody may
# traverse into DATA's socket. Another user: a socket of mode 0 refuses
# its owner.
if ((EUID == 0)); then
	chmod 0711 "$T"
	cp "$SNAPFS" "$T/snapfs-copy"
	chmod 0755 "$T/snapfs-copy"
	rc=0
	setpriv --reuid=65534 --regid=65534 --clear-groups "$T/snapfs-copy" status --data "$DATA" \
		>/dev/null 2>"$T/err" || rc=$?
	chmod 0700 "$T"
	what="status as nobody"
else
	mode=$(stat -c %a "$DATA/snapfs.sock")
	chmod 0 "$DATA/snapfs.sock"
	rc=0
	sf status >/dev/null 2>"$T/err" || rc=$?
	chmod "$mode" "$DATA/snapfs.sock"
	what="status through a socket of mode 0"
fi
((rc == 4)) || fail "$what: exit $rc, expected 4: $(cat "$T/err")"
grep -q "permission denied" "$T/err" || fail "$what: $(cat "$T/err")"

snapfs_stop
# 4 again, once stopped
expect_exit 4 sf status
pass
