#!/usr/bin/env bash
# test_mount_incremental: a snapshot's files never change their stat after
# it completed, so incremental backup tools that compare stat read only
# what is new (issue 12, item 5):
#   - every file of S1 shows the same inode, size, mode, owner, blocks,
#     mtime, ctime and atime after later snapshots hard-link its SSTs and
#     after a restart; nlink is its number of names in the mount (one
#     more per snapshot sharing it), the same across a restart;
#   - restic: two backups of snapshots/latest/ with rows and a snapshot
#     in between: the second reports the shared SSTs unmodified, and the
#     daemon sends no byte of them (status read_bytes, caches dropped);
#   - borg: the same two backups; the second lists no shared SST as
#     added or modified.
. "$(dirname "$0")/lib.sh"
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
snapfs_setup
require_cmd jq jq
require_cmd restic restic
require_cmd borgbackup borg
((EUID == 0)) || skip "dropping the page cache between backups needs root"

stat_all() { # DIR: one line per file: path, then what must not move
	(cd "$1" && find . -type f -printf '%P\n' | sort | while read -r f; do
		printf '%s %s\n' "$f" "$(stat -c '%i %s %f %u %g %b %.9Y %.9Z %.9X' "$f")"
	done)
}
links_all() { (cd "$1" && find . -type f -printf '%P %n\n' | sort); }
status_field() {
	expect_ok sf status --json
	jq -r --arg k "$1" '.[$k]' <<<"$LAST_OUT"
}
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches || fail "cannot drop caches"
}

sf init
# the copy path: the daemon sends every byte readers get, and counts them
SNAPFS_READ_PATH=splice snapfs_serve --mount "$MNT"
expect_ok sf table create inc.items --tablets 4
expect_ok sf load inc.items --rows 4000 --value-size 1000 --seed 1
expect_ok sf snapshot create inc
S1=$LAST_OUT
stat_all "$MNT/snapshots/$S1" >"$T/s1.before"
links_all "$MNT/snapshots/$S1" >"$T/s1.links.before"
grep -q '\.sst ' "$T/s1.before" || fail "S1 has no SST"

# ---- later snapshots link S1's SSTs: its stat stays ----
sleep 1.1 # a moved ctime would show in whole seconds too
expect_ok sf load inc.items --rows 20 --value-size 1000 --seed 2
expect_ok sf snapshot create inc
S2=$LAST_OUT
stat_all "$MNT/snapshots/$S1" >"$T/s1.after"
expect_ok diff "$T/s1.before" "$T/s1.after"
# the native SSTs' ctime did move (the test would prove nothing otherwise)
sst=$(grep -m1 '\.sst ' "$T/s1.before" | cut -d' ' -f1)
native=$(echo "$DATA"/tablets/table-*/"$(basename "$(dirname "$sst")").snapshots/$S1/$(basename "$sst")")
[[ $(stat -c %.9Z "$native") != "$(grep "^$sst " "$T/s1.before" | cut -d' ' -f9)" ]] ||
	fail "the underlying ctime of $sst did not move: the test proves nothing"
# nlink: one more name for each SST S2 shares
shared=0
while read -r f n; do
	want=1
	if [[ -e $MNT/snapshots/$S2/$f && $(stat -c %i "$MNT/snapshots/$S2/$f") == $(stat -c %i "$MNT/snapshots/$S1/$f") ]]; then
		want=2
		shared=$((shared + 1))
	fi
	expect_eq "$n" "$want" "nlink of $f (in S1 only: 1, shared with S2: 2)"
done < <(links_all "$MNT/snapshots/$S1")
((shared >= 4)) || fail "S1 and S2 share $shared files, the test needs some"
links_all "$MNT/snapshots/$S1" >"$T/s1.links.after"

# ---- and across a restart ----
snapfs_stop
SNAPFS_READ_PATH=splice snapfs_serve --mount "$MNT"
stat_all "$MNT/snapshots/$S1" >"$T/s1.restart"
expect_ok diff "$T/s1.before" "$T/s1.restart"
expect_ok diff "$T/s1.links.after" <(links_all "$MNT/snapshots/$S1")

# ---- restic and borg: the second backup of latest reads only what is new ----
export RESTIC_REPOSITORY=$T/restic RESTIC_PASSWORD=snapfs-test RESTIC_CACHE_DIR=$T/restic-cache
export BORG_REPO=$T/borg BORG_BASE_DIR=$T/borg-base BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
expect_ok restic init
expect_ok borg init --encryption=none
expect_ok restic backup --json "$MNT/snapshots/latest/"*
expect_ok borg create "::one" "$MNT/snapshots/latest/"*
prev=$(readlink "$MNT/snapshots/latest")

expect_ok sf load inc.items --rows 20 --value-size 1000 --seed 3
expect_ok sf snapshot create inc
S3=$LAST_OUT
expect_eq "$(readlink "$MNT/snapshots/latest")" "$S3" "latest"
# what the second backup must read: files that are not the same file
# (path and inode) as in the snapshot the first one read
(cd "$MNT/snapshots/$prev" && find . -type f -printf '%P %i\n' | sort) >"$T/prev.files"
(cd "$MNT/snapshots/$S3" && find . -type f -printf '%P %i %s\n' | sort) >"$T/new.files"
same=$(join "$T/prev.files" "$T/new.files" | awk '$2 == $3' | wc -l)
same_ssts=$(join "$T/prev.files" "$T/new.files" | awk '$2 == $3 && $1 ~ /\.sst$/' | wc -l)
new_bytes=$(join -a 2 "$T/prev.files" "$T/new.files" | awk 'NF == 3 || $2 != $3 { s += $NF } END { print s + 0 }')
((same_ssts >= 4)) || fail "latest shares $same_ssts SSTs with the previous latest, the test needs some"

drop_caches
r0=$(status_field read_bytes)
expect_ok restic backup --json "$MNT/snapshots/latest/"*
r1=$(status_field read_bytes)
summary=$(printf '%s\n' "$LAST_OUT" | grep '"message_type":"summary"')
[[ -n $summary ]] || fail "no summary from restic: $LAST_OUT"
read -r unmodified changed new < <(jq -r '"\(.files_unmodified) \(.files_changed) \(.files_new)"' <<<"$summary")
echo "restic's second backup: $unmodified unmodified, $changed changed, $new new; the daemon sent $((r1 - r0)) bytes (new files: $new_bytes)"
((unmodified >= same)) || fail "restic saw $unmodified files unmodified, $same are the same files as before"
((r1 - r0 <= new_bytes)) || fail "restic read $((r1 - r0)) bytes through the mount; only $new_bytes are new"

expect_ok borg create --list --filter=AME "::two" "$MNT/snapshots/latest/"*
listed=$(printf '%s\n' "$LAST_OUT" "$LAST_ERR" | grep -E '^[AME] ' || true)
while read -r f _; do
	if grep -q " .*/$f\$" <<<"$listed"; then
		fail "borg's second backup took $f as new or modified: $listed"
	fi
done < <(join "$T/prev.files" "$T/new.files" | awk '$2 == $3 && $1 ~ /\.sst$/')
echo "borg's second backup listed $(printf '%s' "$listed" | grep -c . || true) added or modified files"

snapfs_stop
pass
