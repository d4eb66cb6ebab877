#!/usr/bin/env bash
# scripts/lib/chroot.sh — run a command of this clone inside a Debian chroot
# (another Debian release than the machine's), made and kept by us.
#
# Sourced by scripts/test (--debian N) and scripts/bench/read (--debian N):
#
#     . scripts/lib/chroot.sh
#     chroot_run 13 scripts/test -R unit     # in a Debian 13 chroot, from the clone's root
#
# The chroot: `debootstrap --variant=minbase` of the release (12 bookworm,
# 13 trixie) from $SNAPFS_DEBIAN_MIRROR (http://deb.debian.org/debian),
# made once into $SNAPFS_CHROOT_DIR/debian<N> (default /var/cache/snapfs,
# outside the clone: it is kept between runs and between clones). It is
# made under a temporary name and renamed when complete, so a run killed
# while making it leaves nothing that looks ready. Every run brings it up
# to date with the project's own package list (scripts/lib/deps.sh ensure,
# run inside it: instant when nothing is missing).
#
# While the command runs: /dev (with /dev/pts and /dev/shm: /dev/fuse must
# work inside), /proc and /sys are bound in (recursive, as slaves: nothing
# mounted or unmounted inside reaches the machine), the clone is bound at
# /snapfs, and /etc/resolv.conf is copied in for apt. Everything mounted
# under the chroot is unmounted when the run ends, however it ends (the
# command fails, Ctrl-C, SIGTERM): an EXIT trap unmounts, deepest first,
# every mount below the chroot, FUSE mounts a test left behind included.
# One run at a time per chroot (flock on debian<N>.lock, waiting for the
# run before it).
#
# The command runs as root from /snapfs with a clean environment: PATH,
# HOME, LANG, TERM, CI, and the variables named in $CHROOT_PASS (space
# separated) when set.
# shellcheck shell=bash

CHROOT_BASE=${SNAPFS_CHROOT_DIR:-/var/cache/snapfs}
CHROOT_MIRROR=${SNAPFS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CHROOT_ROOT=
CHROOT_LOCK_FD=
CHROOT_CHILD=

chroot_say() {
	echo "chroot: $*" >&2
}

# chroot_codename N — the codename of Debian N (12, 13), or fail.
chroot_codename() {
	case $1 in
	12) echo bookworm ;;
	13) echo trixie ;;
	*)
		chroot_say "Debian '$1': not 12 or 13"
		return 1
		;;
	esac
}

# chroot_mounts_below DIR — the mount points at or below DIR, deepest first.
chroot_mounts_below() {
	local dir=$1 mp _
	# (/proc/mounts escapes a space as \040: keep the chroot's path plain)
	while read -r _ mp _; do
		[[ $mp == "$dir" || $mp == "$dir"/* ]] && printf '%s\n' "$mp"
	done </proc/mounts | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-
}

# chroot_unmount_all — unmount everything below the chroot (ours only: the
# chroot is ours, and the lock keeps other runs out).
chroot_unmount_all() {
	local mp left
	[[ -n $CHROOT_ROOT ]] || return 0
	for mp in $(chroot_mounts_below "$CHROOT_ROOT"); do
		umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null ||
			fusermount3 -u -z "$mp" 2>/dev/null || true
	done
	left=$(chroot_mounts_below "$CHROOT_ROOT")
	if [[ -n $left ]]; then
		chroot_say "still mounted below $CHROOT_ROOT: $left"
		return 1
	fi
}

# chroot_stop_child — end the command running inside (its own process
# group): SIGTERM, then SIGKILL after 10 s.
chroot_stop_child() {
	local i
	[[ -n $CHROOT_CHILD ]] || return 0
	kill -TERM -- "-$CHROOT_CHILD" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 -- "-$CHROOT_CHILD" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$CHROOT_CHILD" 2>/dev/null || true
	wait "$CHROOT_CHILD" 2>/dev/null || true
	CHROOT_CHILD=
}

chroot_cleanup() {
	local rc=$?
	set +e # the caller's set -e must not cut the cleanup short
	trap - EXIT INT TERM HUP
	chroot_stop_child
	chroot_unmount_all || rc=1
	exit "$rc"
}

# chroot_make N — the chroot of Debian N, made if missing; sets CHROOT_ROOT.
chroot_make() {
	local n=$1 code dir tmp
	code=$(chroot_codename "$n") || return 1
	dir=$CHROOT_BASE/debian$n
	mkdir -p "$CHROOT_BASE"
	exec {CHROOT_LOCK_FD}>"$dir.lock"
	if ! flock -n "$CHROOT_LOCK_FD"; then
		chroot_say "waiting for another run using $dir"
		flock "$CHROOT_LOCK_FD"
	fi
	CHROOT_ROOT=$dir
	# a killed run may have left mounts (its trap did not run)
	chroot_unmount_all || return 1
	if [[ -x $dir/usr/bin/apt-get && -f $dir/etc/debian_version ]]; then
		return 0
	fi
	command -v debootstrap >/dev/null || {
		chroot_say "no debootstrap (scripts/lib/deps.sh ensure chroot)"
		return 1
	}
	tmp=$dir.new
	rm -rf --one-file-system "$tmp"
	chroot_say "making Debian $n ($code) in $dir with debootstrap (a minute or two)"
	if ! debootstrap --variant=minbase "$code" "$tmp" "$CHROOT_MIRROR" >"$CHROOT_BASE/debian$n.debootstrap.log" 2>&1; then
		chroot_say "debootstrap failed; its log: $CHROOT_BASE/debian$n.debootstrap.log"
		tail -n 5 "$CHROOT_BASE/debian$n.debootstrap.log" >&2
		CHROOT_ROOT=$tmp
		chroot_unmount_all
		CHROOT_ROOT=$dir
		rm -rf --one-file-system "$tmp"
		return 1
	fi
	rm -rf --one-file-system "$dir"
	mv "$tmp" "$dir"
}

# chroot_enter SRC — bind the machine's /dev, /proc, /sys and SRC (at
# /snapfs) into CHROOT_ROOT. The EXIT trap undoes it.
chroot_enter() {
	local src=$1 r=$CHROOT_ROOT
	trap chroot_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	mkdir -p "$r/snapfs"
	mount --rbind /dev "$r/dev" && mount --make-rslave "$r/dev" &&
		mount --rbind /proc "$r/proc" && mount --make-rslave "$r/proc" &&
		mount --rbind /sys "$r/sys" && mount --make-rslave "$r/sys" &&
		mount --bind "$src" "$r/snapfs" || {
		chroot_say "cannot bind /dev, /proc, /sys and $src into $r"
		return 1
	}
	[[ -c $r/dev/fuse ]] || chroot_say "warning: no /dev/fuse in the chroot: the tests that mount will fail"
	rm -f "$r/etc/resolv.conf"
	cp -L /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
}

# chroot_exec CMD... — run CMD inside, from /snapfs, with a clean
# environment, in a process group of its own (so that a signal to this
# script, not only Ctrl-C, ends it: the traps stop the whole group).
chroot_exec() {
	local -a env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}")
	local v rc=0
	for v in CI $CHROOT_PASS; do
		[[ -n ${!v+set} ]] && env+=("$v=${!v}")
	done
	set -m
	chroot "$CHROOT_ROOT" /usr/bin/env -i "${env[@]}" /bin/bash -c 'cd /snapfs && exec "$@"' chroot "$@" </dev/null &
	CHROOT_CHILD=$!
	set +m
	wait "$CHROOT_CHILD" || rc=$?
	CHROOT_CHILD=
	return "$rc"
}

# chroot_run N CMD... — make (or reuse) the chroot of Debian N, bring its
# packages up to date for GROUPS ($CHROOT_DEPS: "build test"), run CMD
# inside, unmount everything. Returns CMD's status; never returns on a
# chroot that cannot be set up (exits 1).
chroot_run() {
	local n=$1 src rc=0
	shift
	src=$(pwd)
	if ((EUID != 0)); then
		chroot_say "making and entering a chroot needs root"
		exit 1
	fi
	chroot_make "$n" || exit 1
	chroot_enter "$src" || exit 1
	# shellcheck disable=SC2086 # the groups, split on purpose
	chroot_exec scripts/lib/deps.sh ensure ${CHROOT_DEPS:-build test} || {
		chroot_say "cannot install the packages inside $CHROOT_ROOT"
		exit 1
	}
	chroot_say "running in Debian $(cat "$CHROOT_ROOT/etc/debian_version") ($CHROOT_ROOT): $*"
	chroot_exec "$@" || rc=$?
	chroot_unmount_all || rc=1
	trap - EXIT INT TERM HUP
	return "$rc"
}
