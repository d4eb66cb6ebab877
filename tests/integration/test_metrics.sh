#!/usr/bin/env bash
# test_metrics: what a monitor reads (issue 13 item 6): status --json and
# snapfs metrics.
#
# What must hold: status --json has the version, the uptime, the view's
# read path, and per keyspace the last COMPLETE snapshot's time and age,
# the FAILED ones, each schedule's last and next run, the restore window,
# and the disk used live, in snapshots and only in snapshots, equal to
# what du counts over the same directories; the text status shows them;
# `snapfs metrics` is OpenMetrics text that a strict reader accepts
# (names, HELP and TYPE before a family's samples, samples of a family
# together, label syntax, numeric values, "# EOF" last) and says the same
# numbers as status --json; with no daemon it still prints a valid
# document, snapfs_up 0, and exits 4 (2 for a DATA that does not exist).
. "$(dirname "$0")/lib.sh"
snapfs_setup
require_cmd jq jq
ulimit -c 0

# check_openmetrics FILE — fail unless FILE is OpenMetrics text as a strict
# reader takes it, every family a snapfs_* gauge with HELP and TYPE.
check_openmetrics() {
	local out
	out=$(LC_ALL=C awk '
	function bad(msg) { print "line " NR ": " msg ": " $0; err = 1; exit }
	function name_ok(n) { return n ~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/ }
	# the labels between { and }: name="value" pairs, escapes \\ \" \n only
	function labels(s,    rest, n, v, c, seen, key) {
		rest = s; key = ""
		while (rest != "") {
			if (!match(rest, /^[a-zA-Z_][a-zA-Z0-9_]*="/)) bad("label syntax")
			n = substr(rest, 1, RLENGTH - 2); rest = substr(rest, RLENGTH + 1)
			if (n in seen) bad("label " n " twice"); seen[n] = 1
			v = ""
			while (1) {
				if (rest == "") bad("label value not closed")
				c = substr(rest, 1, 1)
				if (c == "\"") { rest = substr(rest, 2); break }
				if (c == "\\") {
					c = substr(rest, 2, 1)
					if (c != "\\" && c != "\"" && c != "n") bad("bad escape \\" c)
					v = v "\\" c; rest = substr(rest, 3); continue
				}
				if (c == "\n") bad("newline in a label value")
				v = v c; rest = substr(rest, 2)
			}
			key = key n "=" v ";"
			if (rest == "") break
			if (substr(rest, 1, 1) != ",") bad("labels not separated by commas")
			rest = substr(rest, 2)
		}
		return key
	}
	{
		if (eof) bad("text after # EOF")
		if ($0 == "") bad("empty line")
		if ($0 == "# EOF") { eof = 1; next }
		if ($0 ~ /^# HELP /) {
			n = $3
			if (!name_ok(n)) bad("bad name")
			if (n in help) bad("HELP twice")
			if (n in sampled) bad("HELP after samples")
			if (NF < 4) bad("empty HELP")
			help[n] = 1; fam = n; next
		}
		if ($0 ~ /^# TYPE /) {
			n = $3
			if (NF != 4) bad("TYPE syntax")
			if (!name_ok(n)) bad("bad name")
			if (n in type) bad("TYPE twice")
			if (n in sampled) bad("TYPE after samples")
			if ($4 != "gauge") bad("not a gauge (the type both formats read alike)")
			type[n] = $4; fam = n; next
		}
		if ($0 ~ /^#/) bad("a comment that is neither HELP, TYPE nor EOF")
		if (!match($0, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) bad("bad sample name")
		n = substr($0, 1, RLENGTH); rest = substr($0, RLENGTH + 1)
		if (n !~ /^snapfs_/) bad("not snapfs_*")
		if (!(n in help) || !(n in type)) bad("sample before its HELP and TYPE")
		if (n != fam) bad("sample outside its family")
		if (n in done) bad("family split")
		key = ""
		if (substr(rest, 1, 1) == "{") {
			close_at = 0
			# the closing brace: the first } outside a quoted value
			q = 0
			for (i = 2; i <= length(rest); i++) {
				c = substr(rest, i, 1)
				if (q && c == "\\") { i++; continue }
				if (c == "\"") q = !q
				else if (!q && c == "}") { close_at = i; break }
			}
			if (!close_at) bad("labels not closed")
			key = labels(substr(rest, 2, close_at - 2))
			rest = substr(rest, close_at + 1)
		}
		if (!match(rest, /^ [^ ]+$/)) bad("not one value after the name")
		v = substr(rest, 2)
		if (v !~ /^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$/ && v !~ /^([-+]?Inf|NaN)$/)
			bad("value not a number")
		if ((n SUBSEP key) in series) bad("the same series twice")
		series[n SUBSEP key] = 1
		sampled[n] = 1
		if (last != "" && last != n) done[last] = 1
		last = n
	}
	END {
		if (err) exit 1
		if (!eof) { print "no # EOF at the end"; exit 1 }
		for (n in help) if (!(n in type)) { print "family " n " has HELP but no TYPE"; exit 1 }
		for (n in type) if (!(n in help)) { print "family " n " has TYPE but no HELP"; exit 1 }
	}' "$1") || fail "$1 is not OpenMetrics text: $out"
	[[ $(tail -c 6 "$1") == "# EOF" ]] && [[ $(tail -c 1 "$1" | od -An -c) == *'\n'* ]] ||
		fail "$1 does not end with '# EOF' and a newline"
}

# expected_samples — the samples metrics must print, from status --json on
# stdin: "name{labels} value", hybrid times as HT:<digits>, µs as US:<n>.
expected_samples() {
	jq -r '
	def lab(k): "{keyspace=\"\(k)\"}";
	def slab(k; s): "{keyspace=\"\(k)\",schedule=\"\(s)\"}";
	"snapfs_up 1",
	"snapfs_version{version=\"\(.version)\",git=\"\(.git // "")\"} 1",
	(if .read_path then "snapfs_read_path{path=\"\(.read_path)\"} 1",
		"snapfs_view_read_bytes \(.read_bytes)" else empty end),
	"snapfs_start_time_seconds HT:\(.started_hybrid_time)",
	"snapfs_uptime_seconds \(.uptime_seconds)",
	"snapfs_tables \(.tables)",
	"snapfs_snapshots \(.snapshots)",
	(.keyspaces[] | . as $k | lab($k.name) as $l |
		"snapfs_keyspace_tables\($l) \($k.tables)",
		"snapfs_keyspace_snapshots\($l) \($k.snapshots)",
		"snapfs_failed_snapshots\($l) \($k.failed_snapshots)",
		(if $k.last_snapshot_hybrid_time then
			"snapfs_last_snapshot_timestamp_seconds\($l) HT:\($k.last_snapshot_hybrid_time)",
			"snapfs_last_snapshot_age_seconds\($l) \($k.last_snapshot_age_seconds)"
		else empty end),
		(if $k.restore_window_start_hybrid_time then
			"snapfs_restore_window_start_timestamp_seconds\($l) HT:\($k.restore_window_start_hybrid_time)",
			"snapfs_restore_window_seconds\($l) \($k.restore_window_seconds)"
		else empty end),
		"snapfs_live_bytes\($l) \($k.live_bytes)",
		"snapfs_snapshot_bytes\($l) \($k.snapshot_bytes)",
		"snapfs_snapshot_exclusive_bytes\($l) \($k.snapshot_exclusive_bytes)",
		($k.schedules[] | slab($k.name; .id) as $s |
			"snapfs_schedule_interval_seconds\($s) US:\(.interval_us)",
			"snapfs_schedule_retention_seconds\($s) US:\(.retention_us)",
			(if .last_run_hybrid_time then
				"snapfs_schedule_last_run_timestamp_seconds\($s) HT:\(.last_run_hybrid_time)"
			else empty end),
			"snapfs_schedule_next_run_timestamp_seconds\($s) HT:\(.next_run_hybrid_time)"))' |
		while read -r series value; do
			case $value in
			HT:*) value=$((${value#HT:} >> 12)) value=$((value / 1000000)).$(printf '%06d' $((value % 1000000))) ;;
			US:*) value=${value#US:} value=$((value / 1000000)).$(printf '%06d' $((value % 1000000))) ;;
			esac
			printf '%s %s\n' "$series" "$value"
		done | LC_ALL=C sort
}

# metrics_agree STATUS_BEFORE METRICS STATUS_AFTER — every sample of the
# metrics is the one status says, and nothing is missing or extra; what
# moves with the clock (uptime, ages, the window's length) lies between
# the two statuses taken around it.
metrics_agree() {
	local got
	got=$(grep -v '^#' "$2" | LC_ALL=C sort)
	expected_samples <"$1" >"$T/want.before"
	expected_samples <"$3" >"$T/want.after"
	printf '%s\n' "$got" >"$T/got"
	LC_ALL=C join -a1 -a2 -e MISSING -o 0,1.2,1.3,2.2 \
		<(LC_ALL=C join -a1 -a2 -e MISSING -o 0,1.2,2.2 "$T/got" "$T/want.before") \
		"$T/want.after" >"$T/joined" 2>/dev/null ||
		fail "cannot compare metrics with status"
	awk '
		{ n = $1; got = $2; a = $3; b = $4 }
		got == "MISSING" || a == "MISSING" || b == "MISSING" { print "series " n ": metrics " got ", status " a " then " b; bad = 1; next }
		n ~ /^snapfs_(uptime|last_snapshot_age|restore_window)_seconds/ {
			if (got + 0 < a + 0 || got + 0 > b + 0) { print n ": " got " not between " a " and " b; bad = 1 }
			next
		}
		n ~ /^snapfs_restore_window_start/ { if (got + 0 < a + 0 - 1 || got + 0 > b + 0 + 1) { print n ": " got " vs " a; bad = 1 } next }
		got + 0 != a + 0 { print n ": metrics says " got ", status " a; bad = 1 }
		END { exit bad }' "$T/joined" || fail "metrics and status --json disagree (see above)"
}

expect_ok sf init
snapfs_serve --mount "$MNT"
expect_ok sf table create app.users --tablets 3
expect_ok sf table create app.orders --tablets 2
expect_ok sf table create logs.events --tablets 1
expect_ok sf load app.users --rows 20000 --seed 1
expect_ok sf load logs.events --rows 5000 --seed 2
expect_ok sf snapshot create app
first=$LAST_OUT
expect_ok sf schedule create logs --interval 1h --retention 2d
sched=$LAST_OUT
wait_until 30 bash -c "'$SNAPFS' restore-point list --json | jq -e '.[0].snapshots >= 1' >/dev/null" ||
	fail "the schedule took no snapshot"
expect_ok sf snapshot create app
latest=$LAST_OUT

# ---- a FAILED snapshot: a create cut short by a crash ------------------------------
snapfs_stop
SNAPFS_CRASH_AT=create-after-checkpoints snapfs_serve
expect_exit 4 sf snapshot create app
wait_crashed create-after-checkpoints
snapfs_serve --mount "$MNT"
cat "$MNT/snapshots/$latest/SNAPSHOT.json" >/dev/null # the view serves a read

# ---- status --json ------------------------------------------------------------------
expect_ok sf status --json
printf '%s\n' "$LAST_OUT" >"$T/status.json"
st() { jq -r "$1" "$T/status.json"; }
app() { jq -r ".keyspaces[] | select(.name == \"app\") | $1" "$T/status.json"; }
logs() { jq -r ".keyspaces[] | select(.name == \"logs\") | $1" "$T/status.json"; }

expect_eq "$(st .version)" "$("$SNAPFS" --version | awk '{ print $2 }')" "status: version"
[[ $(st .uptime_seconds) =~ ^[0-9]+$ ]] || fail "status: uptime_seconds is not a count: $(st .uptime_seconds)"
(($(st .uptime_seconds) < 120)) || fail "status: uptime of a daemon just started: $(st .uptime_seconds)"
[[ -n $(st '.read_path // empty') ]] || fail "status: no read_path with a mount"
expect_eq "$(st '[.keyspaces[].name] | join(" ")')" "app logs" "status: keyspaces"
expect_eq "$(app .tables) $(logs .tables)" "2 1" "status: tables per keyspace"
expect_eq "$(app .snapshots) $(app .failed_snapshots)" "3 1" "status: app's snapshots and FAILED ones"
expect_eq "$(logs .failed_snapshots)" "0" "status: logs has no FAILED snapshot"
expect_eq "$(app .last_snapshot_id)" "$latest" "status: app's last COMPLETE snapshot"
expect_ok sf snapshot list --json
want_time=$(printf '%s\n' "$LAST_OUT" | jq -r ".[] | select(.id == \"$latest\") | .time")
expect_eq "$(app .last_snapshot_time)" "$want_time" "status: the last snapshot's time is its cut"
age=$(app .last_snapshot_age_seconds)
((age >= 0 && age < 300)) || fail "status: age of the last snapshot: $age"
expect_eq "$(app '.schedules | length')" "0" "status: app has no schedule"
expect_eq "$(logs '.schedules[0].id')" "$sched" "status: logs' schedule"
sched_snap=$(printf '%s\n' "$LAST_OUT" | jq -r ".[] | select(.schedule_id == \"$sched\") | .hybrid_time")
expect_eq "$(logs '.schedules[0].last_run_hybrid_time')" "$sched_snap" "status: the schedule's last run"
expect_eq "$(($(logs '.schedules[0].next_run_hybrid_time') - sched_snap))" "$((3600000000 << 12))" \
	"status: the next run an interval after the last"
# the window: from the history kept (or the oldest table's creation) to now
created=$(sf table list --json | jq -r '[.[] | select(.keyspace == "app") | .hybrid_time] | min')
start=$(app .restore_window_start_hybrid_time)
((start >= created)) || fail "status: app's window starts before its first table ($start < $created)"
expect_eq "$(app .restore_window_end_time | cut -c1-10)" "$(date -u +%F)" "status: the window ends now"

# the disk, as du counts it over the same directories (each file once)
live_dirs() { # KS: its live tablet directories
	sf table list --json | jq -r ".[] | select(.keyspace == \"$1\") | .id" | while read -r t; do
		find "$DATA/tablets/table-$t" -mindepth 1 -maxdepth 1 -type d ! -name '*.snapshots'
	done
}
snap_dirs() { # KS: its snapshots' directories
	sf snapshot list --keyspace "$1" --json | jq -r '.[].id' | while read -r id; do
		find "$DATA/tablets" -mindepth 3 -maxdepth 3 -type d -path "*.snapshots/$id"
		[[ -d $DATA/snapshots/$id ]] && echo "$DATA/snapshots/$id"
	done
}
du_of() { # DIR...: bytes of blocks, each inode once
	du -csB1 "$@" | tail -1 | cut -f1
}
mapfile -t live < <(live_dirs app)
mapfile -t snaps < <(snap_dirs app)
expect_eq "$(app .live_bytes)" "$(du_of "${live[@]}")" "status: app's live bytes and du"
expect_eq "$(app .snapshot_bytes)" "$(du_of "${snaps[@]}")" "status: app's snapshot bytes and du"
both=$(du_of "${live[@]}" "${snaps[@]}")
expect_eq "$(app .snapshot_exclusive_bytes)" "$((both - $(app .live_bytes)))" \
	"status: app's bytes only in snapshots (du of both minus du of live)"

# ---- status as text -------------------------------------------------------------------
expect_ok sf status
for want in "uptime_seconds" "read_path" "keyspace app: 2 tables, 3 snapshots, 1 FAILED" \
	"last snapshot" "$latest" "schedule         $sched every 1h, kept 2d" "restore window" \
	"only in snapshots"; do
	expect_contains "$LAST_OUT" "$want" "status text"
done

# ---- metrics ---------------------------------------------------------------------------
expect_ok sf status --json
printf '%s\n' "$LAST_OUT" >"$T/before.json"
expect_ok sf metrics
printf '%s\n' "$LAST_OUT" >"$T/metrics.prom"
expect_ok sf status --json
printf '%s\n' "$LAST_OUT" >"$T/after.json"
check_openmetrics "$T/metrics.prom"
metrics_agree "$T/before.json" "$T/metrics.prom" "$T/after.json"
grep -q '^snapfs_failed_snapshots{keyspace="app"} 1$' "$T/metrics.prom" || fail "metrics: app's FAILED snapshot"
grep -q "^snapfs_schedule_interval_seconds{keyspace=\"logs\",schedule=\"$sched\"} 3600" "$T/metrics.prom" ||
	fail "metrics: the schedule's interval"

# the checker itself refuses what it must
printf '# HELP snapfs_x x\n# TYPE snapfs_x gauge\nsnapfs_x{a="1"} 1\n' >"$T/bad.prom"
(check_openmetrics "$T/bad.prom") 2>/dev/null && fail "the checker took a document without # EOF"
printf 'snapfs_x 1\n# HELP snapfs_x x\n# TYPE snapfs_x gauge\n# EOF\n' >"$T/bad.prom"
(check_openmetrics "$T/bad.prom") 2>/dev/null && fail "the checker took a sample before HELP"
printf '# HELP snapfs_x x\n# TYPE snapfs_x gauge\nsnapfs_x{a=1} 1\n# EOF\n' >"$T/bad.prom"
(check_openmetrics "$T/bad.prom") 2>/dev/null && fail "the checker took an unquoted label"
printf '# HELP snapfs_x x\n# TYPE snapfs_x gauge\nsnapfs_x one\n# EOF\n' >"$T/bad.prom"
(check_openmetrics "$T/bad.prom") 2>/dev/null && fail "the checker took a value that is not a number"

# the textfile collector's way: written to a temp file, renamed into place
prom=$T/textfile/snapfs.prom
mkdir -p "$T/textfile"
sf metrics >"$prom.$$"
mv -f "$prom.$$" "$prom"
check_openmetrics "$prom"

# ---- no daemon: still a document ------------------------------------------------------
snapfs_stop
expect_exit 4 sf metrics
printf '%s\n' "$LAST_OUT" >"$T/down.prom"
check_openmetrics "$T/down.prom"
grep -qx 'snapfs_up 0' "$T/down.prom" || fail "metrics without a daemon: no snapfs_up 0"
expect_contains "$LAST_ERR" "no daemon listens"
expect_exit 2 sf metrics --data "$T/nonexistent"
printf '%s\n' "$LAST_OUT" >"$T/down.prom"
check_openmetrics "$T/down.prom"
grep -qx 'snapfs_up 0' "$T/down.prom" || fail "metrics of a DATA that does not exist: no snapfs_up 0"
pass
