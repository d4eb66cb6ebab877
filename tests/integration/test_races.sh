#!/usr/bin/env bash
# Races of issue 10, part 2, each held open on purpose:
# - a scan whose reader stops reading holds no lock: a table create, a
#   drop and a snapshot go through meanwhile (before, they waited for the
#   reader, and a create timed out and was applied later);
# - an online restore claims its table's name: a drop, a create or a
#   write of it is refused ("being restored", exit 3) while it runs, and
#   afterwards there is exactly one table of that name.
. "$(dirname "$0")/lib.sh"
snapfs_setup

expect_ok sf init
snapfs_serve
expect_ok sf table create ks.big --tablets 2
expect_ok sf load ks.big --rows 40000 --value-size 200 # ~8 MiB: more than socket buffers hold
expect_ok sf table create ks.t --tablets 2
expect_ok sf put ks.t k v

# a scan whose reader stalls for 20 s
mkfifo "$T/fifo"
"$SNAPFS" scan ks.big >"$T/fifo" &
scan_pid=$!
exec 7<"$T/fifo" # opened, never read until the end
sleep 1
start=$SECONDS
expect_ok timeout 10 "$SNAPFS" table create ks.new --tablets 2
expect_ok timeout 10 "$SNAPFS" table drop ks.new
expect_ok timeout 10 "$SNAPFS" snapshot create ks
expect_ok timeout 10 "$SNAPFS" put ks.big extra row
((SECONDS - start < 8)) || fail "operations waited for a stalled scan reader"
kill -0 "$scan_pid" 2>/dev/null || fail "the scan ended before its reader read"
cat <&7 >"$T/scanned"
exec 7<&-
wait "$scan_pid" || fail "the stalled scan failed"
expect_eq "$(wc -l <"$T/scanned")" 40000 "rows of the stalled scan"
echo "ok: a stalled scan reader blocks no create, drop, snapshot or write"

# an online restore of ks.t held open for 3 s after its journal
expect_ok sf snapshot create ks t
snap=$LAST_OUT
snapfs_stop
SNAPFS_DELAY_AT=online-restore-after-journal:3000 snapfs_serve
"$SNAPFS" snapshot restore "$snap" --table ks.t >"$T/restore.out" 2>&1 &
rpid=$!
wait_until 10 grep -q "delay injected at 'online-restore-after-journal'" "$T/serve.log" ||
	fail "the restore did not reach its delay point"
expect_exit 3 sf table drop ks.t
expect_contains "$LAST_ERR" "being restored"
expect_exit 3 sf table create ks.t
expect_contains "$LAST_ERR" "already exists"
expect_exit 3 sf put ks.t k2 v2
expect_contains "$LAST_ERR" "being restored"
expect_ok sf put ks.big k3 v3 # other tables are not held
wait "$rpid" || fail "restore failed: $(cat "$T/restore.out")"
expect_ok sf table list --json
expect_eq "$(jq '[.[] | select(.keyspace == "ks" and .name == "t")] | length' <<<"$LAST_OUT")" 1 "tables named ks.t"
expect_ok sf get ks.t k
expect_eq "$LAST_OUT" v
# once it is over, the name is free again
expect_ok sf table drop ks.t
expect_ok sf table create ks.t
echo "ok: a restore's table cannot be dropped, created or written while it runs"
snapfs_stop
pass
