#!/usr/bin/env bash
# `make sys-test` (part of `make check`): what `make install` produces.
#  - a staged install (DESTDIR, PREFIX=/usr) puts each file where the
#    Makefile's variables say, with the right modes; the example configs'
#    plugin_dir is the installed one; an existing config is never touched
#    by a second install; `make uninstall` removes everything but configs;
#  - systemd-analyze verify accepts the installed unit (SKIP without it);
#  - each man page renders without a groff or man warning;
#  - the bash completion parses and completes verbs, and link and plugin
#    names from a daemon's JSON (a stand-in tuntunctl answers here; the
#    e2e test t-configcheck.sh does not start daemons).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
T=$(mktemp -d /tmp/ttt-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "  ok   $*"; }
bad() { fail=$((fail + 1)); echo "  FAIL $*"; }
check() { local w=$1; shift; if "$@"; then ok "$w"; else bad "$w"; fi; }
mode_is() { [ "$(stat -c %a "$1" 2>/dev/null)" = "$2" ]; }

# No library visible to pkg-config: a plain build names each one with its
# Debian package and stops before compiling; clean needs none.
out=$(PKG_CONFIG_LIBDIR=/nonexistent make -n all 2>&1)
rc=$?
check "missing libraries: make stops (rc $rc)" [ "$rc" -ne 0 ]
for p in "yaml-0.1 (Debian package libyaml-dev)" "libsodium (Debian package libsodium-dev)" \
	"jansson (Debian package libjansson-dev)" "libmnl (Debian package libmnl-dev)" \
	"libcap (Debian package libcap-dev)"; do
	check "... names $p" grep -qxF "missing build dependency: $p" <<<"$out"
done
check "... and installs nothing (deps.sh not run)" bash -c "! grep -q 'deps: installing' <<<'$out'"
check "make clean needs no library" bash -c "PKG_CONFIG_LIBDIR=/nonexistent make -n clean >/dev/null 2>&1"
q=$(make -n -W core/os/tun.c build/rel/core/os/tun.o 2>/dev/null)
check "quiet by default: the command hidden behind '  CC core/os/tun.o'" grep -qF "'CC' 'core/os/tun.o';" <<<"$q"
q=$(make -n V=1 -W core/os/tun.c build/rel/core/os/tun.o 2>/dev/null)
check "V=1: the full command, no short line" \
	bash -c "grep -q -- '-c -o build/rel/core/os/tun.o core/os/tun.c' <<<'$q' && ! grep -qF \"'CC'\" <<<'$q'"

D=$T/root
if ! make -s install DESTDIR="$D" PREFIX=/usr >"$T/install.log" 2>&1; then
	bad "make install DESTDIR=... PREFIX=/usr"
	cat "$T/install.log"
	# The installs above built with their PREFIX; leave the tree built as the
# caller had it.
make -s all PREFIX="${RESTORE_PREFIX:-/usr/local}" >/dev/null 2>&1 || bad "rebuild for PREFIX=${RESTORE_PREFIX:-/usr/local}"

# tuntunctl without -s when only tuntuntun@.service daemons run: a private
# mount namespace with its own /run (nothing of the host's is touched).
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	out=$(unshare -m bash -c 'mount -t tmpfs ttt-test /run && mkdir /run/tuntuntun &&
		touch /run/tuntuntun/home.sock && "$1" status' _ "$D/usr/bin/tuntunctl" 2>&1)
	check "tuntunctl, no default socket: names the unit's sockets (-s /run/tuntuntun/home.sock)" \
		grep -qx 'tuntunctl: daemons run by tuntuntun@.service listen in /run/tuntuntun/: try -s /run/tuntuntun/home.sock' <<<"$out"
	out=$(unshare -m bash -c 'mount -t tmpfs ttt-test /run && "$1" status' _ "$D/usr/bin/tuntunctl" 2>&1)
	check "... and no hint when there are none (control)" bash -c "! grep -q 'try -s' <<<'$out'"
else
	skip=$((skip + 1))
	echo "  SKIP tuntunctl socket hint (needs root for a private mount namespace)"
fi

echo "sys-test: $pass passed, $fail failed"
	exit 1
fi
ok "make install DESTDIR=... PREFIX=/usr"
check "no apt or deps.sh during install" bash -c "! grep -q -e 'deps:' -e apt-get '$T/install.log'"
check "daemon in sbin, 0755" mode_is "$D/usr/sbin/tuntuntun" 755
check "tuntunctl in bin, 0755" mode_is "$D/usr/bin/tuntunctl" 755
for p in plugins.d/*.so; do
	check "plugin $(basename "$p") installed" test -x "$D/usr/lib/tuntuntun/plugins.d/$(basename "$p")"
done
check "public header" test -f "$D/usr/include/tuntuntun/sched.h"
check "pkg-config file names the plugin dir" [ "$(PKG_CONFIG_PATH=$D/usr/lib/pkgconfig \
	pkg-config --variable=plugindir tuntuntun)" = /usr/lib/tuntuntun/plugins.d ]
for m in man8/tuntuntun.8 man8/tuntunctl.8 man5/tuntuntun.yaml.5; do
	check "man page $m" mode_is "$D/usr/share/man/$m" 644
done
check "man pages name the installed plugin dir, no placeholder left" \
	bash -c "grep -q /usr/lib/tuntuntun/plugins.d '$D/usr/share/man/man8/tuntuntun.8' &&
		! grep -rq @PLUGINDIR@ '$D/usr/share/man'"
U=$D/usr/lib/systemd/system/tuntuntun@.service
check "systemd unit" test -f "$U"
check "unit runs the installed daemon" grep -q '^ExecStart=/usr/sbin/tuntuntun -c /etc/tuntuntun/%i.yaml$' "$U"
check "bash completion" test -f "$D/usr/share/bash-completion/completions/tuntunctl"
check "/etc/tuntuntun is 0750" mode_is "$D/etc/tuntuntun" 750
for r in client server; do
	ex=$D/etc/tuntuntun/$r.yaml.example
	check "$r.yaml.example installed 0640" mode_is "$ex" 640
	check "$r.yaml.example: plugin_dir is the installed one" \
		grep -qx 'plugin_dir: /usr/lib/tuntuntun/plugins.d' "$ex"
	check "$r.yaml.example: control socket in the unit's RuntimeDirectory" \
		grep -q '^control: { socket: /run/tuntuntun/'"$r"'.sock' "$ex"
	check "$r.yaml.example: no user: switch the unit forbids" bash -c "! grep -q '^user:' '$ex'"
	# It parses: what -n finds is only about this machine (no keys, no
	# /run/tuntuntun or /var/lib/tuntuntun, plugins not installed here).
	./tuntuntun -n -c "$ex" >"$T/n.out" 2>&1
	check "$r.yaml.example loads; -n only misses this machine's files ($(grep -c . "$T/n.out") lines)" \
		bash -c "grep -q ': configuration OK\|would not start' '$T/n.out' &&
			! grep -v -E '^tuntuntun: (warning: )?$ex(:[0-9]+:[0-9]+)?: (key|clients\[0\]\.key|links\[[0-9]+\]\.(source|interface)|control\.socket|state_file|scheduler\.(up|down)stream\.plugin|plugin_dir|$ex): ' '$T/n.out' |
			grep -v 'problems\?; the daemon would not start' | grep -q ."
done
check "no real config installed" bash -c "! ls '$D/etc/tuntuntun/'*.yaml 2>/dev/null"

# A second install over an admin's config and key leaves both alone.
printf 'role: client # mine\n' >"$D/etc/tuntuntun/client.yaml"
printf 'KEY\n' >"$D/etc/tuntuntun/client.key"
chmod 600 "$D/etc/tuntuntun/client.key"
make -s install DESTDIR="$D" PREFIX=/usr >/dev/null 2>&1
check "reinstall keeps an existing config" grep -qx 'role: client # mine' "$D/etc/tuntuntun/client.yaml"
check "reinstall keeps an existing key, 0600" mode_is "$D/etc/tuntuntun/client.key" 600

# SBINDIR, MANDIR, SYSTEMDUNITDIR, BASHCOMPDIR are honoured one by one.
D2=$T/root2
make -s install DESTDIR="$D2" PREFIX=/opt/ttt SBINDIR=/opt/ttt/libexec MANDIR=/opt/man \
	SYSTEMDUNITDIR=/etc/systemd/system BASHCOMPDIR=/opt/bc >/dev/null 2>&1
check "SBINDIR honoured" test -x "$D2/opt/ttt/libexec/tuntuntun"
check "MANDIR honoured" test -f "$D2/opt/man/man5/tuntuntun.yaml.5"
check "SYSTEMDUNITDIR honoured, unit names SBINDIR" \
	grep -q '^ExecStart=/opt/ttt/libexec/tuntuntun ' "$D2/etc/systemd/system/tuntuntun@.service"
check "BASHCOMPDIR honoured" test -f "$D2/opt/bc/tuntunctl"
check "PREFIX's plugin dir in the example" \
	grep -qx 'plugin_dir: /opt/ttt/lib/tuntuntun/plugins.d' "$D2/etc/tuntuntun/client.yaml.example"

# uninstall: everything but the admin's files.
make -s uninstall DESTDIR="$D" PREFIX=/usr >/dev/null 2>&1
left=$(cd "$D" && find . -type f | sort | tr '\n' ' ')
check "uninstall leaves only the admin's config and key (left: $left)" \
	[ "$left" = "./etc/tuntuntun/client.key ./etc/tuntuntun/client.yaml " ]
# A fresh install for the checks below.
make -s install DESTDIR="$D" PREFIX=/usr >/dev/null 2>&1

# systemd-analyze verify on the installed unit, its ExecStart pointed at
# the staged daemon and MANPATH at the staged pages, so both the commands
# and the Documentation= man pages are checked too.
if command -v systemd-analyze >/dev/null 2>&1; then
	sed "s|/usr/sbin/|$D/usr/sbin/|g" "$U" >"$T/tuntuntun@.service"
	if out=$(MANPATH=$D/usr/share/man systemd-analyze verify "$T/tuntuntun@.service" 2>&1) &&
		[ -z "$out" ]; then
		ok "systemd-analyze verify tuntuntun@.service: no complaint"
	else
		bad "systemd-analyze verify tuntuntun@.service: $out"
	fi
	printf '[Service]\nProtectHome=bogus\n' >>"$T/tuntuntun@.service"
	check "systemd-analyze verify does complain about a bad unit" \
		bash -c "! systemd-analyze verify '$T/tuntuntun@.service' >/dev/null 2>&1"
else
	skip=$((skip + 1))
	echo "  SKIP systemd-analyze verify (systemd-analyze not installed)"
fi

# Man pages: groff's own warnings (-ww), then man(1)'s, at 80 columns.
for m in "$D"/usr/share/man/man*/*; do
	n=$(basename "$m")
	out=$(groff -man -Tutf8 -ww -z "$m" 2>&1)
	check "groff -man -ww renders $n without warnings${out:+: $out}" [ -z "$out" ]
	out=$(MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
	check "man -l renders $n without warnings${out:+: $out}" [ -z "$out" ]
	lines=$(MANWIDTH=80 man -l "$m" 2>/dev/null | wc -l)
	check "$n renders to text ($lines lines)" [ "$lines" -gt 40 ]
done

# --version and --help: one version, from VERSION, everywhere.
V=$(cat VERSION)
check "tuntuntun --version says $V" [ "$("$D/usr/sbin/tuntuntun" --version)" = "tuntuntun $V" ]
check "tuntuntun -V too" [ "$("$D/usr/sbin/tuntuntun" -V)" = "tuntuntun $V" ]
check "tuntunctl --version says $V" [ "$("$D/usr/bin/tuntunctl" --version)" = "tuntunctl $V" ]
check "tuntuntun.pc says $V" [ "$(PKG_CONFIG_PATH=$D/usr/lib/pkgconfig pkg-config --modversion tuntuntun)" = "$V" ]
check "tuntuntun --help: exit 0, lists -n and --version" \
	bash -c "'$D/usr/sbin/tuntuntun' --help | grep -q -- '-n ' && '$D/usr/sbin/tuntuntun' --help | grep -q -- '--version'"
check "tuntunctl --help: exit 0, lists every verb the completion offers" \
	bash -c "h=\$('$D/usr/bin/tuntunctl' --help) && for v in status watch plugins scheduler link genkey raw help; do grep -q \"^  \$v\" <<<\"\$h\" || exit 1; done"
check "tuntuntun with a bad option: usage on stderr, exit 2" \
	bash -c "'$D/usr/sbin/tuntuntun' --bogus >/dev/null 2>&1; [ \$? = 2 ]"

C0=$D/usr/share/bash-completion/completions/tuntunctl
# tuntuntun.yaml(5) names every key the loader knows (its field tables).
keys=$(grep -ohE '(FLD\("|\.key = ")[a-z_0-9]+"' core/conf/*.c | sed -E 's/.*"([a-z_0-9]+)"/\1/' | sort -u)
page=$(MANWIDTH=200 man -l "$D/usr/share/man/man5/tuntuntun.yaml.5" 2>/dev/null)
missing=$(for k in $keys; do grep -qw -- "$k" <<<"$page" || printf '%s ' "$k"; done)
check "tuntuntun.yaml(5) documents all $(wc -w <<<"$keys") config keys${missing:+ (missing: $missing)}" [ -z "$missing" ]

# tuntunctl(8) and the completion cover every verb --help lists (the one
# table in ctl/tuntunctl.c), and tuntuntun(8) every option of --help.
verbs=$("$D/usr/bin/tuntunctl" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p; s/^  \([a-z][a-z-]*\)$/\1/p' | sort -u)
page=$(MANWIDTH=200 man -l "$D/usr/share/man/man8/tuntunctl.8" 2>/dev/null)
missing=$(for v in $verbs; do grep -qE "^ +$v( |$)" <<<"$page" || printf '%s ' "$v"; done)
check "tuntunctl(8) documents all $(wc -w <<<"$verbs") commands${missing:+ (missing: $missing)}" [ -z "$missing" ]
missing=$(for v in $verbs; do grep -qw -- "$v" "$C0" || printf '%s ' "$v"; done)
check "the completion offers them all${missing:+ (missing: $missing)}" [ -z "$missing" ]
opts=$("$D/usr/sbin/tuntuntun" --help | grep -oE '(^| )-[a-zA-Z]\b' | tr -d ' ' | sort -u)
page=$(MANWIDTH=200 man -l "$D/usr/share/man/man8/tuntuntun.8" 2>/dev/null)
missing=$(for o in $opts; do grep -qE -- "^ +$o( |,|$)" <<<"$page" || printf '%s ' "$o"; done)
check "tuntuntun(8) documents all $(wc -w <<<"$opts") options${missing:+ (missing: $missing)}" [ -z "$missing" ]

# Bash completion against a stand-in tuntunctl that answers like the
# daemon does (the field order is jansson's insertion order in ctlcmd.c).
C=$D/usr/share/bash-completion/completions/tuntunctl
check "completion parses" bash -n "$C"
cat >"$T/fakectl" <<'FAKE'
#!/bin/sh
echo "$@" >>"$(dirname "$0")/fakectl.args"
case "$*" in
*"status --json") echo '{"ok":true,"role":"client","sessions":[{"id":"1","links":[{"name":"dsl","id":0,"state":"up"},{"name":"lte","id":1,"state":"down"}]}],"scheduler":{"upstream":{"plugin":"weighted","version":"1"}}}' ;;
*"plugins --json") echo '{"ok":true,"dir":"/x","plugins":[{"name":"builtin-rr","version":"1","abi":1},{"name":"lowest-rtt","file":"/x/lowest-rtt.so","version":"1"},{"name":"weighted","file":"/x/weighted.so"}]}' ;;
*) exit 3 ;;
esac
FAKE
chmod +x "$T/fakectl"
comp() { # comp WORDS...: what completing the last word offers
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tuntunctl; echo "${COMPREPLY[*]}"' _ "$C" "$@"
}
check "completes verbs" [ "$(comp "$T/fakectl" s)" = "status scheduler" ]
check "completes link names from status --json" [ "$(comp "$T/fakectl" link "")" = "dsl lte" ]
check "completes up/down after a link" [ "$(comp "$T/fakectl" link dsl "")" = "up down" ]
check "completes plugin names from plugins --json" \
	[ "$(comp "$T/fakectl" scheduler set upstream "")" = "builtin-rr lowest-rtt weighted" ]
check "completes directions" [ "$(comp "$T/fakectl" scheduler set d)" = "downstream" ]
rm -f "$T/fakectl.args"
comp "$T/fakectl" -s /run/x.sock link "" >/dev/null
check "asks the socket given with -s" grep -qx -- '-s /run/x.sock status --json' "$T/fakectl.args"
check "no daemon: no names, no error" [ -z "$(comp /bin/false link "")" ]

# The installs above built with their PREFIX; leave the tree built as the
# caller had it.
make -s all PREFIX="${RESTORE_PREFIX:-/usr/local}" >/dev/null 2>&1 || bad "rebuild for PREFIX=${RESTORE_PREFIX:-/usr/local}"

# tuntunctl without -s when only tuntuntun@.service daemons run: a private
# mount namespace with its own /run (nothing of the host's is touched).
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	out=$(unshare -m bash -c 'mount -t tmpfs ttt-test /run && mkdir /run/tuntuntun &&
		touch /run/tuntuntun/home.sock && "$1" status' _ "$D/usr/bin/tuntunctl" 2>&1)
	check "tuntunctl, no default socket: names the unit's sockets (-s /run/tuntuntun/home.sock)" \
		grep -qx 'tuntunctl: daemons run by tuntuntun@.service listen in /run/tuntuntun/: try -s /run/tuntuntun/home.sock' <<<"$out"
	out=$(unshare -m bash -c 'mount -t tmpfs ttt-test /run && "$1" status' _ "$D/usr/bin/tuntunctl" 2>&1)
	check "... and no hint when there are none (control)" bash -c "! grep -q 'try -s' <<<'$out'"
else
	skip=$((skip + 1))
	echo "  SKIP tuntunctl socket hint (needs root for a private mount namespace)"
fi

echo "sys-test: $pass passed, $fail failed${skip:+, $skip skipped}"
[ "$fail" -eq 0 ]
