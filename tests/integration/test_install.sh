#!/usr/bin/env bash
# test_install: `cmake --install` into a DESTDIR (issue 13 item 2).
#
# What must hold: exactly these files are installed under the prefix: the
# binary, the man page and the bash completion (both generated from the
# verb table), the systemd unit, the logrotate example; the installed
# binary runs; the man page names every verb and renders; the completion,
# sourced into bash, completes verbs, sub-verbs and a verb's options from
# the table; the unit runs `serve --foreground` as Type=notify with the
# installed binary; a build without tests needs no cmocka.
. "$(dirname "$0")/lib.sh"
snapfs_setup
require_cmd man-db man
require_cmd systemd systemd-analyze

BUILD=${SNAPFS_BUILD:-$(dirname "$SNAPFS")}
[[ -f $BUILD/CMakeCache.txt ]] || fail "no build directory at $BUILD"
root=$T/root
expect_ok env DESTDIR="$root" cmake --install "$BUILD" --prefix /usr
have=$(cd "$root" && find . -type f -o -type l | sort)
want=$(printf '%s\n' ./usr/bin/snapfs ./usr/lib/systemd/system/snapfs@.service \
	./usr/share/bash-completion/completions/snapfs ./usr/share/doc/snapfs/logrotate.example \
	./usr/share/man/man1/snapfs.1 | sort)
expect_eq "$have" "$want" "installed files"
[[ -x $root/usr/bin/snapfs ]] || fail "bin/snapfs is not executable"
expect_ok "$root/usr/bin/snapfs" --version
expect_eq "$LAST_OUT" "$(sf --version)" "installed --version"

# the man page: every verb of the table, and it renders
man1=$root/usr/share/man/man1/snapfs.1
cmp -s "$man1" <(sf --man) || fail "installed man page differs from 'snapfs --man'"
mapfile -t verbs < <(sf help | sed -n 's/^  snapfs \([a-z-]*\).*/\1/p' | sort -u)
sections=$(sed -n 's/^\.SS "\(.*\)"$/\1/p' "$man1" | sed 's/\\-/-/g')
for v in "${verbs[@]}"; do
	grep -q "^$v\( \|$\)" <<<"$sections" || fail "man page has no section for '$v'"
done
out=$(MANWIDTH=80 man -l "$man1" 2>&1) || fail "man -l: $out"
expect_contains "$out" "EXIT STATUS"
expect_contains "$out" "snapfs table create KS.TABLE [--tablets N]"

# the completion, as bash uses it
comp=$root/usr/share/bash-completion/completions/snapfs
complete_words() { # WORD... (the last is the one being completed)
	bash -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_snapfs; printf "%s\n" "${COMPREPLY[@]}" | sort | paste -sd " "
	' _ "$comp" snapfs "$@"
}
expect_eq "$(complete_words ta)" "table" "verb"
expect_eq "$(complete_words table "")" "create drop list" "sub-verbs"
expect_eq "$(complete_words table create --)" "--data --help --tablets" "options of table create"
expect_eq "$(complete_words --data /tmp scan x --)" "--at --data --help --hex --json --limit --prefix --snapshot" "options after a global --data"
expect_eq "$(complete_words restore-point "")" "list" "a group of one"
mkdir -p "$T/cdir/sub"
expect_eq "$(complete_words verify "$T/cdir/s")" "$T/cdir/sub" "verify DIR completes directories"

# the unit
unit=$root/usr/lib/systemd/system/snapfs@.service
for line in 'Type=notify' 'ExecStart=/usr/bin/snapfs serve --data %f --foreground $SNAPFS_SERVE_ARGS' \
	'ExecReload=/bin/kill -HUP $MAINPID' 'DeviceAllow=/dev/fuse rw' 'NoNewPrivileges=yes'; do
	grep -qxF "$line" "$unit" || fail "unit has no line '$line'"
done
for opt in ProtectSystem ProtectHome PrivateTmp PrivateDevices PrivateNetwork ReadWritePaths; do
	! grep -q "^$opt=" "$unit" || fail "unit sets $opt, which hides the FUSE mount in a namespace"
done
sed "s|/usr/bin/snapfs|$root/usr/bin/snapfs|" "$unit" >"$T/snapfs@x.service"
out=$(systemd-analyze verify --man=no "$T/snapfs@x.service" 2>&1) ||
	fail "systemd-analyze verify: $out"

# without tests, cmocka is not needed: configure with BUILD_TESTING=OFF
out=$(cmake -S "$SNAPFS_SRC" -B "$T/notest" -DBUILD_TESTING=OFF 2>&1) || fail "configure without tests: $out"
! grep -q cmocka "$T/notest/CMakeCache.txt" || fail "cmocka looked for without BUILD_TESTING"
pass
