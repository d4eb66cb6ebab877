#!/usr/bin/env bash
# test_read_path: the two ways file content reaches a reader of the mount
# (README, "Reading through the mount"), each tested on the platform at
# hand: kernel passthrough (SNAPFS_READ_PATH=passthrough, libfuse >= 3.17
# and a kernel that has it: the daemon reads none of the bytes), splice
# (auto: one copy, by the kernel) and copy (forced: pread, then the reply).
#   - status says which path serves reads, and why;
#   - SNAPFS_READ_PATH forces the copy path; passthrough on a build
#     without it, or a value that means nothing, refuses to start (exit 1);
#   - every byte is right on each path (sha256sum -c over the mount);
#   - a file open when its snapshot is deleted reads to its end on each
#     path, from disk, and its hold goes when it is closed;
#   - tar over a tree of more than 30,000 files leaves the daemon with the
#     file descriptors it had (none per file: /proc/PID/fd counted before,
#     during and after).
. "$(dirname "$0")/lib.sh"
TEST_TIMEOUT=${TEST_TIMEOUT:-540}
snapfs_setup
require_cmd jq jq
((EUID == 0)) || skip "reading from disk across a deletion drops the page cache: needs root"

fuse=$(pkg-config --modversion fuse3)
has_pt=0
[[ $(printf '%s\n' 3.17 "$fuse" | sort -V | head -1) == 3.17 ]] && has_pt=1
echo "libfuse $fuse: passthrough built in: $has_pt"

status_field() {
	expect_ok sf status --json
	jq -r --arg k "$1" '.[$k]' <<<"$LAST_OUT"
}
served() { status_field read_bytes; }
nfds() { find "/proc/$SNAPFS_PID/fd" -mindepth 1 | wc -l; }
holds() { find "$DATA/view-holds" -type f 2>/dev/null | wc -l; }
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches || fail "cannot drop caches"
}

sf init
# ---- refused options ----
SNAPFS_READ_PATH=bogus expect_serve_exit 1 --mount "$MNT"
expect_contains "$LAST_ERR" "SNAPFS_READ_PATH 'bogus'"
if ((!has_pt)); then
	SNAPFS_READ_PATH=passthrough expect_serve_exit 1 --mount "$MNT"
	expect_contains "$LAST_ERR" "read path 'passthrough'"
fi

# ---- the data: big SSTs, and a tree of many small files ----
snapfs_serve
expect_ok sf table create big.items --tablets 2
expect_ok sf load big.items --rows 12000 --value-size 4000 --seed 1
expect_ok sf snapshot create big
A=$LAST_OUT
expect_ok sf table create tree.items --tablets 64
expect_ok sf load tree.items --rows 6400 --value-size 200 --seed 1
t0=$SECONDS
for i in $(seq 2 120); do
	sf load tree.items --rows 16 --value-size 200 --seed "$i" >/dev/null || fail "load $i"
	sf snapshot create tree >/dev/null || fail "snapshot $i of tree"
	if ((i % 20 == 0)); then
		files=$(find "$DATA/tablets" -path '*.snapshots/*' -type f | wc -l)
		((files >= 30000)) && break
	fi
done
files=$(find "$DATA"/tablets/table-*/*.snapshots -type f | wc -l)
echo "the tree: $files files in $(ls "$DATA/snapshots" | wc -l) snapshots, made in $((SECONDS - t0)) s"
((files >= 30000)) || fail "the tree has $files files, the test needs 30,000"
snapfs_stop
big=$(cd "$DATA/snapshots/$A" && grep '\.sst$' SHA256SUMS | head -1 | cut -c67-)
size=$(stat -c %s "$DATA"/tablets/table-*/"$(basename "$(dirname "$big")").snapshots/$A/$(basename "$big")")
((size > 8 * 1024 * 1024)) || fail "the big SST has $size bytes, expected more than 8 MiB"

paths=(copy auto)
((has_pt)) && paths+=(passthrough)
for rp in "${paths[@]}"; do
	SNAPFS_READ_PATH=$rp snapfs_serve --mount "$MNT"
	path=$(status_field read_path)
	reason=$(status_field read_reason)
	echo "[$rp] read path: $path ($reason)"
	# auto: splice (the kernel opens files itself; unless pipes cannot
	# take a whole reply: then copy); passthrough on request, where built
	# in and the kernel has it
	want=$rp
	[[ $rp == auto ]] && want=splice
	if [[ $rp == passthrough && $path == splice && $reason == *"kernel offers no FUSE passthrough"* ]]; then
		echo "note: this kernel has no FUSE passthrough"
		want=splice
	fi
	if [[ $want == splice && $path == copy && $reason == *"pipes cannot take"* ]]; then
		echo "note: pipes here cannot take a whole reply; the copy path serves"
		want=copy
	fi
	expect_eq "$path" "$want" "[$rp] read path in status"

	# who reads the bytes: the kernel, or the daemon (a fresh mount: no
	# page cache of its own yet); status counts what the daemon sent
	r0=$(served)
	cat "$MNT/snapshots/$A/$big" >/dev/null || fail "[$rp] cat $big"
	r1=$(served)
	if [[ $path == passthrough ]]; then
		((r1 - r0 < size / 10)) || fail "[$rp] the daemon read $((r1 - r0)) bytes for a $size-byte file under passthrough"
	else
		((r1 - r0 >= size)) || fail "[$rp] the daemon read $((r1 - r0)) bytes for a $size-byte file on the copy path"
	fi

	# every byte right
	(cd "$MNT/snapshots/$A" && sha256sum -c --quiet --strict SHA256SUMS) || fail "[$rp] sha256sum -c over the mount"

	# reading on while the snapshot is deleted (and the table dropped:
	# the files' last links go)
	t=del$rp.items
	expect_ok sf table create "$t" --tablets 1
	expect_ok sf load "$t" --rows 6000 --value-size 4000 --seed 7
	expect_ok sf snapshot create "del$rp"
	D=$LAST_OUT
	f=$(ls "$MNT/snapshots/$D/del$rp/items"/tablet-*/*.sst | head -1)
	m=$(ls "$MNT/snapshots/$D/del$rp/items"/tablet-*/MANIFEST-* | head -1)
	fsum=$(grep "  ${f#"$MNT/snapshots/$D/"}\$" "$DATA/snapshots/$D/SHA256SUMS" | cut -c1-64)
	msum=$(grep "  ${m#"$MNT/snapshots/$D/"}\$" "$DATA/snapshots/$D/SHA256SUMS" | cut -c1-64)
	fsize=$(stat -c %s "$f")
	exec 7<"$f" 8<"$m"
	dd bs=1M count=1 iflag=fullblock <&7 >"$T/f.part" 2>/dev/null || fail "[$rp] reading the first MiB of $f"
	expect_ok sf table drop "$t"
	expect_ok sf snapshot delete "$D"
	[[ ! -e $f ]] || fail "[$rp] $f still there after its snapshot went"
	drop_caches # the file answers, not a cache
	cat <&7 >>"$T/f.part" || fail "[$rp] reading the rest of $f after its snapshot went"
	cat <&8 >"$T/m.copy" || fail "[$rp] reading $m after its snapshot went"
	exec 7<&- 8<&-
	expect_eq "$(stat -c %s "$T/f.part")" "$fsize" "[$rp] bytes of the SST read across the deletion"
	expect_eq "$(sha256sum <"$T/f.part" | cut -c1-64)" "$fsum" "[$rp] the SST read across the deletion"
	expect_eq "$(sha256sum <"$T/m.copy" | cut -c1-64)" "$msum" "[$rp] the MANIFEST read across the deletion"
	wait_until 10 eval '[[ $(holds) == 0 ]]' || fail "[$rp] $(holds) holds left after the readers closed"

	# no fd per file: tar of the whole tree, the daemon's fds counted
	drop_caches
	f0=$(nfds)
	(
		max=0
		while :; do
			n=$(nfds 2>/dev/null) || break
			((n > max)) && max=$n && echo "$max" >"$T/fds.max"
			[[ -e $T/fds.stop ]] && break
			sleep 0.02
		done
	) &
	sampler=$!
	echo "$f0" >"$T/fds.max"
	tar -C "$MNT/snapshots" -cf - . | cat >/dev/null
	[[ ${PIPESTATUS[0]} == 0 ]] || fail "[$rp] tar over the tree"
	touch "$T/fds.stop"
	wait "$sampler"
	rm -f "$T/fds.stop"
	f1=$(nfds)
	fmax=$(<"$T/fds.max")
	echo "[$rp] daemon fds: $f0 before tar, at most $fmax during, $f1 after ($files files)"
	((fmax - f0 <= 64 && f1 - f0 <= 64)) ||
		fail "[$rp] the daemon's fds grew with the tree: $f0 before, $fmax during, $f1 after"
	snapfs_stop
done
pass
