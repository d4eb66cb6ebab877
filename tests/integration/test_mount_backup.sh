#!/usr/bin/env bash
# Backups straight from the mount with the tools operators trust:
# `sha256sum -c` inside the mount and inside every copy; rsync -a out and
# diff -r; a tar round trip (tar -d against the mount, --sparse too);
# `rsync -aH` over two snapshots and tar over both keep their common SSTs
# one file; `rsync --link-dest=PREVIOUS` copies only the new SSTs (counted
# from --stats and -i); a second rsync copies nothing; stock RocksDB tools
# (sst_dump --command=verify, ldb checkconsistency) accept the copied
# tablet directories.
. "$(dirname "$0")/lib.sh"
TEST_TIMEOUT=${TEST_TIMEOUT:-120}
snapfs_setup
require_cmd rocksdb-tools sst_dump ldb

expect_ok sf init
snapfs_serve --mount "$MNT"
expect_ok sf table create demo.items --tablets 4
expect_ok sf table create demo.small --tablets 2
expect_ok sf load demo.items --rows 6000 --value-size 4000
expect_ok sf load demo.small --rows 300 --value-size 100
expect_ok sf snapshot create demo
A=$LAST_OUT
for i in $(seq 1 40); do sf put demo.items "after-a-$i" "value $i" >/dev/null; done
expect_ok sf snapshot create demo
B=$LAST_OUT
SA=$MNT/snapshots/$A
SB=$MNT/snapshots/$B

# sha256sum -c inside the mount, from the snapshot directory itself
for s in "$SA" "$SB" "$MNT/snapshots/latest" "$MNT/tables/demo/items/$A"; do
	(cd "$s" && sha256sum -c --quiet --strict SHA256SUMS) || fail "sha256sum -c in $s"
done

# ---- rsync -a out, checksums in the copy, diff -r ----
mkdir "$T/backup"
expect_ok rsync -a "$SA/" "$T/backup/$A/"
[[ -z $LAST_ERR ]] || fail "rsync -a wrote: $LAST_ERR"
(cd "$T/backup/$A" && sha256sum -c --quiet --strict SHA256SUMS) || fail "sha256sum -c in the rsync copy"
expect_ok diff -r "$SA" "$T/backup/$A"
expect_ok sf verify "$T/backup/$A"
# sizes, mtimes and modes came along
expect_eq "$(cd "$T/backup/$A" && find . -type f -printf '%p %s %T@ %m\n' | sort)" \
	"$(cd "$SA" && find . -type f -printf '%p %s %T@ %m\n' | sort)" "attributes in the rsync copy"
# a second run finds nothing to do
expect_ok rsync -a --stats "$SA/" "$T/backup/$A/"
expect_contains "$LAST_OUT" "Number of regular files transferred: 0"
# through a tables/ link and through latest
expect_ok rsync -a "$MNT/tables/demo/small/$A/" "$T/via-tables/"
expect_ok diff -r "$SA" "$T/via-tables"
expect_ok rsync -a "$MNT/snapshots/latest/" "$T/via-latest/"
expect_ok diff -r "$SB" "$T/via-latest"

# ---- rsync --link-dest=PREVIOUS copies only the new SSTs ----
# expected: B's SSTs that are not the same file (inode) at the same path in A
(cd "$SB" && find . -name '*.sst' -printf '%P %i %s\n' | sort) >"$T/b.ssts"
(cd "$SA" && find . -name '*.sst' -printf '%P %i %s\n' | sort) >"$T/a.ssts"
new_ssts=$(comm -23 "$T/b.ssts" "$T/a.ssts" | cut -d' ' -f1)
new_bytes=$(comm -23 "$T/b.ssts" "$T/a.ssts" | awk '{ s += $3 } END { print s + 0 }')
common=$(comm -12 "$T/b.ssts" "$T/a.ssts" | wc -l)
[[ -n $new_ssts ]] || fail "B has no new SST (the test needs some)"
((common >= 4)) || fail "A and B share only $common SSTs (the test needs some)"
meta_bytes=$(cd "$SB" && find . -type f ! -name '*.sst' -printf '%s\n' | awk '{ s += $1 } END { print s }')
expect_ok rsync -a -i --stats --link-dest="$T/backup/$A" "$SB/" "$T/backup/$B/"
printf '%s\n' "$LAST_OUT" >"$T/linkdest.out"
got_ssts=$(grep '^>f' "$T/linkdest.out" | awk '{ print $2 }' | grep '\.sst$' | sort)
expect_eq "$got_ssts" "$(printf '%s\n' "$new_ssts" | sort)" "SSTs rsync --link-dest transferred"
nfiles=$(sed -n 's/^Number of regular files transferred: \([0-9,]*\)$/\1/p' "$T/linkdest.out" | tr -d ,)
expect_eq "$nfiles" "$(grep -c '^>f' "$T/linkdest.out")" "files transferred in --stats and -i"
tbytes=$(sed -n 's/^Total transferred file size: \([0-9,]*\) bytes$/\1/p' "$T/linkdest.out" | tr -d ,)
((tbytes <= new_bytes + meta_bytes)) ||
	fail "--link-dest transferred $tbytes bytes; new SSTs and metadata hold $((new_bytes + meta_bytes))"
echo "--link-dest: $nfiles files ($tbytes bytes) transferred, $common SSTs linked"
while read -r p _; do
	expect_eq "$(stat -c %i "$T/backup/$B/$p")" "$(stat -c %i "$T/backup/$A/$p")" "--link-dest linked $p"
done < <(comm -12 "$T/b.ssts" "$T/a.ssts")
(cd "$T/backup/$B" && sha256sum -c --quiet --strict SHA256SUMS) || fail "sha256sum -c in the --link-dest copy"
expect_ok diff -r "$SB" "$T/backup/$B"

# ---- rsync -aH over two snapshots keeps their common SSTs one file ----
# same inode in the mount <=> same inode in the copy
same_files() { # SRC_DIR COPY_DIR: every file copied; same inode in SRC <=> same inode in COPY
	local src=$1 dst=$2 joined pairs
	joined=$(cd "$src" && find . -type f -printf '%i %P\n' | sort -k2 |
		join -1 2 -2 2 - <(cd "$dst" && find . -type f -printf '%i %P\n' | sort -k2))
	expect_eq "$(printf '%s\n' "$joined" | wc -l)" "$(cd "$src" && find . -type f | wc -l)" "files copied from $src"
	pairs=$(printf '%s\n' "$joined" | awk '{ print $2, $3 }' | sort -u)
	expect_eq "$(printf '%s\n' "$pairs" | cut -d' ' -f1 | sort -u | wc -l)" \
		"$(printf '%s\n' "$pairs" | wc -l)" "files of one inode in $src split in $dst"
	expect_eq "$(printf '%s\n' "$pairs" | cut -d' ' -f2 | sort -u | wc -l)" \
		"$(printf '%s\n' "$pairs" | wc -l)" "different files of $src joined in $dst"
	(($(printf '%s\n' "$pairs" | wc -l) < $(printf '%s\n' "$joined" | wc -l))) ||
		fail "no file of $src is seen twice (the test needs some)"
}
mkdir "$T/both"
expect_ok rsync -aH "$SA" "$SB" "$T/both/"
same_files "$MNT/snapshots" "$T/both"
for s in "$A" "$B"; do
	(cd "$T/both/$s" && sha256sum -c --quiet --strict SHA256SUMS) || fail "sha256sum -c in the rsync -aH copy of $s"
done
# (the copy's own directory: what du -b counts for an empty one, 4096 on
# Debian 12, 0 on Debian 13's coreutils)
mkdir "$T/empty"
expect_eq "$(du -sb "$T/both" | cut -f1)" \
	"$(du -sb "$SA" "$SB" "$T/empty" | awk '{ s += $1 } END { print s }')" \
	"du -sb of the rsync -aH copy"

# ---- tar round trip ----
tar -C "$MNT/snapshots" -cf "$T/b.tar" "$B" 2>"$T/tar.err" || fail "tar -c: $(head -3 "$T/tar.err")"
[[ ! -s $T/tar.err ]] || fail "tar -c wrote: $(head -3 "$T/tar.err")"
tar -C "$MNT/snapshots" -df "$T/b.tar" >"$T/tar.d" 2>&1 || fail "tar -d against the mount: $(head -3 "$T/tar.d")"
mkdir "$T/untar"
expect_ok tar -C "$T/untar" -xf "$T/b.tar"
expect_ok diff -r "$SB" "$T/untar/$B"
(cd "$T/untar/$B" && sha256sum -c --quiet --strict SHA256SUMS) || fail "sha256sum -c after the tar round trip"
# (the default tar format keeps whole seconds)
expect_eq "$(cd "$T/untar/$B" && find . -type f -printf '%p %s %Ts %m\n' | sort)" \
	"$(cd "$SB" && find . -type f -printf '%p %s %Ts %m\n' | sort)" "attributes after the tar round trip"
# --sparse trusts st_blocks: a file reporting none would come back as a hole
tar -C "$MNT/snapshots" --sparse -cf "$T/sparse.tar" "$A" 2>"$T/tar.err" || fail "tar --sparse: $(head -3 "$T/tar.err")"
mkdir "$T/unsparse"
expect_ok tar -C "$T/unsparse" -xf "$T/sparse.tar"
expect_ok diff -r "$SA" "$T/unsparse/$A"
# both snapshots in one archive: a common SST is stored once, as a hard link
tar -C "$MNT/snapshots" -cf "$T/both.tar" "$A" "$B" 2>"$T/tar.err" || fail "tar of two snapshots: $(head -3 "$T/tar.err")"
expect_eq "$(tar -tvf "$T/both.tar" | grep -c '\.sst link to ')" "$common" "SSTs stored as hard links in the tar of A and B"
(($(stat -c %s "$T/both.tar") < $(stat -c %s "$T/b.tar") + new_bytes + 8 * 1024 * 1024)) ||
	fail "the tar of A and B is not A plus B's new files"
mkdir "$T/untar2"
expect_ok tar -C "$T/untar2" -xf "$T/both.tar"
same_files "$MNT/snapshots" "$T/untar2"

# ---- stock RocksDB tools accept the copied tablet directories ----
n=0
for d in "$T/backup/$A"/demo/*/tablet-* "$T/backup/$B"/demo/*/tablet-* "$T/untar/$B"/demo/*/tablet-*; do
	expect_ok sst_dump --file="$d" --command=verify
	expect_eq "$(grep -c '^The file is ok$' "$T/last.out")" "$(ls "$d" | grep -c '\.sst$')" "sst_dump verify of $d"
	# ldb opens the DB (LOCK, LOG): on a scratch copy, the backups stay as made
	rm -rf "$T/ldb" && cp -a "$d" "$T/ldb"
	expect_ok ldb --db="$T/ldb" checkconsistency
	expect_eq "$LAST_OUT" "OK" "ldb checkconsistency of $d"
	n=$((n + 1))
done
# 4 + 2 tablets in each of the three copies
expect_eq "$n" 18 "tablet directories checked by sst_dump and ldb"
echo "sst_dump and ldb accept $n copied tablet directories"
(cd "$T/backup/$A" && sha256sum -c --quiet --strict SHA256SUMS) || fail "the backup after the tools ran"

snapfs_stop
pass
