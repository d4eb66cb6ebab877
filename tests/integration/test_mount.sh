#!/usr/bin/env bash
# The mounted tree and the daemon's life around it: the shape SPEC.md
# fixes (snapshots/<id>, latest, tables/<ks>/<table>/<id> links), file
# attributes equal to the underlying files', inode numbers equal in readdir
# and stat and unchanged after a remount, find/du/ls -lR, every write
# operation failing with EROFS; `stop` and SIGTERM unmount, a stale mount
# left by SIGKILL is cleared at the next start with a message, and a bad
# mount point (missing, not a directory, not empty) is refused with exit 1.
# Backups through the mount: test_mount_backup.sh; a tree that changes
# while mounted: test_mount_live.sh.
. "$(dirname "$0")/lib.sh"
TEST_TIMEOUT=${TEST_TIMEOUT:-120}
snapfs_setup
require_cmd attr setfattr

# native DIR of a snapshot's tablet: DATA/tablets/table-*/tablet-<tid>.snapshots/<snap>
native_dir() { # SNAP_ID TABLET_DIR_NAME(tablet-<tid>)
	local d
	for d in "$DATA"/tablets/table-*/"$2.snapshots/$1"; do
		[[ -d $d ]] && printf '%s\n' "$d"
	done
}

expect_ok sf init
snapfs_serve --mount "$MNT"
expect_ok sf table create demo.items --tablets 4
expect_ok sf table create demo.small --tablets 2
expect_ok sf load demo.items --rows 3000 --value-size 4000
expect_ok sf load demo.small --rows 200 --value-size 100
expect_ok sf snapshot create demo
A=$LAST_OUT
for i in 1 2 3 4 5 6 7 8; do sf put demo.items "more$i" "v$i" >/dev/null; done
expect_ok sf snapshot create demo items
B=$LAST_OUT

# ---- the shape ----
expect_eq "$(ls "$MNT")" $'restore-points\nsnapshots\ntables' "top level"
expect_eq "$(ls "$MNT/snapshots" | sort)" "$(printf '%s\n' "$A" "$B" latest | sort)" "snapshots/"
expect_eq "$(readlink "$MNT/snapshots/latest")" "$B" "latest"
[[ -L $MNT/snapshots/latest && -d $MNT/snapshots/latest/ ]] || fail "latest is not a link to a directory"
expect_eq "$(ls "$MNT/tables")" "demo" "tables/"
expect_eq "$(ls "$MNT/tables/demo")" $'items\nsmall' "tables/demo"
expect_eq "$(ls "$MNT/tables/demo/items" | sort)" "$(printf '%s\n' "$A" "$B" | sort)" "tables/demo/items"
expect_eq "$(ls "$MNT/tables/demo/small")" "$A" "tables/demo/small (B holds items only)"
expect_eq "$(readlink "$MNT/tables/demo/items/$A")" "../../../snapshots/$A" "tables link"
cmp -s "$MNT/tables/demo/items/$B/SNAPSHOT.json" "$DATA/snapshots/$B/SNAPSHOT.json" ||
	fail "tables/demo/items/$B does not lead to the snapshot"
for s in "$A" "$B"; do
	cmp -s "$MNT/snapshots/$s/SNAPSHOT.json" "$DATA/snapshots/$s/SNAPSHOT.json" || fail "SNAPSHOT.json of $s"
	cmp -s "$MNT/snapshots/$s/SHA256SUMS" "$DATA/snapshots/$s/SHA256SUMS" || fail "SHA256SUMS of $s"
done
expect_eq "$(ls "$MNT/snapshots/$A")" $'SHA256SUMS\nSNAPSHOT.json\ndemo' "snapshot dir"
expect_eq "$(ls "$MNT/snapshots/$A/demo")" $'items\nsmall' "snapshot A tables"
expect_eq "$(ls "$MNT/snapshots/$B/demo")" "items" "snapshot B tables"
expect_eq "$(ls "$MNT/snapshots/$A/demo/items" | grep -c '^tablet-[0-9a-f]\{32\}$')" 4 "tablets of items"
expect_eq "$(ls "$MNT/snapshots/$A/demo/small" | grep -c '^tablet-[0-9a-f]\{32\}$')" 2 "tablets of small"

# ---- every file is its underlying file: bytes, size, mtime, mode, inode ----
nfiles=0
for t in "$MNT/snapshots/$A"/demo/*/tablet-* "$MNT/snapshots/$B"/demo/*/tablet-*; do
	s=${t#"$MNT/snapshots/"}
	s=${s%%/*}
	n=$(native_dir "$s" "$(basename "$t")")
	[[ -n $n ]] || fail "no native checkpoint for $t"
	expect_eq "$(ls "$t")" "$(ls "$n")" "file names of $t"
	ls "$t" | grep -q '\.sst$' || fail "no SST in $t"
	for f in "$t"/*; do
		nf=$n/$(basename "$f")
		expect_eq "$(stat -c '%s %y %f %i' "$f")" "$(stat -c '%s %y %f %i' "$nf")" "attributes of $f"
		cmp -s "$f" "$nf" || fail "content of $f differs from $nf"
		# (RocksDB 9.10 checkpoints hold an empty WAL: 0 blocks is right there)
		(($(stat -c %s "$f") == 0 || $(stat -c %b "$f") > 0)) || fail "$f reports 0 blocks"
		nfiles=$((nfiles + 1))
	done
done
((nfiles >= 24)) || fail "only $nfiles files compared"
# an SST shared by A and B is one inode with one size and mtime in both
shared=0
for f in "$MNT/snapshots/$A"/demo/items/tablet-*/*.sst; do
	g=$MNT/snapshots/$B/${f#"$MNT/snapshots/$A/"}
	[[ -e $g ]] || continue
	expect_eq "$(stat -c '%i %s %y %h' "$g")" "$(stat -c '%i %s %y %h' "$f")" "shared SST $g"
	(($(stat -c %h "$f") >= 2)) || fail "shared SST $f reports nlink $(stat -c %h "$f")"
	shared=$((shared + 1))
done
expect_eq "$shared" "$(ls "$MNT/snapshots/$A"/demo/items/tablet-*/*.sst | wc -l)" "SSTs of A also in B"
((shared >= 4)) || fail "only $shared SSTs shared by A and B"

# directories: nlink 2 + subdirectories, times of the snapshot, never the mount's
expect_eq "$(stat -c %h "$MNT/snapshots/$A/demo")" 4 "nlink of a dir with 2 subdirs"
expect_eq "$(stat -c %h "$MNT/snapshots/$A/demo/items")" 6 "nlink of a dir with 4 subdirs"
expect_eq "$(stat -c %h "$MNT/snapshots")" 4 "nlink of snapshots/"
wall=$(sed -n 's/.*"wall_time": *"\([^"]*\)".*/\1/p' "$DATA/snapshots/$A/SNAPSHOT.json")
expect_eq "$(stat -c %Y "$MNT/snapshots/$A/demo/items")" "$(date -d "$wall" +%s)" "mtime of a snapshot dir"
expect_eq "$(stat -c %Y "$MNT/restore-points")" 0 "mtime of an empty synthetic dir"

# inode numbers: readdir (ls -i reads d_ino) agrees with stat, everywhere
check_readdir_ino() { # DIR
	local ino name
	while read -r ino name; do
		expect_eq "$(stat -c %i "$1/$name")" "$ino" "inode of $1/$name in readdir and stat"
	done < <(ls -1ai "$1" | grep -v ' \.\.$')
}
for d in "$MNT" "$MNT/snapshots" "$MNT/tables/demo/items" "$MNT/snapshots/$A" \
	"$MNT/snapshots/$A/demo/items" "$MNT"/snapshots/"$B"/demo/items/tablet-*; do
	check_readdir_ino "$d"
done
# all distinct, except the same file seen through two snapshots
dups=$(find "$MNT/snapshots/$A" "$MNT/snapshots/$B" "$MNT/tables" -printf '%i %s %T@ %y\n' |
	sort | uniq -c | awk '$1 > 1 && $5 != "f"')
expect_eq "$dups" "" "non-file inodes seen twice"
expect_eq "$(find "$MNT/snapshots/$A" "$MNT/snapshots/$B" -type f -printf '%i\n' | sort -u | wc -l)" \
	"$(find "$MNT/snapshots/$A" "$MNT/snapshots/$B" -type f -printf '%i %s %T@\n' | sort -u | wc -l)" \
	"one inode number, one size and mtime"

# ---- find, du, ls -lR ----
# what du -b counts for a directory (4096 on Debian 12; Debian 13's
# coreutils counts none): the mount's directories report 4096 bytes
mkdir "$T/emptydir"
dirsize=$(($(du -sb "$T/emptydir" | cut -f1) ? 4096 : 0))
for s in "$A" "$B"; do
	want=$( (cut -c67- "$DATA/snapshots/$s/SHA256SUMS" && echo SHA256SUMS) | sort)
	got=$(cd "$MNT/snapshots/$s" && find . -type f | sed 's|^\./||' | sort)
	expect_eq "$got" "$want" "find -type f in $s against SHA256SUMS"
	bytes=$(find "$MNT/snapshots/$s" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
	expect_eq "$(du -sb "$MNT/snapshots/$s" | cut -f1)" \
		"$((bytes + dirsize * $(find "$MNT/snapshots/$s" -type d | wc -l)))" "du -sb of $s"
	(($(du -sk "$MNT/snapshots/$s" | cut -f1) * 1024 >= bytes)) || fail "du -sk of $s is below its bytes"
done
expect_eq "$(find "$MNT" -type l | sort)" "$(printf '%s\n' "$MNT/snapshots/latest" \
	"$MNT/tables/demo/items/$A" "$MNT/tables/demo/items/$B" "$MNT/tables/demo/small/$A" | sort)" "find -type l"
# a shared SST counts once, as it does natively (+ snapshots/ and latest)
expect_eq "$(du -sb "$MNT/snapshots" | cut -f1)" \
	"$(du -sb "$MNT/snapshots/$A" "$MNT/snapshots/$B" | awk -v d="$dirsize" '{ s += $1 } END { print s + d + 32 }')" "du -sb of snapshots/"
find -L "$MNT/tables" -type f >"$T/find-L" 2>"$T/find-L.err" || fail "find -L tables/: $(head -3 "$T/find-L.err")"
expect_eq "$(wc -l <"$T/find-L")" "$(find "$MNT/snapshots/$A" "$MNT/snapshots/$B" "$MNT/snapshots/$A" -type f | wc -l)" \
	"files under tables/ followed"
ls -lR "$MNT" >"$T/lslR" 2>"$T/lslR.err" || fail "ls -lR: $(head -3 "$T/lslR.err")"
[[ ! -s $T/lslR.err ]] || fail "ls -lR wrote errors: $(head -3 "$T/lslR.err")"
for f in $(cut -c67- "$DATA/snapshots/$B/SHA256SUMS"); do
	grep -q " $(basename "$f")\$" "$T/lslR" || fail "ls -lR does not show $f"
done
expect_contains "$(ls -l "$MNT/snapshots")" "latest -> $B"
ls -lRL "$MNT/tables" >/dev/null 2>"$T/lslRL.err" || fail "ls -lRL tables/: $(head -3 "$T/lslRL.err")"
expect_ok stat -f "$MNT"
expect_contains "$(stat -f -c %T "$MNT")" "fuse"

# ---- every write fails with EROFS and changes nothing ----
S=$MNT/snapshots/$A
sst=$(ls "$S"/demo/items/tablet-*/*.sst | head -1)
before=$(find "$MNT" -printf '%i %s %T@ %m %n %p\n' | sort)
sum_before=$(sha256sum "$sst")
erofs() { # WHAT CMD...: CMD must fail with "Read-only file system"
	local what=$1 rc=0
	shift
	"$@" >"$T/erofs.out" 2>"$T/erofs.err" </dev/null || rc=$?
	((rc != 0)) || fail "$what succeeded on the read-only mount"
	grep -q 'Read-only file system' "$T/erofs.err" ||
		fail "$what: expected EROFS, got: $(head -2 "$T/erofs.err")"
	nerofs=$((nerofs + 1))
}
nerofs=0
erofs "create" touch "$S/new-file"
erofs "write" bash -c 'echo x >>"$1"' _ "$sst"
erofs "open O_TRUNC" bash -c ': >"$1"' _ "$sst"
erofs "truncate" truncate -s 0 "$sst"
erofs "unlink" rm -f "$sst"
erofs "rmdir" rmdir "$S/demo/small"
erofs "rename" mv "$sst" "$sst.moved"
erofs "mkdir" mkdir "$S/newdir"
erofs "mknod" mkfifo "$S/fifo"
erofs "symlink" ln -s x "$S/link"
erofs "link" ln "$sst" "$S/hardlink"
erofs "chmod" chmod 600 "$sst"
erofs "chown" chown 1:1 "$sst"
erofs "utimens" touch -d @0 "$sst"
erofs "setxattr" setfattr -n user.x -v 1 "$sst"
erofs "removexattr" setfattr -x user.x "$sst"
erofs "fallocate" fallocate -l 1M "$sst"
erofs "create in snapshots/" touch "$MNT/snapshots/new"
erofs "rename a snapshot" mv "$S" "$MNT/snapshots/renamed"
erofs "unlink latest" rm -f "$MNT/snapshots/latest"
erofs "rmdir a snapshot" rm -rf "$S"
echo "$nerofs write operations refused with EROFS"
expect_eq "$(find "$MNT" -printf '%i %s %T@ %m %n %p\n' | sort)" "$before" "the tree after the writes"
expect_eq "$(sha256sum "$sst")" "$sum_before" "the SST after the writes"
(cd "$S" && sha256sum -c --quiet SHA256SUMS) || fail "snapshot A after the writes"

# ---- mount point errors: exit 1 with a clear message, nothing mounted ----
snapfs_stop
inodes_before=$(printf '%s\n' "$before" | awk '{ print $1, $6 }')
serve_fg() { timeout 60 "$SNAPFS" serve --foreground "$@"; }
expect_exit 1 serve_fg --mount "$T/nosuch"
expect_contains "$LAST_ERR" "snapfs: error: mount point '$T/nosuch': no such directory"
: >"$T/afile"
expect_exit 1 serve_fg --mount "$T/afile"
expect_contains "$LAST_ERR" "snapfs: error: mount point '$T/afile': not a directory"
mkdir "$T/full" && : >"$T/full/x"
expect_exit 1 serve_fg --mount "$T/full"
expect_contains "$LAST_ERR" "snapfs: error: mount point '$T/full': not empty"
# the same through the detaching serve: its parent reports the child's error
expect_exit 1 sf serve --mount "$T/nosuch"
expect_contains "$LAST_ERR" "mount point '$T/nosuch': no such directory"
expect_exit 1 sf serve --mount "$T/full"
expect_contains "$LAST_ERR" "not empty"
[[ -z $(_snapfs_mounts_under "$T") ]] || fail "something is mounted after a refused start"
expect_exit 4 sf status
[[ -e $T/full/x && -f $T/afile && ! -e $T/nosuch ]] || fail "a refused mount point was changed"

# ---- inode numbers unchanged after a remount (a fresh daemon) ----
snapfs_serve --mount "$MNT"
expect_eq "$(find "$MNT" -printf '%i %p\n' | sort)" "$(printf '%s\n' "$inodes_before" | sort)" "inode numbers after a remount"
expect_eq "$(find "$MNT" -printf '%i %s %T@ %m %p\n' | sort)" \
	"$(printf '%s\n' "$before" | awk '{ print $1, $2, $3, $4, $6 }' | sort)" "attributes after a remount"

# ---- SIGTERM unmounts and exits 0 ----
kill -TERM "$SNAPFS_PID"
rc=0
wait_until 30 bash -c '! kill -0 "$1" 2>/dev/null' _ "$SNAPFS_PID" || fail "daemon still running 30 s after SIGTERM"
wait "$SNAPFS_PID" || rc=$?
_snapfs_forget_daemon
expect_eq "$rc" 0 "exit status after SIGTERM"
is_mounted "$MNT" && fail "$MNT still mounted after SIGTERM"
expect_eq "$(ls -A "$MNT")" "" "the mount point after SIGTERM"

# ---- SIGKILL leaves a dead mount; the next start clears it, with a word ----
snapfs_serve --mount "$MNT"
ls "$MNT/snapshots/$A" >/dev/null
{ kill -KILL "$SNAPFS_PID" && wait "$SNAPFS_PID"; } 2>/dev/null || true
_snapfs_forget_daemon
is_mounted "$MNT" || fail "no stale mount after SIGKILL (the test needs one)"
if ls "$MNT" >/dev/null 2>"$T/stale.err"; then
	fail "a killed daemon's mount still answers"
fi
expect_contains "$(cat "$T/stale.err")" "Transport endpoint is not connected" "the stale mount"
lines=$(wc -l <"$T/serve.log")
snapfs_serve --mount "$MNT"
# the dead mount is in /proc/mounts already: wait for the daemon's word
# that it has mounted its own
wait_until 30 bash -c 'tail -n +"$1" "$2" | grep -q "ready: socket"' _ "$((lines + 1))" "$T/serve.log" ||
	fail "serve did not report ready after a stale mount"
expect_contains "$(tail -n +"$((lines + 1))" "$T/serve.log")" \
	"mount point '$MNT': clearing a stale mount left by a previous daemon"
expect_eq "$(grep -c " $MNT fuse" /proc/mounts)" 1 "mounts at $MNT after clearing the stale one"
expect_eq "$(find "$MNT" -printf '%i %p\n' | sort)" "$(printf '%s\n' "$inodes_before" | sort)" \
	"inode numbers after a stale mount was cleared"
(cd "$MNT/snapshots/latest" && sha256sum -c --quiet SHA256SUMS) || fail "checksums after clearing a stale mount"

# ---- stop unmounts, even with a file held open and a reader inside ----
exec 6<"$MNT/snapshots/$A/SNAPSHOT.json"
(cd "$MNT/snapshots/latest" && sleep 30) &
sleeper=$!
sleep 0.2
snapfs_stop
expect_eq "$(ls -A "$MNT")" "" "the mount point after stop"
rc=0
timeout 10 cat <&6 >/dev/null 2>&1 || rc=$?
((rc != 124)) || fail "reading a file held open across stop hangs"
exec 6<&-
kill "$sleeper" 2>/dev/null || true
wait "$sleeper" 2>/dev/null || true
# and the next start mounts again in the same place
snapfs_serve --mount "$MNT"
expect_eq "$(readlink "$MNT/snapshots/latest")" "$B" "latest after a restart"
snapfs_stop
pass
