#!/usr/bin/env bash
# Makes tests/data/data-fcdb372.tar.gz, the DATA of the release before
# issue 10 (main at fcdb372), which test_migrate.sh opens with the current
# binary. Run by hand with that release's binary:
#     OLD_SNAPFS=/path/to/old/snapfs tests/data/make-main-data.sh
# It leaves: two tables with rows, a COMPLETE snapshot, a schedule, a
# restoration record, a first-format hash cache, and a restore journal of
# an online restore cut short (SNAPFS_CRASH_AT), all made at DATA=/tmp/snapfs-old-data.
set -euo pipefail
OLD=${OLD_SNAPFS:?set OLD_SNAPFS to the old snapfs binary}
out=$(cd "$(dirname "$0")" && pwd)/data-fcdb372.tar.gz
D=/tmp/snapfs-old-data
rm -rf "$D"
"$OLD" init --data "$D"
"$OLD" serve --data "$D"
"$OLD" table create app.users --tablets 3 --data "$D"
"$OLD" table create app.items --tablets 2 --data "$D"
"$OLD" load app.users --rows 3000 --seed 7 --data "$D"
"$OLD" load app.items --rows 500 --seed 8 --data "$D"
"$OLD" put app.users alice one --data "$D"
"$OLD" schedule create app --interval 1h --retention 1d --data "$D"
sleep 1.5 # the schedule's first snapshot
id=$("$OLD" snapshot create app --data "$D")
"$OLD" put app.users alice two --data "$D"
"$OLD" snapshot restore "$id" --table app.items --as app.copy --data "$D"
"$OLD" stop --data "$D"
# an online restore cut short right after its journal
SNAPFS_CRASH_AT=online-restore-after-journal "$OLD" serve --data "$D" --foreground >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do "$OLD" status --data "$D" >/dev/null 2>&1 && break; sleep 0.1; done
"$OLD" snapshot restore "$id" --table app.users --data "$D" || true
wait "$pid" || true
test -s "$D/restore.journal"
rm -f "$D/snapfs.sock" "$D/snapfs.log" "$D/snapfs.lock"
find "$D" -name "LOG*" -not -path "*.snapshots/*" -delete # RocksDB logs: not needed, not small
tar -C /tmp -czf "$out" snapfs-old-data
echo "$out: $(du -h "$out" | cut -f1)"
