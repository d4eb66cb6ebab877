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
command -v python3 >/dev/null || fail "python3 is needed"

status_ht() {
	sf status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["hybrid_time"])'
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

# forge ROOT HYBRID_TIME [WALL]: a copy of the backup with that cut, and
# wall_time made to agree unless WALL is "keep"; SHA256SUMS recomputed
forge() {
	rm -rf "$1"
	cp -a "$T/backup" "$1"
	python3 - "$1/SNAPSHOT.json" "$2" "${3:-}" <<'EOF'
import datetime, json, sys
path, ht, wall = sys.argv[1], int(sys.argv[2]), sys.argv[3]
m = json.load(open(path))
m["hybrid_time"] = ht
if wall != "keep":
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=ht >> 12)
    m["wall_time"] = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
json.dump(m, open(path, "w"), indent=2)
EOF
	local sum
	sum=$(cd "$1" && sha256sum SNAPSHOT.json | cut -d' ' -f1)
	sed -i "s|^[0-9a-f]\{64\}  SNAPSHOT.json\$|$sum  SNAPSHOT.json|" "$1/SHA256SUMS"
	(cd "$1" && sha256sum -c --quiet SHA256SUMS) || fail "forged tree $1 does not check"
}
# bash has no 2^64: python computes the cuts
ht_max=$(python3 -c 'print(2**64 - 2)')                       # the issue's cut
ht_2106=$(python3 -c 'print((4294967296 * 10**6) << 12 | 5)') # 2106-02-07T06:28:16Z
forge "$T/f-keep" "$ht_max" keep
forge "$T/f-max" "$ht_max"
forge "$T/f-2106" "$ht_2106"

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
python3 -c 'import sys; a, b, c = map(int, sys.argv[1:]); sys.exit(not (c > b > a))' \
	"$ht_before" "$ht_2106" "$ht_after" || fail "clock $ht_after not above the 2106 cut $ht_2106"
expect_ok sf get app.kv k1
expect_eq "$LAST_OUT" last "the row at the 2106 cut"
expect_ok sf put app.kv k2 after
expect_ok sf get app.kv k2
expect_eq "$LAST_OUT" after
ht_later=$(status_ht)
python3 -c 'import sys; a, b = map(int, sys.argv[1:]); sys.exit(not b > a)' "$ht_after" "$ht_later" ||
	fail "clock went back: $ht_after then $ht_later"
snapfs_stop
snapfs_serve
ht_restart=$(status_ht)
python3 -c 'import sys; a, b = map(int, sys.argv[1:]); sys.exit(not b >= a)' "$ht_later" "$ht_restart" ||
	fail "clock went back across a restart: $ht_later then $ht_restart"
expect_ok sf get app.kv k2
snapfs_stop
echo "ok: an allowed far cut moves the clock forward only"
pass
