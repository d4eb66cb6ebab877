#!/usr/bin/env bash
# Stress (issue 10, part 3): everything at once for STRESS_SECS (40 s):
# puts, loads, scans whose reader stalls, table drop/create, online
# restores of a table while it is dropped and re-created, snapshot create
# and delete, a 1 s schedule with a short retention, and reads through the
# mount. Afterwards: one table per name, every COMPLETE snapshot passes
# sha256sum -c through the mount, no acknowledged write is lost, and the
# daemon answers. Every command must end with an exit code its race
# allows (0, or 2/3 where a drop or a restore may get in its way); a 4
# (daemon gone) or 5 (internal) anywhere fails the test. Run under
# SANITIZE=thread and SANITIZE=1 too.
. "$(dirname "$0")/lib.sh"
TEST_TIMEOUT=${TEST_TIMEOUT:-400}
snapfs_setup
STRESS_SECS=${STRESS_SECS:-40}

expect_ok sf init
snapfs_serve --mount "$MNT"
expect_ok sf table create st.a --tablets 3
expect_ok sf table create st.b --tablets 2
expect_ok sf table create st.d --tablets 2
expect_ok sf put st.d k0 v0
expect_ok sf schedule create st --interval 1s --retention 4s

deadline=$((SECONDS + STRESS_SECS))
errs=$T/errors
: >"$errs"

# run CMD, note it in $errs unless its exit code is one of ALLOWED
run() { # "ALLOWED" CMD...
	local allowed=$1 rc=0
	shift
	"$@" >"$T/run.$BASHPID.out" 2>"$T/run.$BASHPID.err" || rc=$?
	if [[ " $allowed " != *" $rc "* ]]; then
		echo "exit $rc (allowed: $allowed): $* :: $(head -c 300 "$T/run.$BASHPID.err")" >>"$errs"
	fi
	return $rc
}

putter() {
	local n=0
	while ((SECONDS < deadline)); do
		if run "0" "$SNAPFS" put st.a "p-$n" "v-$n"; then
			echo "p-$n	v-$n" >>"$T/acked"
		fi
		n=$((n + 1))
	done
}

loader() {
	local n=0
	while ((SECONDS < deadline)); do
		run "0" "$SNAPFS" load st.b --rows 4000 --seed $((n++))
	done
}

slow_scanner() {
	while ((SECONDS < deadline)); do
		# the reader stalls 2 s while the daemon has rows to send
		run "0" bash -c "'$SNAPFS' scan st.b | { sleep 2; cat >/dev/null; }"
	done
}

drop_create() {
	while ((SECONDS < deadline)); do
		run "0 2 3" "$SNAPFS" table drop st.d
		run "0 3" "$SNAPFS" table create st.d --tablets 2
		run "0 2 3" "$SNAPFS" put st.d "k$RANDOM" v
	done
}

restorer() {
	local id
	while ((SECONDS < deadline)); do
		if run "0 2" "$SNAPFS" snapshot create st d; then
			id=$(cat "$T/run.$BASHPID.out")
			run "0 2 3" "$SNAPFS" snapshot restore "$id" --table st.d
			run "0 3" "$SNAPFS" snapshot delete "$id"
		fi
	done
}

snapshotter() {
	local id
	while ((SECONDS < deadline)); do
		if run "0" "$SNAPFS" snapshot create st a b; then
			id=$(cat "$T/run.$BASHPID.out")
			sleep 0.5
			run "0 3" "$SNAPFS" snapshot delete "$id"
		fi
	done
}

mount_reader() {
	while ((SECONDS < deadline)); do
		# snapshots come and go: a vanished file is fine, a daemon gone is not
		find "$MNT/snapshots" -maxdepth 5 -type f -name '*.sst' 2>/dev/null | head -20 |
			xargs -r cat >/dev/null 2>&1 || true
		is_mounted "$MNT" || echo "mount gone" >>"$errs"
		sleep 0.2
	done
}

pids=()
for w in putter loader slow_scanner drop_create restorer snapshotter mount_reader; do
	$w &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || true
done
[[ ! -s $errs ]] || fail "unexpected exit codes:$(printf '\n'; head -20 "$errs")"
echo "ok: $STRESS_SECS s of load, $(wc -l <"$T/acked") acknowledged puts"

# the daemon answers
expect_ok sf status

# one table per name
expect_ok sf table list --json
names=$(jq -r '.[] | "\(.keyspace).\(.name)"' <<<"$LAST_OUT" | sort)
[[ -z $(printf '%s\n' "$names" | uniq -d) ]] || fail "two tables of one name: $names"
expect_contains "$names" "st.a"
expect_contains "$names" "st.b"

# no acknowledged write lost
expect_ok sf scan st.a --prefix p-
printf '%s\n' "$LAST_OUT" | sort >"$T/scanned"
sort "$T/acked" >"$T/acked.sorted"
missing=$(comm -23 "$T/acked.sorted" "$T/scanned" | head -5)
[[ -z $missing ]] || fail "acknowledged writes lost: $missing"

# every COMPLETE snapshot passes sha256sum -c through the mount (retention
# may delete one while it is checked: only a snapshot still listed counts)
expect_ok sf schedule list --json
sched=$(jq -r '.[0].id' <<<"$LAST_OUT")
checked=0
expect_ok sf snapshot list --json
for id in $(jq -r '.[] | select(.state == "COMPLETE") | .id' <<<"$LAST_OUT"); do
	if (cd "$MNT/snapshots/$id" 2>/dev/null && sha256sum -c --quiet SHA256SUMS >/dev/null 2>&1); then
		checked=$((checked + 1))
	else
		sf snapshot list --json | jq -e --arg id "$id" 'any(.[]; .id == $id and .state == "COMPLETE")' >/dev/null &&
			fail "snapshot $id fails sha256sum -c through the mount"
	fi
done
((checked >= 1)) || fail "no COMPLETE snapshot checked"
echo "ok: $checked COMPLETE snapshots pass sha256sum -c"

# nothing half-made is left after a clean restart either (the schedule,
# and its snapshots, go first: its next snapshot would be CREATING)
expect_ok sf schedule delete "$sched"
snapfs_stop
snapfs_serve --mount "$MNT"
expect_ok sf snapshot list --json
expect_not_contains "$LAST_OUT" CREATING
expect_not_contains "$LAST_OUT" DELETING
snapfs_stop
pass
