#!/usr/bin/env bash
# The tablet store through the real daemon and client: serve in the
# foreground, two tables, 20,000 rows loaded into one, put/get/del/scan on
# both with the exit codes of SPEC.md (missing key or table 2, bad name 1,
# no daemon 4), a second serve on the same DATA refused with 3 and the
# holder's pid, clients sending garbage (random bytes, an oversized length
# prefix, a wrong protocol version, a stalled half frame, ...: the helper
# tests/integration/ctl_garbage.c) while another client's put/get/scan loop
# must see every request succeed; then stop, serve again, and everything is
# still there.
. "${SNAPFS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"
snapfs_setup
garbage=$(test_helper ctl_garbage)

ROWS=20000

# the hybrid time in `status --json` (a string of digits)
status_ht() {
	expect_ok sf status --json
	STATUS_HT=$(jq -r .hybrid_time <<<"$LAST_OUT")
	[[ $STATUS_HT =~ ^[0-9]+$ ]] || fail "no hybrid_time in status --json: $LAST_OUT"
}

# ---- before any daemon ------------------------------------------------------

expect_ok sf init
expect_contains "$LAST_OUT" "initialised '$DATA'"
expect_exit 4 sf table list
expect_contains "$LAST_ERR" "snapfs: error: daemon not reachable"
expect_exit 4 sf get demo.kv alpha
expect_exit 4 sf put demo.kv alpha 1

# ---- serve, two tables, load ------------------------------------------------

snapfs_serve
first_pid=$SNAPFS_PID

expect_ok sf table create demo.items --tablets 4
expect_ok sf table create demo.kv --tablets 2
expect_exit 3 sf table create demo.kv
expect_contains "$LAST_ERR" "table 'demo.kv': already exists"
expect_exit 1 sf table create 'bad name.t'
expect_exit 1 sf table create nodot
expect_tables "demo.items/4 demo.kv/2"

expect_ok sf load demo.items --rows "$ROWS" --value-size 64 --seed 3
expect_contains "$LAST_OUT" "loaded $ROWS rows into 'demo.items'"
expect_ok sf scan demo.items
printf '%s\n' "$LAST_OUT" >"$T/items.scan"
expect_eq "$(wc -l <"$T/items.scan")" "$ROWS" "rows scanned after load"
seq -f 'key%010g' 0 $((ROWS - 1)) | cmp -s - <(cut -f1 "$T/items.scan") ||
	fail "scan after load: not exactly key0000000000..key$(printf %010d $((ROWS - 1))) in order"
awk -F'\t' 'length($2) != 64 || $2 !~ /^[a-z0-9]+$/ { bad++ } END { exit bad > 0 }' \
	"$T/items.scan" || fail "scan after load: a value is not 64 [a-z0-9]"

# the same seed loads the same values; remember a few
for k in key0000000000 key0000012345 key0000019999; do
	expect_ok sf get demo.items "$k"
	expect_eq "$LAST_OUT" "$(awk -F'\t' -v k="$k" '$1 == k { print $2 }' "$T/items.scan")" "get $k"
	printf '%s\t%s\n' "$k" "$LAST_OUT" >>"$T/items.some"
done

# ---- put / get / del / scan on both tables ----------------------------------

expect_ok sf put demo.kv alpha 1
expect_ok sf put demo.kv beta two
expect_ok sf put demo.kv 'with space' 'a b'
expect_ok sf put demo.kv tab $'x\ty'
expect_ok sf get demo.kv alpha
expect_eq "$LAST_OUT" "1"
expect_ok sf get demo.kv 'with space'
expect_eq "$LAST_OUT" "a b"
expect_ok sf get demo.kv tab
expect_eq "$LAST_OUT" 'x\x09y' "non-printable bytes escaped"
expect_ok sf scan demo.kv
expect_eq "$LAST_OUT" $'alpha\t1\nbeta\ttwo\ntab\tx\\x09y\nwith space\ta b' "scan demo.kv"
expect_ok sf scan demo.kv --json --prefix b
expect_eq "$LAST_OUT" $'[\n{"key":"beta","value":"two"}\n]' "scan --json --prefix"

# versions: a read at the hybrid time between two puts sees the first
expect_ok sf put demo.kv ver v1
status_ht
ht1=$STATUS_HT
expect_ok sf put demo.kv ver v2
expect_ok sf get demo.kv ver
expect_eq "$LAST_OUT" "v2"
expect_ok sf get demo.kv ver --at "$ht1"
expect_eq "$LAST_OUT" "v1" "get --at between the puts"

expect_ok sf put demo.items key0000000005 changed
expect_ok sf get demo.items key0000000005
expect_eq "$LAST_OUT" "changed"
expect_ok sf del demo.items key0000000006
expect_exit 2 sf get demo.items key0000000006
expect_contains "$LAST_ERR" "snapfs: error: key 'key0000000006' in 'demo.items': not found"
expect_ok sf get demo.items key0000000006 --at "$ht1"
expect_ok sf scan demo.items --prefix key000000000
expect_eq "$(printf '%s\n' "$LAST_OUT" | cut -f1 | tr '\n' ' ')" \
	"key0000000000 key0000000001 key0000000002 key0000000003 key0000000004 key0000000005 key0000000007 key0000000008 key0000000009 " \
	"scan --prefix after put and del"
expect_contains "$LAST_OUT" $'key0000000005\tchanged'
expect_ok sf scan demo.items --limit 5
expect_eq "$(printf '%s\n' "$LAST_OUT" | wc -l)" 5 "scan --limit 5"
expect_ok sf del demo.kv beta
expect_exit 2 sf get demo.kv beta

# exit codes: not found 2, usage 1
expect_exit 2 sf get demo.kv nosuchkey
expect_exit 2 sf get demo.nosuch alpha
expect_contains "$LAST_ERR" "table 'demo.nosuch': not found"
expect_exit 2 sf scan demo.nosuch
expect_exit 2 sf put demo.nosuch k v
expect_exit 2 sf del nosuch.kv k
expect_exit 2 sf load demo.nosuch --rows 10
expect_exit 1 sf get 'bad name' alpha
expect_exit 1 sf put nodot k v
expect_contains "$LAST_ERR" "table 'nodot': expected KEYSPACE.TABLE"
expect_exit 1 sf scan a.b.c
expect_exit 1 sf get demo.kv
expect_exit 1 sf get demo.kv alpha --at yesterday
expect_exit 1 sf put demo.kv "$(head -c 4097 /dev/zero | tr '\0' k)" v
expect_contains "$LAST_ERR" "the limit is 4096"
expect_exit 1 sf load demo.items
expect_exit 1 sf scan demo.kv --nosuchflag

# ---- a second serve on the same DATA is refused -----------------------------

rc=0
timeout 60 "$SNAPFS" serve --data "$DATA" --foreground </dev/null >"$T/second.log" 2>&1 || rc=$?
expect_eq "$rc" 3 "exit code of a second serve --foreground"
expect_contains "$(<"$T/second.log")" "already served by pid $first_pid"
rc=0
timeout 60 "$SNAPFS" serve --data "$DATA" </dev/null >"$T/second.log" 2>&1 || rc=$?
expect_eq "$rc" 3 "exit code of a second serve (detaching)"
expect_contains "$(<"$T/second.log")" "already served by pid $first_pid"
kill -0 "$first_pid" 2>/dev/null || fail "the first daemon died"
expect_ok sf get demo.kv alpha
expect_eq "$LAST_OUT" "1" "the first daemon still answers"

# ---- clients sending garbage do not disturb another client ------------------

# the well-behaved client: a put/get/scan loop whose every request must succeed
(
	set +e
	n=0
	while [[ ! -e $T/stop-good ]] || ((n < 50)); do
		"$SNAPFS" put demo.kv "good$n" "v$n" || { echo "put good$n: $?"; exit 1; }
		v=$("$SNAPFS" get demo.kv "good$n") || { echo "get good$n: $?"; exit 1; }
		[[ $v == "v$n" ]] || { echo "get good$n: '$v'"; exit 1; }
		c=$("$SNAPFS" scan demo.items --prefix key000001 --limit 100 | wc -l)
		[[ $c == 100 ]] || { echo "scan: $c rows"; exit 1; }
		n=$((n + 1))
		echo "$n" >"$T/good.count"
	done
) >"$T/good.log" 2>&1 &
good=$!
wait_until 30 test -s "$T/good.count" || fail "the good client did not start: $(<"$T/good.log")"

garbage_rc=0
before=$(<"$T/good.count")
timeout 240 "$garbage" "$DATA/snapfs.sock" 20 2>"$T/garbage.log" || garbage_rc=$?
during=$(($(<"$T/good.count") - before))
touch "$T/stop-good"
good_rc=0
wait "$good" || good_rc=$?
((good_rc == 0)) || fail "the good client failed during the garbage: $(<"$T/good.log")"
((garbage_rc == 0)) || fail "garbage client (exit $garbage_rc): $(<"$T/garbage.log")"
good_n=$(<"$T/good.count")
((good_n >= 50)) || fail "the good client made only $good_n rounds"
((during > 0)) || fail "the good client made no round while the garbage was sent"
echo "good client: $during rounds during the garbage, $good_n in all"
kill -0 "$first_pid" 2>/dev/null || fail "the daemon died from the garbage"
expect_ok sf status
expect_ok sf scan demo.items
expect_eq "$(printf '%s\n' "$LAST_OUT" | wc -l)" $((ROWS - 1)) "rows after the garbage"
pass "garbage clients"

# ---- stop, serve again: all still there -------------------------------------

snapfs_stop
expect_exit 4 sf get demo.kv alpha
snapfs_serve

expect_tables "demo.items/4 demo.kv/2" "tables after restart"
expect_ok sf scan demo.items
expect_eq "$(printf '%s\n' "$LAST_OUT" | wc -l)" $((ROWS - 1)) "demo.items rows after restart"
expect_ok sf scan demo.kv
expect_eq "$(printf '%s\n' "$LAST_OUT" | wc -l)" $((4 + good_n)) "demo.kv rows after restart"
while IFS=$'\t' read -r k v; do
	expect_ok sf get demo.items "$k"
	expect_eq "$LAST_OUT" "$v" "get $k after restart"
done <"$T/items.some"
expect_ok sf get demo.items key0000000005
expect_eq "$LAST_OUT" "changed"
expect_exit 2 sf get demo.items key0000000006
expect_exit 2 sf get demo.kv beta
expect_ok sf get demo.kv alpha
expect_eq "$LAST_OUT" "1"
expect_ok sf get demo.kv "good$((good_n - 1))"
expect_eq "$LAST_OUT" "v$((good_n - 1))"
expect_ok sf get demo.kv ver --at "$ht1"
expect_eq "$LAST_OUT" "v1" "the past after restart"
# the clock moved on past everything before the restart
status_ht
ht2=$STATUS_HT
((ht2 > ht1)) || fail "hybrid time after restart $ht2 <= $ht1"
expect_ok sf put demo.kv after restart
expect_ok sf get demo.kv after
expect_eq "$LAST_OUT" "restart"

snapfs_stop
pass
