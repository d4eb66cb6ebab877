#!/usr/bin/env bash
# test_clock: times and cuts the hybrid clock cannot hold, or should not
# be moved to (issue 11, items 1 and 2).
#
# 1. TIME texts past the clock's range are usage errors (exit 1, "time out
#    of range"), never wrapped into a time the user did not write; invalid
#    dates and repeated duration units are refused; a time in the future
#    is outside the window (exit 3) for get, scan and restore --to.
# 2. A backup whose cut disagrees with its wall_time, lies beyond the
#    clock's range, or lies more than 5 minutes ahead of this machine's
#    clock (SHA256SUMS recomputed each time) is refused by verify and by a
#    marker restore with DATA unchanged; SNAPFS_ALLOW_FUTURE_CUT=1 lets a
#    cut in 2106 through, and the clock then only moves forward.
. "$(dirname "$0")/lib.sh"
snapfs_setup
# the daemon's hybrid time (status --json prints it as a string: jq keeps
# all 20 digits)
status_ht() {
	sf status --json | jq -r .hybrid_time
}
# gt A B — A > B, for decimal numbers up to 2^64 (past bash's arithmetic)
gt() {
	local a b
	a=$(printf '%020s' "$1" | tr ' ' 0)
	b=$(printf '%020s' "$2" | tr ' ' 0)
	[[ $a > $b ]]
}

sf init
snapfs_serve --mount "$MNT"
expect_ok sf table create app.kv --tablets 2
expect_ok sf put app.kv k1 before
sleep 1
expect_ok sf put app.kv k1 last

# --- 1. times ------------------------------------------------------------------
for t in 9999-12-31T23:59:59Z 2999-01-01T00:00:00Z 2169-08-19T10:00:00Z \
	2112-09-17T23:53:47.370496Z 1969-12-31T23:59:59Z 18446744073709551616 -99999999d; do
	expect_exit 1 sf get app.kv k1 --at "$t"
	expect_contains "$LAST_ERR" "time '$t': time out of range"
	expect_exit 1 sf scan app.kv --at "$t"
	expect_contains "$LAST_ERR" "time out of range"
done
expect_exit 1 sf get app.kv k1 --at 2026-02-30T00:00:00Z
expect_contains "$LAST_ERR" "time '2026-02-30T00:00:00Z': no such day"
expect_exit 1 sf get app.kv k1 --at 2027-02-29T12:00:00Z
expect_exit 1 sf get app.kv k1 --at 2026-11-23T10:00:60Z
expect_exit 1 sf get app.kv k1 --at -1h1h
# the future: not history yet
for t in 2100-01-01T00:00:00Z 2112-09-17T23:53:47.370495Z 18446744073709551615; do
	expect_exit 3 sf get app.kv k1 --at "$t"
	expect_contains "$LAST_ERR" "in the future"
	expect_exit 3 sf scan app.kv --at "$t"
	expect_contains "$LAST_ERR" "in the future"
done
expect_ok sf get app.kv k1 --at -1ms
expect_eq "$LAST_OUT" last

expect_exit 1 sf schedule create app --interval 1h1h --retention 7d
expect_contains "$LAST_ERR" "duration '1h1h'"
expect_exit 1 sf schedule create app --interval 1h --retention 30m7d
expect_ok sf schedule create app --interval 1h30m --retention 7d
# a restore to 2169 wrapped to a second ago and lost the last write
expect_exit 1 sf restore --to 2169-08-19T10:00:00Z app
expect_contains "$LAST_ERR" "time out of range"
expect_exit 1 sf restore --to 2999-01-01T00:00:00Z app
expect_exit 3 sf restore --to 2100-01-01T00:00:00Z app
expect_contains "$LAST_ERR" "outside the restore window"
expect_ok sf get app.kv k1
expect_eq "$LAST_OUT" last "the last write after refused restores"
echo "ok: times"

# --- 2. cuts -------------------------------------------------------------------
expect_ok sf snapshot create app
id=$LAST_OUT
wait_until 10 test -e "$MNT/snapshots/$id/SHA256SUMS" || fail "snapshot $id not mounted"
rsync -a "$MNT/snapshots/$id/" "$T/backup/"
ht_before=$(status_ht)
snapfs_stop

# forge ROOT HYBRID_TIME WALL: a copy of the backup with that cut and
# wall_time (WALL "keep": unchanged), SHA256SUMS recomputed (a forger's edit)
forge() {
	local sum
	rm -rf "$1"
	cp -a "$T/backup" "$1"
	[[ $(grep -c '^ *"hybrid_time": *[0-9]' "$1/SNAPSHOT.json") == 1 ]] ||
		fail "no hybrid_time in $1/SNAPSHOT.json"
	sed -i "s/^\( *\"hybrid_time\": *\)[0-9]*/\1$2/" "$1/SNAPSHOT.json"
	[[ $3 == keep ]] || sed -i "s/^\( *\"wall_time\": *\)\"[^\"]*\"/\1\"$3\"/" "$1/SNAPSHOT.json"
	sum=$(cd "$1" && sha256sum SNAPSHOT.json | cut -d' ' -f1)
	sed -i "s|^[0-9a-f]\{64\}  SNAPSHOT.json\$|$sum  SNAPSHOT.json|" "$1/SHA256SUMS"
	(cd "$1" && sha256sum -c --quiet SHA256SUMS) || fail "forged tree $1 does not check"
}
ht_max=18446744073709551614 # 2^64 - 2, the issue's cut
wall_max=2112-09-17T23:53:47.370495Z
ht_2106=17592186044416000005 # 2^32 s << 12 | 5
wall_2106=2106-02-07T06:28:16.000000Z
forge "$T/f-keep" "$ht_max" keep
forge "$T/f-max" "$ht_max" "$wall_max"
forge "$T/f-2106" "$ht_2106" "$wall_2106"

expect_exit 3 sf verify "$T/f-keep"
expect_contains "$LAST_ERR" "SNAPSHOT.json: hybrid_time: $ht_max does not agree with wall_time"
expect_exit 3 sf verify "$T/f-max"
expect_contains "$LAST_ERR" "SNAPSHOT.json: hybrid_time: $ht_max"
expect_contains "$LAST_ERR" "beyond the hybrid clock's range"
expect_exit 3 env SNAPFS_ALLOW_FUTURE_CUT=1 "$SNAPFS" verify "$T/f-max"
expect_contains "$LAST_ERR" "beyond the hybrid clock's range"
expect_exit 3 sf verify "$T/f-2106"
expect_contains "$LAST_ERR" "SNAPSHOT.json: hybrid_time: 2106-02-07T06:28:16.000000Z"
expect_contains "$LAST_ERR" "SNAPFS_ALLOW_FUTURE_CUT=1"
expect_ok env SNAPFS_ALLOW_FUTURE_CUT=1 "$SNAPFS" verify "$T/f-2106"
expect_ok sf verify "$T/backup"

# marker restores of the forged trees: refused, DATA unchanged, marker kept
manifest() {
	(cd "$1" && find . \( -path ./snapfs.log -o -path ./snapfs.lock \) -prune -o \
		-printf '%p %y %s %T@ %m\n' | LC_ALL=C sort)
}
try_marker() { # TREE CODE WANT [ENV=VALUE]
	rm -rf "$DATA/restore"
	cp -a "$1" "$DATA/restore"
	touch "$DATA/_restore"
	manifest "$DATA" >"$T/data.before"
	if [[ -n ${4:-} ]]; then export "${4?}"; fi
	expect_serve_exit "$2"
	if [[ -n ${4:-} ]]; then unset "${4%%=*}"; fi
	expect_contains "$LAST_ERR" "$3"
	manifest "$DATA" >"$T/data.after"
	diff "$T/data.before" "$T/data.after" >&2 || fail "a refused restore of $1 changed DATA"
}
try_marker "$T/f-keep" 3 "does not agree with wall_time"
try_marker "$T/f-max" 3 "SNAPSHOT.json: hybrid_time: $ht_max"
try_marker "$T/f-max" 3 "beyond the hybrid clock's range" SNAPFS_ALLOW_FUTURE_CUT=1
try_marker "$T/f-2106" 3 "ahead of this machine's clock"
echo "ok: forged cuts refused by verify and marker restore, DATA unchanged"

# a deliberate move to 2106: allowed, the clock goes forward only
export SNAPFS_ALLOW_FUTURE_CUT=1
snapfs_serve
unset SNAPFS_ALLOW_FUTURE_CUT
[[ ! -e $DATA/_restore ]] || fail "the marker is still there after an allowed restore"
ht_after=$(status_ht)
gt "$ht_after" "$ht_2106" && gt "$ht_2106" "$ht_before" ||
	fail "clock $ht_after not above the 2106 cut $ht_2106"
expect_ok sf get app.kv k1
expect_eq "$LAST_OUT" last "the row at the 2106 cut"
expect_ok sf put app.kv k2 after
expect_ok sf get app.kv k2
expect_eq "$LAST_OUT" after
ht_later=$(status_ht)
gt "$ht_later" "$ht_after" || fail "clock went back: $ht_after then $ht_later"
snapfs_stop
snapfs_serve
ht_restart=$(status_ht)
gt "$ht_restart" "$ht_later" || fail "clock went back across a restart: $ht_later then $ht_restart"
expect_ok sf get app.kv k2
snapfs_stop
echo "ok: an allowed far cut moves the clock forward only"
pass
