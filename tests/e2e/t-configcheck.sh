#!/usr/bin/env bash
# `tuntuntun -n -c FILE` checks everything a start would trip over, without
# starting anything (no tun, no socket, no namespace needed): for each
# failure the binary prints FILE:LINE:COL: KEY: the value and what was
# expected on stderr and exits 2; a config where all is well prints
# "configuration OK" and exits 0 (the control run of every case). Also:
# as the systemd unit confines it (bounding set CAP_NET_ADMIN+CAP_NET_RAW,
# setpriv here), `user:` and a socket directory root cannot write without
# CAP_DAC_OVERRIDE are caught; as an unprivileged user, `user:` needs root.
# Nothing is created outside $WORK; no process is left running.
. "$(dirname "$0")/lib.sh"

K=$WORK/client.key
"$CTL" genkey "$K" >/dev/null
cfg() { # cfg NAME EXTRA-YAML: a client config, the named key replaceable
	cat >"$WORK/$1.yaml" <<EOC
role: client
server: { address: 192.0.2.1 }
key: ${KEY:-$K}
tun: { address: 10.77.0.2/24 }
links:
  - { name: a, interface: lo }
plugin_dir: ${PLUGDIR:-$TOP/plugins.d}
control: { socket: ${SOCK:-$WORK/c.sock} }
$2
EOC
	echo "$WORK/$1.yaml"
}
# run FILE [prefix command...]: stdout+stderr in $OUT, status in $RC.
run() {
	local f=$1
	shift
	OUT=$("$@" "$TTT" -n -c "$f" 2>&1)
	RC=$?
}
# fails_with FILE LINE:COL KEY TEXT [prefix...]: exit 2, the finding
# "FILE:LINE:COL: KEY: ...TEXT" (LINE:COL "-" = no position) and the
# summary line.
fails_with() {
	local f=$1 pos=$2 key=$3 text=$4 head
	shift 4
	run "$f" "$@"
	if [ "$pos" = - ]; then head="tuntuntun: $f: $key: "; else head="tuntuntun: $f:$pos: $key: "; fi
	if [ "$RC" = 2 ] && grep -qF -- "$head" <<<"$OUT" &&
		grep -F -- "$head" <<<"$OUT" | grep -qF -- "$text" &&
		grep -q "problem.*; the daemon would not start$" <<<"$OUT"; then
		return 0
	fi
	echo "    rc=$RC, expected 2 and \"$head...$text\"; got:"
	sed 's/^/    | /' <<<"$OUT"
	return 1
}
passes() { # passes FILE [prefix...]: exit 0, "configuration OK"
	local f=$1
	shift
	run "$f" "$@"
	[ "$RC" = 0 ] && grep -q "^$f: configuration OK" <<<"$OUT" && return 0
	echo "    rc=$RC; got:"
	sed 's/^/    | /' <<<"$OUT"
	return 1
}

echo "== tuntuntun -n: the control"
good=$(cfg good "")
check "a correct config: configuration OK, exit 0" passes "$good"
check "... and nothing was started (no socket, no tun)" bash -c "[ ! -e '$WORK/c.sock' ] && ! ip link show ttt0 2>/dev/null | grep -q tun"

echo "== key files"
check "missing key file" fails_with "$(KEY=$WORK/nope.key cfg k1 "")" 3:6 key '"'"$WORK"'/nope.key": no such file (expected a pre-shared key file; create one with `tuntunctl genkey'
cp "$K" "$WORK/loose.key" && chmod 644 "$WORK/loose.key"
check "key readable by others" fails_with "$(KEY=$WORK/loose.key cfg k2 "")" 3:6 key 'has mode 0644; expected 0600 or stricter'
cp "$K" "$WORK/theirs.key" && chown nobody "$WORK/theirs.key"
check "key owned by another user" fails_with "$(KEY=$WORK/theirs.key cfg k3 "")" 3:6 key 'is owned by uid'
check "... which the daemon also refuses at start" bash -c "'$TTT' -c '$WORK/k3.yaml' 2>&1 | grep -q 'is owned by uid'"
printf 'not a key at all\n' >"$WORK/garbage.key" && chmod 600 "$WORK/garbage.key"
check "garbage key" fails_with "$(KEY=$WORK/garbage.key cfg k4 "")" 3:6 key 'not a base64 key'

cat >"$WORK/srv.yaml" <<EOS
role: server
tun: { address: 10.77.0.1/24 }
clients:
  - { name: laptop, key: $K, address: 10.77.0.2 }
  - { name: phone, key: $WORK/loose-copy.key, address: 10.77.0.3 }
plugin_dir: $TOP/plugins.d
control: { socket: "" }
EOS
cp -p "$K" "$WORK/loose-copy.key"
check "server: two clients with one key" fails_with "$WORK/srv.yaml" 5:25 'clients[1].key' 'holds the same key as clients[0] (laptop)'
check "... which the server also refuses at start" bash -c "ip netns add $NS_S && ip netns exec $NS_S '$TTT' -c '$WORK/srv.yaml' 2>&1 | grep -q 'use the same key'; r=\$?; ip netns del $NS_S; exit \$r"

echo "== plugins"
check "plugin that does not exist" fails_with "$(cfg p1 "scheduler: { upstream: { plugin: nosuch } }")" 9:34 scheduler.upstream.plugin '"nosuch": no such plugin in'
check "bad plugin option" fails_with "$(cfg p2 "scheduler: { upstream: { plugin: weighted, weights: { a: many } } }")" 9:58 scheduler.upstream.weights.a 'plugin "weighted" refused'
check "... with the plugin's own words" grep -q 'option "weights.a": expected an integer' <<<"$OUT"
check "good plugin options: OK" passes "$(cfg p3 "scheduler: { upstream: { plugin: weighted, weights: { a: 3 } } }")"
mkdir -p "$WORK/plug" && cp "$TOP/plugins.d/weighted.so" "$WORK/plug/" && chmod 666 "$WORK/plug/weighted.so"
check "plugin others may write (trust rule)" fails_with "$(PLUGDIR=$WORK/plug cfg p4 "scheduler: { upstream: { plugin: weighted } }")" 9:34 scheduler.upstream.plugin 'writable by group or others'

echo "== accounts"
check "unknown user:" fails_with "$(cfg u1 "user: nosuchuser-ttt")" 9:7 user '"nosuchuser-ttt": no such user (expected an existing account such as nobody)'
check "user: root" fails_with "$(cfg u2 "user: root")" 9:7 user 'is root'
check "user: nobody: OK" passes "$(cfg u3 "user: nobody")"
check "unknown control.group" fails_with "$(SOCK="$WORK/g.sock, group: nosuchgroup-ttt" cfg g1 "")" 8:55 control.group '"nosuchgroup-ttt": no such group'

echo "== control socket"
check "socket directory missing" fails_with "$(SOCK=$WORK/no/such/c.sock cfg s1 "")" 8:20 control.socket 'directory "'"$WORK"'/no/such" does not exist'
check "socket path taken by a file" fails_with "$(SOCK=$K cfg s2 "")" 8:20 control.socket 'exists and is not a socket'
mkdir -p "$WORK/shared" && chmod 1777 "$WORK/shared"
check "socket directory others can write (even sticky)" fails_with "$(SOCK=$WORK/shared/c.sock cfg s4 "")" 8:20 control.socket 'is writable by group or others'

echo "== state file, interfaces"
check "state_file directory missing" fails_with "$(cfg q1 "state_file: $WORK/none/q.json")" 9:13 state_file 'does not exist'
check "state_file directory others can write" fails_with "$(cfg q2 "state_file: $WORK/shared/q.json")" 9:13 state_file 'is writable by group or others'
cfg i1 "" >/dev/null
sed -i 's/interface: lo/interface: wwan-ttt9/' "$WORK/i1.yaml"
check "interface that does not exist: a warning, still OK" passes "$WORK/i1.yaml"
check "... naming it" grep -q "warning: $WORK/i1.yaml:6:27: links\[0\].interface: \"wwan-ttt9\": no such interface now" <<<"$OUT"

echo "== addresses, tun"
sed -e 's/^tun: { address/tun: { name: lo, address/' "$good" >"$WORK/t1.yaml"
check "tun.name taken by a non-tun interface" fails_with "$WORK/t1.yaml" 4:14 tun.name '"lo" is an existing interface that is not a tun device'
sed -e 's|^  - { name: laptop.*|  - { name: laptop, key: '"$K"', address: 10.77.0.2 }|' -e '/name: phone/d' \
	-e 's|^role: server|role: server\nlisten: { address: 192.0.2.77 }|' "$WORK/srv.yaml" >"$WORK/l1.yaml"
check "listen.address not on this machine" fails_with "$WORK/l1.yaml" 2:20 listen.address '192.0.2.77:5800: not an address of this machine'
sed -e 's/interface: lo }/source: 192.0.2.77 }/' "$good" >"$WORK/src.yaml"
check "links[].source not (yet) on this machine: a warning" passes "$WORK/src.yaml"
check "... naming it" grep -q "warning: $WORK/src.yaml:6:24: links\[0\].source: 192.0.2.77 is not an address of this machine now" <<<"$OUT"

echo "== every problem at once"
run "$(KEY=$WORK/nope.key cfg all "user: nosuchuser-ttt
scheduler: { upstream: { plugin: nosuch } }")"
n=$(grep -c "^tuntuntun: $WORK/all.yaml:[0-9]" <<<"$OUT")
check "three problems, three lines, exit 2 ($n lines, rc $RC)" [ "$n" = 3 ] && [ "$RC" = 2 ]
check "... summed up" grep -q "all.yaml: 3 problems; the daemon would not start" <<<"$OUT"

echo "== as tuntuntun@.service confines it"
UNIT=(setpriv --bounding-set=-all,+net_admin,+net_raw --inh-caps=-all --no-new-privs)
check "a correct config passes under the unit's confinement" passes "$good" "${UNIT[@]}"
check "user: needs capabilities the unit drops" fails_with "$WORK/u3.yaml" 9:7 user 'needs CAP_SETUID CAP_SETGID CAP_SETPCAP, which this process lacks' "${UNIT[@]}"
mkdir -p "$WORK/ro" && chmod 555 "$WORK/ro"
check "socket directory root cannot write without CAP_DAC_OVERRIDE" \
	fails_with "$(SOCK=$WORK/ro/c.sock cfg s3 "")" 8:20 control.socket 'cannot create it in "'"$WORK"'/ro": Permission denied' "${UNIT[@]}"
check "... the same directory is fine for full root (control)" passes "$WORK/s3.yaml"

echo "== as an unprivileged user"
cp "$K" "$WORK/nobody.key" && chown nobody "$WORK/nobody.key"
chmod 711 "$WORK"
NB=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
check "user: other than us needs root" fails_with "$(KEY=$WORK/nobody.key SOCK=$WORK/nb/c.sock cfg n1 "user: daemon")" 9:7 user 'needs the daemon started as root (checked as uid' "${NB[@]}"
check "root's key file cannot be read" fails_with "$(SOCK=$WORK/nb/c.sock cfg n2 "")" 3:6 key 'Permission denied' "${NB[@]}"
chmod 700 "$WORK"
summary
