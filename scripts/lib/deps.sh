#!/usr/bin/env bash
# scripts/lib/deps.sh — the Debian packages snapfs needs, and installing the
# missing ones.
#
# Sourced by scripts/run, scripts/test and scripts/bench/*; also runnable:
#
#     scripts/lib/deps.sh list    build test     # the packages of those groups
#     scripts/lib/deps.sh missing build test     # those not installed (exit 1 if any)
#     scripts/lib/deps.sh ensure  build test     # install what is missing
#
# Groups: build (compile and link), run (serve the FUSE view), test (ctest:
# unit and integration tests), bench (benchmarks), chroot (the Debian
# chroot of scripts/test --debian N), fuzz (scripts/fuzz). Packages that
# are Essential on Debian (tar, coreutils) are listed anyway: they document
# what the tests call, and checking them costs nothing.
#
# The fast path is one `dpkg-query` per package and no network. Only when
# something is missing: `apt-get update` once, then one `apt-get install`.
# Not root and something missing: say what to install, exit 1.
# SNAPFS_DEPS_DRY_RUN=1 prints the apt-get commands instead of running them.

DEPS_BUILD=(build-essential cmake pkg-config libfuse3-dev librocksdb-dev
	libssl-dev libjson-c-dev uuid-dev libcmocka-dev libsystemd-dev)
# fusermount3 (unmount) and the fuse3 runtime; rsync for the backup that
# scripts/run suggests trying next.
DEPS_RUN=(fuse3 rsync)
# rsync/tar/sha256sum back up from the mount; sst_dump/ldb read checkpoints;
# jq parses every --json as one document; socat listens as systemd would
# for the daemon's readiness (sd_notify); setfattr (attr) tries xattr
# writes on the mount; fincore (util-linux-extra) sees what the page cache
# holds; test_install renders the man page (man-db) and checks the unit
# (systemd-analyze, in systemd); restic and borg back up the mount
# incrementally (test_mount_incremental).
DEPS_TEST=(fuse3 rsync tar coreutils rocksdb-tools jq socat attr util-linux-extra man-db systemd
	restic borgbackup)
DEPS_BENCH=(bindfs)
# scripts/test --debian N: make the other release's chroot.
DEPS_CHROOT=(debootstrap)
# scripts/fuzz: clang and its libFuzzer/sanitizer runtimes (Debian's default
# version: clang-14 and libclang-rt-14-dev on Debian 12).
DEPS_FUZZ=(clang libclang-rt-dev)

# deps_select GROUP... — set DEPS_SELECTED to the packages of GROUPs, in
# order, without repeats. Returns 1 (and says so) on an unknown group.
deps_select() {
	local group pkg
	local -a pkgs=()
	local -A seen=()
	DEPS_SELECTED=()
	for group in "$@"; do
		case $group in
		build) pkgs+=("${DEPS_BUILD[@]}") ;;
		run) pkgs+=("${DEPS_RUN[@]}") ;;
		test) pkgs+=("${DEPS_TEST[@]}") ;;
		bench) pkgs+=("${DEPS_BENCH[@]}") ;;
		chroot) pkgs+=("${DEPS_CHROOT[@]}") ;;
		fuzz) pkgs+=("${DEPS_FUZZ[@]}") ;;
		*)
			echo "deps: unknown group '$group' (build, run, test, bench, chroot, fuzz)" >&2
			return 1
			;;
		esac
	done
	for pkg in "${pkgs[@]}"; do
		[[ -n ${seen[$pkg]:-} ]] && continue
		seen[$pkg]=1
		DEPS_SELECTED+=("$pkg")
	done
}

# deps_missing PKG... — print the PKGs that are not installed, one per line.
deps_missing() {
	local pkg status
	for pkg in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || status=
		[[ $status == "install ok installed" ]] || printf '%s\n' "$pkg"
	done
}

# deps_ensure GROUP... — install the missing packages of GROUPs.
# Returns 0 when everything is there (or got installed); exits 1 when
# packages are missing and this is not root.
deps_ensure() {
	local -a pkgs missing
	deps_select "$@" || exit 1
	pkgs=("${DEPS_SELECTED[@]}")
	if ! command -v dpkg-query >/dev/null 2>&1; then
		echo "deps: no dpkg-query (not Debian?): make sure these are installed: ${pkgs[*]}" >&2
		return 0
	fi
	mapfile -t missing < <(deps_missing "${pkgs[@]}")
	((${#missing[@]})) || return 0

	echo "deps: missing: ${missing[*]}" >&2
	local -a apt=(env DEBIAN_FRONTEND=noninteractive apt-get)
	if [[ ${SNAPFS_DEPS_DRY_RUN:-0} == 1 ]]; then
		echo "deps: would run: apt-get update" >&2
		echo "deps: would run: DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
		return 0
	fi
	if ((EUID != 0)); then
		echo "deps: not root; install them with:" >&2
		echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
		exit 1
	fi
	"${apt[@]}" update -q
	"${apt[@]}" install -y -q --no-install-recommends "${missing[@]}" </dev/null
	mapfile -t missing < <(deps_missing "${pkgs[@]}")
	if ((${#missing[@]})); then
		echo "deps: still missing after apt-get install: ${missing[*]}" >&2
		exit 1
	fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	cmd=${1:-}
	shift || true
	case $cmd in
	list)
		deps_select "$@"
		printf '%s\n' "${DEPS_SELECTED[@]}"
		;;
	missing)
		deps_select "$@"
		out=$(deps_missing "${DEPS_SELECTED[@]}")
		[[ -z $out ]] || {
			printf '%s\n' "$out"
			exit 1
		}
		;;
	ensure) deps_ensure "$@" ;;
	*)
		echo "usage: $0 list|missing|ensure GROUP... (build, run, test, bench, chroot)" >&2
		exit 1
		;;
	esac
fi
