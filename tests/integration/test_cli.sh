#!/usr/bin/env bash
# test_cli: the command line as the verb table says (issue 13 item 1, issue
# 11 items 3 and 9).
#
# What must hold: every verb of the table (read from the man page the
# binary generates, so a new verb is tested without editing this file)
# answers --help, -h and `snapfs help VERB` with the same text on stdout,
# exit 0: usage, options, exit codes, an example; README shows each verb's
# usage line verbatim; the version is printed by --version, `version`,
# status and the daemon's start line; global options come before the
# verb; errors name the verb and the option or the missing argument, exit
# 1; numbers are plain digits within their bounds, on the command line and
# in the daemon (a hand-made request frame with 0 tablets or 2^64 rows is
# refused); --data "" and a --data too long for the socket are refused.
. "$(dirname "$0")/lib.sh"
snapfs_setup

# ---- help of every verb of the table ----------------------------------------

mapfile -t verbs < <(sf --man | sed -n 's/^\.SS "\(.*\)"$/\1/p' | sed 's/\\-/-/g')
((${#verbs[@]} >= 25)) || fail "the man page lists ${#verbs[@]} verbs"
for v in "${verbs[@]}"; do
	read -ra w <<<"$v"
	expect_ok sf "${w[@]}" --help
	help=$LAST_OUT
	[[ -z $LAST_ERR ]] || fail "$v --help wrote to stderr: $LAST_ERR"
	[[ $help == "usage: snapfs $v"* ]] || fail "$v --help: no usage line: ${help%%$'\n'*}"
	for part in $'\nexit codes:\n  0  ok' $'\n  1  usage' $'\n  5  internal error' $'\nexample:\n  snapfs '; do
		expect_contains "$help" "$part" "$v --help"
	done
	expect_ok sf "${w[@]}" -h
	expect_eq "$LAST_OUT" "$help" "$v -h"
	expect_ok sf help "${w[@]}"
	expect_eq "$LAST_OUT" "$help" "snapfs help $v"
	# the usage line is README's
	usage=$(head -1 <<<"$help")
	grep -qxF "    ${usage#usage: }" "$SNAPFS_SRC/README.md" ||
		fail "README has no line '    ${usage#usage: }'"
done
expect_ok sf table create --help --tablets 0 # --help wins over a bad value
expect_ok sf help
expect_contains "$LAST_OUT" "snapfs table create KS.TABLE [--tablets N]"
expect_ok sf --help
expect_ok sf help table
expect_contains "$LAST_OUT" "snapfs table drop KS.TABLE"
expect_exit 1 sf help nosuch
expect_contains "$LAST_ERR" "help: command 'nosuch': unknown"
expect_exit 1 sf
expect_contains "$LAST_ERR" "usage: snapfs"

# ---- version ------------------------------------------------------------------

expect_ok sf --version
version=$LAST_OUT
[[ $version =~ ^snapfs\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "--version: $version"
expect_ok sf version
expect_eq "$LAST_OUT" "$version" "snapfs version"

# ---- usage errors name the verb and the option --------------------------------

expect_exit 1 sf restore --to -5m app --table app.users
expect_contains "$LAST_ERR" "restore: option '--table' unknown"
expect_exit 1 sf put demo.t k
expect_contains "$LAST_ERR" "put: argument VALUE missing"
expect_exit 1 sf table list extra
expect_contains "$LAST_ERR" "table list: argument 'extra' unexpected"
expect_exit 1 sf table
expect_contains "$LAST_ERR" "table: sub-command missing (create, list, drop"
expect_exit 1 sf table frob
expect_contains "$LAST_ERR" "table: sub-command 'frob' unknown"
expect_exit 1 sf frob
expect_contains "$LAST_ERR" "command 'frob': unknown"
expect_exit 1 sf get demo.t k --at -1m --snapshot 0123
expect_contains "$LAST_ERR" "get: options '--at' and '--snapshot' exclude each other"
expect_exit 1 sf load demo.t
expect_contains "$LAST_ERR" "load: option '--rows N' is required"
expect_exit 1 sf scan demo.t --limit
expect_contains "$LAST_ERR" "scan: option '--limit' needs a value N"
expect_exit 1 sf scan demo.t --json=1
expect_contains "$LAST_ERR" "scan: option '--json' takes no value"
expect_exit 1 sf put demo.t k -5
expect_contains "$LAST_ERR" "put: option '-5' unknown (an argument that starts with '-' goes after '--')"
expect_exit 1 sf --frob status
expect_contains "$LAST_ERR" "option '--frob' unknown before the verb"
expect_exit 1 sf verify --data "$DATA" /tmp
expect_contains "$LAST_ERR" "verify: option '--data' does not apply"

# numbers: plain digits within the documented bounds, nothing sent otherwise
for bad in 0 257 " 8" "8 " +8 -1 " -5" 0x10 8k "" 99999999999999999999; do
	expect_exit 1 sf table create demo.t --tablets "$bad"
	expect_contains "$LAST_ERR" "table create --tablets '$bad': "
done
for bad in " -5" 0 1000000001 18446744073709551616; do
	expect_exit 1 sf load demo.t --rows "$bad"
	expect_contains "$LAST_ERR" "load --rows '$bad': "
done
expect_exit 1 sf scan demo.t --limit " -1"
expect_contains "$LAST_ERR" "scan --limit ' -1': not a plain number"
expect_exit 1 sf scan demo.t --limit 0
expect_exit 1 sf load demo.t --rows 1 --value-size 16777217
expect_contains "$LAST_ERR" "load --value-size '16777217': out of range (0 to 16777216)"

# --data: empty refused; too long for DATA/snapfs.sock refused by every verb
expect_exit 1 sf status --data ""
expect_contains "$LAST_ERR" "status --data '': empty"
expect_exit 1 sf --data "" init
expect_contains "$LAST_ERR" "init: option '--data': empty"
long=/tmp/$(printf 'd%.0s' {1..100})
for verb in init serve status; do
	expect_exit 1 sf "$verb" --data "$long"
	expect_contains "$LAST_ERR" "path too long for its control socket"
done
[[ ! -e $long ]] || fail "init made the too-long data directory"

# ---- with a daemon: global options before the verb, version, bounds ----------

expect_ok sf --data "$DATA" init
snapfs_serve
expect_ok sf --data "$DATA" status
expect_contains "$LAST_OUT" "version"
expect_ok sf status --json
expect_eq "$(jq -r .version <<<"$LAST_OUT")" "$(sed 's/^snapfs \([^ ]*\).*/\1/' <<<"$version")" "status version"
grep -q "snapfs ${version#snapfs } starting on '$DATA'" "$T/serve.log" ||
	fail "the daemon's start line does not name the version"
expect_ok sf --data="$DATA" table create demo.t --tablets 2
expect_ok sf table create demo.u --tablets 256
expect_ok sf table list --json
expect_eq "$(jq -r '[.[] | "\(.name)/\(.tablets)"] | sort | join(" ")' <<<"$LAST_OUT")" "t/2 u/256" "tablets"

# the daemon bounds what it accepts, whatever the client: raw request frames
hex16() { printf '\\x%02x\\x%02x' $((($1 >> 8) & 255)) $(($1 & 255)); }
frame() { # NAME VALUE ... — a request frame (mount/ctl_proto.h) as printf escapes
	local body len=4 name val
	body="\\x01Q$(hex16 $(($# / 2)))"
	while (($#)); do
		name=$1 val=$2
		shift 2
		body+="$(printf '\\x%02x' ${#name})$name\\x00\\x00$(hex16 ${#val})$val"
		len=$((len + 1 + ${#name} + 4 + ${#val}))
	done
	printf '\\x00\\x00%s%s' "$(hex16 $len)" "$body"
}
raw() { # NAME VALUE ... — send one request frame, print the reply's text
	{ printf "$(frame "$@")"; sleep 1; } | timeout 10 socat - "UNIX-CONNECT:$DATA/snapfs.sock" |
		tr -c '[:print:]' ' '
}
reply=$(raw verb table.create table demo.z tablets 0)
[[ $reply == *"argument 'tablets' '0': out of range (1 to 256)"* ]] || fail "daemon took 0 tablets: $reply"
reply=$(raw verb table.create table demo.z tablets " 8")
[[ $reply == *"argument 'tablets': not a plain number"* ]] || fail "daemon took ' 8' tablets: $reply"
reply=$(raw verb load table demo.t rows 18446744073709551615)
[[ $reply == *"argument 'rows' '18446744073709551615': out of range (1 to 1000000000)"* ]] ||
	fail "daemon took 2^64-1 rows: $reply"
reply=$(raw verb load table demo.t rows 10 value_size 16777217)
[[ $reply == *"argument 'value_size'"* ]] || fail "daemon took a 16 MiB + 1 value size: $reply"
expect_exit 2 sf scan demo.z
expect_ok sf scan demo.t
expect_eq "$LAST_OUT" "" "rows written by refused loads"
# a well-formed frame works the same way (the helper is right)
reply=$(raw verb table.create table demo.z tablets 3)
expect_ok sf table list --json
expect_eq "$(jq -r '.[] | select(.name == "z") | .tablets' <<<"$LAST_OUT")" 3 "table made by a raw frame"

snapfs_stop
pass
