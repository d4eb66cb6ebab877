#!/usr/bin/env bash
# test_json: every --json prints exactly one JSON document (issue 13 item 4).
#
# What must hold: each listing prints one array, `[]` when empty; status
# and verify one object; scan --json one array, streamed; no escaped
# slashes; every time is "<what>_time" in RFC 3339 UTC with microseconds
# beside "<what>_hybrid_time", a string of digits whose physical part is
# that same instant (and which --at takes); verify --json names every bad
# file of a backup, and so does verify's text.
. "$(dirname "$0")/lib.sh"
snapfs_setup

one_doc() { # TYPE WHAT — LAST_OUT is exactly one JSON document of TYPE
	local n
	n=$(jq -s length <<<"$LAST_OUT") || fail "$2: not JSON: $LAST_OUT"
	expect_eq "$n" 1 "$2: documents"
	expect_eq "$(jq -r type <<<"$LAST_OUT")" "$1" "$2: type"
	expect_not_contains "$LAST_OUT" '\/' "$2: escaped slash"
	check_times "$2"
}

# every *_time is RFC 3339 with µs and agrees with its *_hybrid_time
check_times() {
	local obj key ht t us want n=0
	while read -r obj; do
		for key in $(jq -r 'keys[] | select(test("(^|_)hybrid_time$"))' <<<"$obj"); do
			n=$((n + 1))
			ht=$(jq -r --arg k "$key" '.[$k]' <<<"$obj")
			t=$(jq -r --arg k "${key/hybrid_time/time}" '.[$k]' <<<"$obj")
			if [[ $ht == null ]]; then
				[[ $t == null ]] || fail "$1: $key is null but ${key/hybrid_time/time} is $t"
				continue
			fi
			[[ $(jq -r --arg k "$key" '.[$k] | type' <<<"$obj") == string && $ht =~ ^[0-9]+$ ]] ||
				fail "$1: $key '$ht' is not a string of digits"
			[[ $t =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$ ]] ||
				fail "$1: ${key/hybrid_time/time} '$t' is not RFC 3339 UTC with microseconds"
			us=$((ht >> 12))
			want=$(date -u -d "@$((us / 1000000))" +%Y-%m-%dT%H:%M:%S).$(printf '%06d' $((us % 1000000)))Z
			[[ $t == "$want" ]] || fail "$1: ${key/hybrid_time/time} $t is not $ht ($want)"
		done
		# no other spelling of a time
		for key in $(jq -r 'keys[] | select(test("_(us|ht)$|^since$|^created"))' <<<"$obj"); do
			[[ $key == interval_us || $key == retention_us ]] ||
				fail "$1: a time named '$key', not <what>_time"
		done
	done < <(jq -c '.. | objects' <<<"$LAST_OUT")
}

expect_ok sf init
snapfs_serve --mount "$MNT"

# empty: one empty array each
for verb in "table list" "snapshot list" "schedule list" "restore-point list" "restore list"; do
	read -ra w <<<"$verb"
	expect_ok sf "${w[@]}" --json
	expect_eq "$LAST_OUT" "[]" "$verb --json when empty"
done
expect_ok sf status --json
one_doc object "status"
expect_eq "$(jq -r .data <<<"$LAST_OUT")" "$DATA" "status data"
for f in version pid started_time started_hybrid_time time hybrid_time tables snapshots; do
	[[ $(jq --arg f "$f" 'has($f)' <<<"$LAST_OUT") == true ]] || fail "status has no $f"
done

expect_ok sf table create app.users --tablets 2
expect_ok sf scan app.users --json
expect_eq "$LAST_OUT" "[]" "scan --json of an empty table"
expect_ok sf scan app.users --json --prefix nothing --limit 5
expect_eq "$LAST_OUT" "[]" "scan --json with nothing matching"

# with content
expect_ok sf put app.users alice '{"path": "/a/b"}'
expect_ok sf put app.users bob $'tab\there'
expect_ok sf load app.users --rows 100
expect_ok sf table create app.orders --tablets 1
expect_ok sf schedule create app --interval 1h --retention 1d
expect_ok sf snapshot create app
id=$LAST_OUT
expect_ok sf snapshot restore "$id" --table app.users --as app.copy
for verb in "table list" "snapshot list" "schedule list" "restore-point list" "restore list"; do
	read -ra w <<<"$verb"
	expect_ok sf "${w[@]}" --json
	one_doc array "$verb"
	(($(jq length <<<"$LAST_OUT") >= 1)) || fail "$verb --json: empty: $LAST_OUT"
done
expect_ok sf restore list --json
expect_eq "$(jq -r '.[0].source' <<<"$LAST_OUT")" snapshot "restore list source"
[[ $(jq -r '.[0].cut_hybrid_time' <<<"$LAST_OUT") =~ ^[0-9]+$ ]] || fail "restore list: no cut"
expect_ok sf snapshot list --json
expect_eq "$(jq -r --arg id "$id" '.[] | select(.id == $id) | .state' <<<"$LAST_OUT")" COMPLETE "state"
ht=$(jq -r --arg id "$id" '.[] | select(.id == $id) | .hybrid_time' <<<"$LAST_OUT")
expect_ok sf put app.users alice changed
# a hybrid time from a listing is usable as --at, exactly
expect_ok sf get app.users alice --at "$ht"
expect_eq "$LAST_OUT" '{"path": "/a/b"}' "get --at the snapshot's hybrid_time"
expect_ok sf status --json
one_doc object "status with content"

expect_ok sf scan app.users --json --at "$ht"
one_doc array "scan"
expect_eq "$(jq -r '.[0].key + "=" + .[0].value' <<<"$LAST_OUT")" 'alice={"path": "/a/b"}' "scan row 1"
expect_eq "$(jq -r '.[1].value' <<<"$LAST_OUT")" 'tab\x09here' "scan row 2, escaped as in text"
expect_ok sf scan app.users --json --hex --limit 1
expect_eq "$(jq -r '.[0].key' <<<"$LAST_OUT")" 616c696365 "scan --hex"
# a failed scan prints nothing on stdout
expect_exit 2 sf scan app.nosuch --json
expect_eq "$LAST_OUT" "" "stdout of a failed scan --json"

# verify --json: one object; a bad backup lists every bad file
rsync -a "$MNT/snapshots/$id/" "$T/backup/"
expect_ok sf verify "$T/backup" --json
one_doc object "verify of a good backup"
expect_eq "$(jq -r '.ok, .snapshot_id, .keyspace, (.bad_files | length)' <<<"$LAST_OUT" | paste -sd ' ')" \
	"true $id app 0" "verify --json of a good backup"
mapfile -t ssts < <(cd "$T/backup" && find . -name '*.sst' | sed 's|^\./||' | sort)
((${#ssts[@]} >= 2)) || fail "the backup has ${#ssts[@]} SST files"
printf 'x' >>"$T/backup/${ssts[0]}"
rm "$T/backup/${ssts[1]}"
echo stray >"$T/backup/stray"
expect_exit 3 sf verify "$T/backup" --json
one_doc object "verify of a bad backup"
expect_eq "$(jq -r .ok <<<"$LAST_OUT")" false "verify ok"
bad=$(jq -r '.bad_files[].path' <<<"$LAST_OUT" | paste -sd ' ')
expect_eq "$bad" "$(printf '%s\n' "${ssts[0]}" "${ssts[1]}" stray | sort | paste -sd ' ')" "every bad file"
expect_exit 3 sf verify "$T/backup"
for f in "${ssts[0]}" "${ssts[1]}" stray; do
	expect_contains "$LAST_ERR" "file '$f'" "verify names every bad file"
done
expect_contains "$LAST_ERR" "not a good backup (3 bad)"

snapfs_stop
pass
