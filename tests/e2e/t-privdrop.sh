#!/usr/bin/env bash
# Least privilege and the local attack surface, end to end (lib.sh topology):
#   - both daemons with `user: nobody` still carry traffic; /proc shows the
#     dropped uid/gid and only CAP_NET_ADMIN + CAP_NET_RAW (0x3000) in the
#     permitted, effective and bounding sets, and the HTTP listener's thread
#     none at all;
#   - link recovery still works as nobody (the uplink socket is re-created
#     with SO_BINDTODEVICE after its interface went down and up);
#   - the control socket refuses a non-root uid twice over: the 0600 file,
#     and, with the file opened up on purpose, SO_PEERCRED;
#   - garbage on the control socket gets error replies and the daemon lives;
#   - a root daemon refuses a plugin directory or plugin file that is not
#     root-owned or is group/world-writable, with a message naming it;
#   - both daemons load their plugins from a plugins.d under a 0700
#     root-owned parent (a clone in /root): the server loads each client's
#     downstream plugin after dropping to nobody, hot swaps both ways and
#     `tuntunctl plugins` work as nobody too (issue #17).
. "$(dirname "$0")/lib.sh"

echo "== least privilege, control socket, plugin trust"
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)
topo_up
emu_start a 10.101.0.1 7001 --delay 2ms
emu_start b 10.102.0.1 7002 --delay 4ms
write_configs roundrobin roundrobin "user: nobody
http: {}"
echo "user: nobody" >>"$WORK/server.yaml"
# The plugins sit where only root can reach them by path: a 0755
# plugins.d inside a 0700 root-owned directory, as in a clone under /root.
LOCKED=$WORK/locked-700
PLUG=$LOCKED/tuntuntun/plugins.d
mkdir -p "$PLUG"
cp "$TOP"/plugins.d/*.so "$PLUG/"
chmod 0755 "$LOCKED/tuntuntun" "$PLUG" "$PLUG"/*.so
chmod 0700 "$LOCKED"
sed -i "s|^plugin_dir: .*|plugin_dir: $PLUG|" "$WORK/client.yaml" "$WORK/server.yaml"
check "nobody cannot reach the plugin directory by path" \
	bash -c "! setpriv --reuid=$NOBODY_UID --regid=$NOBODY_GID --clear-groups test -r '$PLUG/roundrobin.so'"
daemons_start || { bad "daemons start as nobody"; summary; exit 1; }
check "ping through the tunnel with both daemons as nobody" \
	bash -c "ip netns exec $NS_C ping -c 3 -i 0.2 -W 2 10.99.0.2 >/dev/null"

for who in client server; do
	pid=$CLIENT_PID; [ $who = server ] && pid=$SERVER_PID
	st=/proc/$pid/status
	uids=$(awk '/^Uid:/ {print $2,$3,$4,$5}' "$st")
	gids=$(awk '/^Gid:/ {print $2,$3,$4,$5}' "$st")
	check "$who runs as nobody (Uid: $uids)" test "$uids" = "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID"
	check "$who group is nobody's (Gid: $gids)" test "$gids" = "$NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID"
	check "$who has no supplementary groups" test "$(awk '/^Groups:/ {print $2}' "$st")" = "$NOBODY_GID"
	for f in CapPrm CapEff CapBnd; do
		v=$(awk -v f="$f:" '$1==f {print $2}' "$st")
		check "$who $f is CAP_NET_ADMIN+CAP_NET_RAW only ($v)" test "$v" = 0000000000003000
	done
	check "$who CapInh is empty" test "$(awk '$1=="CapInh:" {print $2}' "$st")" = 0000000000000000
	check "$who NoNewPrivs is set" test "$(awk '$1=="NoNewPrivs:" {print $2}' "$st")" = 1
done
check "client log says it dropped root" grep -q "running as nobody" "$WORK/client.log"
# The HTTP listener's thread (started before the drop) keeps nothing.
http_caps() { # the other threads' CapPrm and CapEff, one line per thread
	for t in /proc/$CLIENT_PID/task/*; do
		[ "${t##*/}" = "$CLIENT_PID" ] && continue
		awk '$1=="CapPrm:" || $1=="CapEff:" {printf "%s ", $2} END {print ""}' "$t/status"
	done
}
caps=$(http_caps)
check "client's HTTP thread runs with no capability ($caps)" \
	bash -c "[ -n '$caps' ] && ! grep -qv '^0000000000000000 0000000000000000 $' <<<'$caps'"
check "  ... and serves /metrics" \
	bash -c "ip netns exec $NS_C curl -sf http://127.0.0.1:9580/metrics | grep -q '^ttt_link_state{link=\"a\"}'"

# Plugins after the drop, from the directory under the 0700 parent.
srv_down() { sstatus | jq_py "d['sessions'][0]['scheduler']['plugin']"; }
cli_up() { cstatus | jq_py "d['scheduler']['upstream']['plugin']"; }
check "the server (as nobody) runs the client's downstream roundrobin.so ($(srv_down))" \
	test "$(srv_down)" = roundrobin
check "... loaded from the locked directory" \
	bash -c "sstatus() { '$CTL' -s '$WORK/server.sock' status --json; }; sstatus | grep -q '$PLUG/roundrobin.so'"
"$CTL" -s "$WORK/client.sock" scheduler set downstream weighted >"$WORK/pd-down.out" 2>&1
check "downstream hot swap to weighted after the drop (exit $?)" test "$(srv_down)" = weighted
"$CTL" -s "$WORK/client.sock" scheduler set upstream lowest-rtt >"$WORK/pd-up.out" 2>&1
check "upstream hot swap to lowest-rtt after the drop (exit $?)" test "$(cli_up)" = lowest-rtt
"$CTL" -s "$WORK/server.sock" plugins >"$WORK/pd-plugins.out" 2>&1
check "tuntunctl plugins as nobody lists the locked directory's plugins" \
	bash -c "grep -q '^weighted ' '$WORK/pd-plugins.out' && ! grep -q REFUSED '$WORK/pd-plugins.out'"
check "no permission errors in the server log" bash -c "! grep -qi 'permission denied' '$WORK/server.log'"
check "the tunnel still works after the swaps" bash -c "ip netns exec $NS_C ping -c 2 -i 0.2 -W 2 10.99.0.2 >/dev/null"

# Link recovery as nobody: the uplink socket is re-created (SO_BINDTODEVICE
# needs CAP_NET_RAW) once the interface is back.
ip -n "$NS_C" link set ca down
wait_for 10 bash -c "[ \"\$('$CTL' -s '$WORK/client.sock' status --json | python3 -c 'import json,sys; print([l[\"state\"] for l in json.load(sys.stdin)[\"links\"] if l[\"name\"]==\"a\"][0])')\" = down ]"
ip -n "$NS_C" link set ca up
ip -n "$NS_C" route replace 10.200.0.0/24 via 10.101.0.1 2>/dev/null
link_a_up() { [ "$(link_field client a state)" = up ]; }
check "link a recovers after its interface flapped (as nobody)" wait_for 20 link_a_up
check "no permission errors in the client log" bash -c "! grep -qi 'not permitted\|permission denied' '$WORK/client.log'"
check "ping still works after the flap" bash -c "ip netns exec $NS_C ping -c 2 -i 0.2 -W 2 10.99.0.2 >/dev/null"

# The control socket: 0600 root file, so nobody cannot even connect.
as_nobody() { setpriv --reuid="$NOBODY_UID" --regid="$NOBODY_GID" --clear-groups "$@"; }
chmod 0711 "$WORK"
# A copy nobody can run even when the tree sits in a 0700 directory.
cp "$CTL" "$WORK/tuntunctl-nobody" && chmod 0755 "$WORK/tuntunctl-nobody"
out=$(as_nobody "$WORK/tuntunctl-nobody" -s "$WORK/server.sock" status 2>&1)
check "nobody cannot connect to the 0600 control socket ($out)" \
	bash -c 'echo "$1" | grep -qi "permission denied" && ! echo "$1" | grep -q "may not use"' _ "$out"
# Opened up on purpose: SO_PEERCRED still refuses nobody (it is the
# daemon's run-time user, but not the one that created the socket).
chmod 0666 "$WORK/server.sock"
out=$(as_nobody "$WORK/tuntunctl-nobody" -s "$WORK/server.sock" status 2>&1)
echo "  tuntunctl as nobody: $out" | head -2
check "SO_PEERCRED refuses uid nobody on a 0666 socket" \
	bash -c 'echo "$1" | grep -q "may not use the control socket"' _ "$out"
check "the daemon logged the refused uid" grep -q "refused control client uid $NOBODY_UID" "$WORK/server.log"
chmod 0600 "$WORK/server.sock"
chmod 0700 "$WORK"

# Garbage requests: every line gets an error reply, the daemon lives on.
python3 - "$WORK/server.sock" >"$WORK/garbage.out" <<'EOF'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(3)
reqs = [b"\x00\xff\xfe garbage\n", b"{\n", b"[1,2,3]\n", b'{"cmd": 42}\n',
        b'{"cmd": "nope"}\n', b'{"cmd": "scheduler", "dir": {}}\n',
        os.urandom(300).replace(b"\n", b"x") + b"\n"]
for r in reqs:
    s.sendall(r)
buf = b""
while buf.count(b"\n") < len(reqs):
    try:
        d = s.recv(65536)
    except socket.timeout:
        break
    if not d:
        break
    buf += d
print(sum(1 for l in buf.split(b"\n") if b'"ok": false' in l or b'"ok":false' in l))
# then one line far over the length limit
s2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s2.connect(sys.argv[1])
try:
    s2.sendall(b"x" * 200000 + b"\n")
except OSError:
    pass
s2.close()
EOF
check "7 garbage requests got 7 error replies ($(head -1 "$WORK/garbage.out"))" test "$(head -1 "$WORK/garbage.out")" = 7
check "server alive and answering after garbage" bash -c "'$CTL' -s '$WORK/server.sock' status --json | grep -q sessions"
check "tunnel still up after garbage" bash -c "ip netns exec $NS_C ping -c 1 -W 2 10.99.0.2 >/dev/null"

# Plugin trust: a root daemon refuses an untrusted directory or file.
mkdir -p "$WORK/pl-ok" "$WORK/pl-open"
cp "$TOP"/plugins.d/*.so "$WORK/pl-ok/"
cp "$TOP"/plugins.d/*.so "$WORK/pl-open/"
chmod 0755 "$WORK/pl-ok" && chmod 0777 "$WORK/pl-open"
trial() { # trial NAME PLUGIN_DIR UP_PLUGIN: a root client that must refuse
	cat >"$WORK/$1.yaml" <<EOF
role: client
server: { address: 10.200.0.2, port: 5800 }
key: $WORK/client.key
tun: { name: ttt8, address: 10.78.0.8/24 }
scheduler: { upstream: { plugin: $3 } }
links:
  - { name: a, interface: ca, source: 10.101.0.2, peer: "10.200.0.2:5800" }
plugin_dir: $2
control: { socket: $WORK/$1.sock }
EOF
	timeout 10 ip netns exec "$NS_C" "$TTT" -c "$WORK/$1.yaml" >"$WORK/$1.out" 2>&1
	echo $? >"$WORK/$1.rc"
}
trial open "$WORK/pl-open" roundrobin
check "world-writable plugin dir refused (exit $(cat "$WORK/open.rc"))" test "$(cat "$WORK/open.rc")" = 1
check "message names the directory and why" grep -q "refusing plugins under $WORK/pl-open.*writable by group or others" "$WORK/open.out"
chmod 0664 "$WORK/pl-ok/weighted.so"
trial gw "$WORK/pl-ok" weighted
check "group-writable plugin file refused (exit $(cat "$WORK/gw.rc"))" test "$(cat "$WORK/gw.rc")" = 1
check "message names the file and why" grep -q "weighted.so: refusing to load: the file is writable by group or others" "$WORK/gw.out"
chmod 0755 "$WORK/pl-ok/weighted.so"
chown nobody "$WORK/pl-ok/lowest-rtt.so"
trial own "$WORK/pl-ok" lowest-rtt
check "plugin file not owned by root refused (exit $(cat "$WORK/own.rc"))" test "$(cat "$WORK/own.rc")" = 1
check "message says not owned by root" grep -q "lowest-rtt.so: refusing to load: the file is not owned by root" "$WORK/own.out"
check "refused starts left no tun behind" bash -c "! ip -n $NS_C link show ttt8 >/dev/null 2>&1"

summary
