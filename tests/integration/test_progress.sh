#!/usr/bin/env bash
# test_progress: the progress of long work (issue 13 item 7).
#
# What must hold: with --progress, off a terminal, load, snapshot create,
# verify, snapshot restore (online), restore --to and a marker restore
# (serve, in its log, and through a detached serve's parent) print plain
# lines on stderr, no control character in them, whose counts per phase
# never fall and end at the phase's total, with totals that are the real
# ones (rows asked, tablets, bytes of the files hashed); with --quiet, and
# by default off a terminal, nothing; never anything on stdout, so --json
# stays one document; on a terminal one line per phase redrawn in place.
. "$(dirname "$0")/lib.sh"
snapfs_setup
require_cmd rsync rsync
require_cmd jq jq

# check_progress FILE PREFIX — the lines of FILE that start with PREFIX
# (a regex up to the phase) are progress lines "<phase> <done>/<total>
# <unit> (<pct>%)...": each phase's counts never fall and its last one is
# its total, its total never changes, no control characters. Prints the
# phases in order as "phase/total/unit ..." into PHASES.
check_progress() {
	local file=$1 prefix=$2 out
	if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$file"; then
		fail "control characters in the progress of $file: $(cat -A "$file" | head -5)"
	fi
	out=$(sed -nE "s/^${prefix}//p" "$file" | awk '
		{
			if ($2 !~ /^[0-9]+\/[0-9]+$/) { print "ERR bad count: " $0; exit }
			split($2, c, "/"); d = c[1] + 0; t = c[2] + 0
			if ($1 != phase) {
				if (phase != "" && last != total) { print "ERR " phase " ended at " last " of " total; exit }
				phase = $1; total = t; last = -1; list = list " " phase "/" t "/" $3
			}
			if (t != total) { print "ERR " phase ": total changed " total " -> " t; exit }
			if (d < last) { print "ERR " phase ": count fell " last " -> " d; exit }
			if (d > t) { print "ERR " phase ": count " d " above total " t; exit }
			last = d; n++
		}
		END {
			if (n == 0) { print "ERR no progress line"; exit }
			if (last != total) { print "ERR " phase " ended at " last " of " total; exit }
			print substr(list, 2)
		}')
	[[ $out != ERR* ]] || fail "progress in $file (prefix '$prefix'): ${out#ERR }: $(head -20 "$file")"
	PHASES=$out
}

expect_ok sf init
snapfs_serve --mount "$MNT"
expect_ok sf table create demo.items --tablets 4

# ---- load -------------------------------------------------------------------------
expect_ok sf load demo.items --rows 150000 --seed 1 --progress
check_progress "$T/last.err" "snapfs: load: "
expect_eq "$PHASES" "write/150000/rows" "load's phases"
expect_eq "$LAST_OUT" "snapfs: loaded 150000 rows into 'demo.items'" "load's stdout"
expect_ok sf load demo.items --rows 1000 --seed 2 --quiet
expect_eq "$LAST_ERR" "" "load --quiet"
expect_ok sf load demo.items --rows 1000 --seed 3
expect_eq "$LAST_ERR" "" "load off a terminal, without --progress"
expect_exit 1 sf load demo.items --rows 10 --progress --quiet
expect_contains "$LAST_ERR" "'--progress' and '--quiet'"

# ---- snapshot create --------------------------------------------------------------
expect_ok sf snapshot create demo --progress
id=$LAST_OUT
[[ $id =~ ^[0-9a-f]{32}$ ]] || fail "snapshot create --progress: stdout is not just the id: $id"
check_progress "$T/last.err" "snapfs: snapshot create: "
expect_eq "$PHASES" "checkpoint/4/tablets" "snapshot create's phases"
expect_ok sf snapshot create demo --quiet
expect_eq "$LAST_ERR" "" "snapshot create --quiet"

# ---- verify -----------------------------------------------------------------------
rsync -a "$MNT/snapshots/$id/" "$T/backup/"
hashed=$(find "$T/backup" -type f ! -name SHA256SUMS ! -name SNAPSHOT.json -printf '%s\n' |
	awk '{ s += $1 } END { print s }')
expect_ok sf verify "$T/backup" --progress
check_progress "$T/last.err" "snapfs: verify: "
expect_eq "$PHASES" "hash/$hashed/bytes read/4/tablets" "verify's phases (bytes of the files hashed)"
expect_ok sf verify "$T/backup" --json --progress
printf '%s\n' "$LAST_OUT" | jq -e '.ok == true' >/dev/null ||
	fail "verify --json --progress: stdout is not the one document: $LAST_OUT"
check_progress "$T/last.err" "snapfs: verify: "
expect_ok sf verify "$T/backup" --quiet
expect_eq "$LAST_ERR" "" "verify --quiet"

# ---- snapshot restore (online) ----------------------------------------------------
expect_ok sf snapshot restore "$id" --progress
check_progress "$T/last.err" "snapfs: snapshot restore: "
expect_eq "$PHASES" "copy/4/tablets scan/4/tablets filter/4/tablets" "snapshot restore's phases"
expect_ok sf snapshot restore "$id" --table demo.items --as demo.copy --quiet
expect_eq "$LAST_ERR" "" "snapshot restore --quiet"

# ---- restore --to -----------------------------------------------------------------
expect_ok sf schedule create demo --interval 1h --retention 1d
wait_until 30 bash -c "'$SNAPFS' restore-point list --json | jq -e '.[0].snapshots >= 1' >/dev/null" ||
	fail "the schedule took no snapshot"
expect_ok sf put demo.items after-the-point v
now=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
expect_ok sf restore --to "$now" demo --progress
check_progress "$T/last.err" "snapfs: restore: "
now=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
expect_ok sf restore --to "$now" demo --quiet
expect_eq "$LAST_ERR" "" "restore --to --quiet"

# ---- a terminal: one line per phase, redrawn in place -------------------------------
script -qec "'$SNAPFS' load demo.items --rows 100000 --seed 4" /dev/null >"$T/tty.out" </dev/null ||
	fail "load on a terminal failed: $(cat -A "$T/tty.out")"
grep -q $'\r''load: write ' "$T/tty.out" || fail "no line redrawn with \\r on a terminal: $(cat -A "$T/tty.out")"
grep -q $'\e\[K' "$T/tty.out" || fail "the terminal's line is not cleared to its end"
grep -q 'write 100000/100000 rows (100%)' "$T/tty.out" || fail "the terminal's line does not end at the total"
script -qec "'$SNAPFS' load demo.items --rows 100000 --seed 4 --quiet" /dev/null >"$T/tty.out" </dev/null
grep -q 'write ' "$T/tty.out" && fail "--quiet on a terminal still shows progress: $(cat -A "$T/tty.out")"

# ---- the marker restore of serve: its log, and a detached serve's terminal ---------
marker_restore_setup() {
	rm -rf "$DATA/restore"
	rsync -a "$T/backup/" "$DATA/restore/"
	touch "$DATA/_restore"
}
snapfs_stop
marker_restore_setup
start=$(wc -l <"$T/serve.log")
snapfs_serve
[[ ! -e $DATA/_restore ]] || fail "the marker restore did not run"
tail -n +"$((start + 1))" "$T/serve.log" >"$T/restore.log"
check_progress "$T/restore.log" "[^ ]+ snapfs\[[0-9]+\]: restore: "
expect_eq "$PHASES" "hash/$hashed/bytes read/4/tablets filter/4/tablets" "the marker restore's phases in the log"
snapfs_stop

marker_restore_setup
start=$(wc -l <"$T/serve.log")
snapfs_serve --quiet
tail -n +"$((start + 1))" "$T/serve.log" >"$T/restore.log"
grep -q ': restore: hash' "$T/restore.log" && fail "serve --quiet logged the restore's progress"
snapfs_stop

marker_restore_setup
rc=0
sf serve --progress >"$T/last.out" 2>"$T/last.err" </dev/null || rc=$?
# the daemon, if it started, whatever the parent said: the harness stops it
SNAPFS_PID=$(cat "$DATA/snapfs.lock" 2>/dev/null) || true
_snapfs_sanitizer_report "$T/last.err" && fail "sanitizer report from: sf serve --progress"
expect_eq "$rc" 0 "serve --progress exit code ($(cat "$T/last.err"))"
LAST_OUT=$(<"$T/last.out")
check_progress "$T/last.err" "snapfs: serve: "
expect_eq "$PHASES" "hash/$hashed/bytes read/4/tablets filter/4/tablets" "a detached serve's parent"
check_progress "$DATA/snapfs.log" "[^ ]+ snapfs\[[0-9]+\]: restore: "
expect_contains "$LAST_OUT" "snapfs: serving '$DATA'"
expect_ok sf stop
SNAPFS_PID=
pass
