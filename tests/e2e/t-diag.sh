#!/usr/bin/env bash
# Diagnostics a person can act on (issue 15): each scenario checks the line
# a user would read, against a control run that must not print it.
#  1. wrong key: the client says which links got no answer and why; the
#     server logs the failed HELLOs per source with the reason;
#  2. a second client with the same key: the server warns naming both
#     addresses; a clean restart of the same client (control) does not;
#  3. a downstream plugin the server lacks: the session comes up on the
#     server's default, with a warning on both ends;
#  4. `tuntunctl link NAME` with an unknown name lists the real ones;
#  5. hooks: link/session events run the configured command with the event
#     in its environment.
. "$(dirname "$0")/lib.sh"

start_server() { # start_server [LOG]
	SLOG=${1:-$WORK/server.log}
	bg "$SLOG" ip netns exec "$NS_S" "$TTT" -c "$WORK/server.yaml"
	SERVER_PID=$LAST_PID
	wait_for 5 test -S "$WORK/server.sock"
}
start_client() { # start_client [LOG]
	bg "${1:-$WORK/client.log}" ip netns exec "$NS_C" "$TTT" -c "$WORK/client.yaml"
	CLIENT_PID=$LAST_PID
	wait_for 5 test -S "$WORK/client.sock"
}
stop_pid() { kill "$1" 2>/dev/null; for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$1"; }
established() { cstatus | jq_py "d['session']['state']" | grep -q established; }

topo_up
emu_start a 10.101.0.1 7001 --delay 2ms
emu_start b 10.102.0.1 7002 --delay 2ms

echo "== 1. wrong key"
write_configs
"$CTL" genkey "$WORK/other.key" >/dev/null
sed -i "s|^key: .*|key: $WORK/other.key|" "$WORK/client.yaml"
start_server
start_client
check "client: no answer, naming links a, b and both causes" \
	wait_for 12 grep -q "no answer from 10.101.0.1:7001 on a; 10.102.0.1:7002 on b after [0-9]* s: server unreachable, or this client's key differs from the server's" "$WORK/client.log"
check "server: failed HELLOs from the client's source, reason unknown key id" \
	wait_for 5 grep -q "failed HELLOs* from 10.200.0.1 in [0-9]* s: unknown key id" "$WORK/server.log"
# Rate limits, judged by what the lines say rather than by the clock: the
# server's second line sums the HELLOs of its 10 s (about two a second),
# and the client's second report comes twice as long after its first.
check "server: the next line aggregates the failures (one per source per 10 s)" \
	wait_for 20 bash -c "grep -E 'failed HELLOs? from 10.200.0.1' '$WORK/server.log' | sed -n 2p | grep -Eq '^[^ ]+ warning handshake: ([5-9]|[1-9][0-9]+) failed HELLOs'"
wait_for 30 bash -c "test \$(grep -c 'no answer from' '$WORK/client.log') -ge 2"
gap=$(grep 'no answer from' "$WORK/client.log" | head -2 | python3 -c '
import sys
t = []
for line in sys.stdin:
    h, m, s = line.split()[0].split(":")
    t.append(int(h) * 3600 + int(m) * 60 + float(s))
print(round(t[1] - t[0]) if len(t) == 2 else -1)')
check "client: the second report waits twice as long (${gap} s after the first)" test "$gap" -ge 9
stop_pid "$CLIENT_PID"
# Control: the right key: no such lines, the tunnel comes up.
sed -i "s|^key: .*|key: $WORK/client.key|" "$WORK/client.yaml"
start_client "$WORK/client2.log"
check "control: right key establishes" wait_for 10 established
check "control: no 'no answer' line with the right key" bash -c "! grep -q 'no answer from' '$WORK/client2.log'"
stop_pid "$CLIENT_PID"
stop_pid "$SERVER_PID"


echo "== 2. the same key on a second client"
start_server
start_client
check "tunnel up" wait_for 10 established
wait_for 10 c ping -c1 -W1 10.77.0.1 >/dev/null
# Control A, NAT rebinding with a new handshake: both links go silent long
# enough for the client to start over, then come back from new source
# ports (fresh emulators): same client, no warning.
kill "$EMU_PID_a" "$EMU_PID_b"; wait "$EMU_PID_a" "$EMU_PID_b" 2>/dev/null
check "control: client notices the silence" wait_for 15 grep -q "no answer from the server" "$WORK/client.log"
rm -f "$WORK"/emu-*.sock
emu_start a 10.101.0.1 7001 --delay 2ms
emu_start b 10.102.0.1 7002 --delay 2ms
check "control: re-established from new ports" wait_for 15 bash -c "grep -c 'client laptop connected' '$WORK/server.log' | grep -q 2"
# Control B, a clean restart of the same client.
stop_pid "$CLIENT_PID"
start_client "$WORK/client3.log"
check "control: restarted client establishes" wait_for 10 established
sleep 1
check "control: neither rebinding nor a restart warns" bash -c "! grep -q 'second client' '$WORK/server.log'"
# Now a second machine (in W, straight to the server) with the same key.
sed -e "s|^control: .*|control: { socket: $WORK/client-w.sock }|" \
    -e '/^links:/,/^plugin_dir/{/^  - /d}' \
    -e 's|^links:|links:\n  - { name: x, interface: ws, source: 10.200.0.1, peer: "10.200.0.2:5800" }|' \
    "$WORK/client.yaml" >"$WORK/client-w.yaml"
bg "$WORK/client-w.log" ip netns exec "$NS_W" "$TTT" -c "$WORK/client-w.yaml"
CW_PID=$LAST_PID
check "server warns: second client, naming both addresses" \
	wait_for 10 grep -Eq "client laptop: a second client with the same key connected from 10.200.0.1:[0-9]+ while session [0-9a-f]{8} was active from 10.200.0.1:[0-9]+, 10.200.0.1:[0-9]+" "$WORK/server.log"
# The two keep taking the session from each other; one warning a minute.
c0=$(grep -c 'client laptop connected' "$WORK/server.log")
wait_for 20 bash -c "test \$(grep -c 'client laptop connected' '$WORK/server.log') -ge $((c0 + 2))"
c1=$(grep -c 'client laptop connected' "$WORK/server.log")
n=$(grep -c 'second client with the same key' "$WORK/server.log")
check "they fight ($((c1 - c0)) more sessions), warned once ($n)" test "$((c1 - c0))" -ge 2 -a "$n" -eq 1
stop_pid "$CW_PID"
stop_pid "$CLIENT_PID"
stop_pid "$SERVER_PID"
check "control: no downstream fallback so far" bash -c "! grep -q 'cannot run' '$WORK/server.log'"

echo "== 3. a downstream plugin the server lacks"
mkdir -p "$WORK/splug"
cp "$TOP"/plugins.d/*.so "$WORK/splug/"
rm "$WORK/splug/lowest-rtt.so"
sed -i "s|^plugin_dir: .*|plugin_dir: $WORK/splug|" "$WORK/server.yaml"
sed -i "s|^  downstream: .*|  downstream: { plugin: lowest-rtt }|" "$WORK/client.yaml"
start_server "$WORK/server2.log"
start_client "$WORK/client4.log"
check "session comes up anyway" wait_for 10 established
check "tunnel carries traffic" wait_for 10 c ping -c1 -W1 10.77.0.1
check "server warns, naming the plugin and its default" \
	wait_for 5 grep -q 'the client asks for downstream plugin "lowest-rtt", which this server cannot run (.*); using this server.s roundrobin instead' "$WORK/server2.log"
check "client warns, naming both" \
	wait_for 10 grep -q 'the server has no downstream plugin "lowest-rtt" .*; it runs its default "roundrobin" instead' "$WORK/client4.log"
check "server's session runs roundrobin" bash -c "$CTL -s $WORK/server.sock status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d[\"sessions\"][0][\"scheduler\"][\"plugin\"] != \"roundrobin\")'"
check "client status says what the server runs" bash -c "$CTL -s $WORK/client.sock status | grep -q 'downstream: roundrobin (server default; asked for lowest-rtt)'"

echo "== 4. tuntunctl on a running tunnel"
out=$("$CTL" -s "$WORK/client.sock" link dls down 2>&1); rc=$?
check "link with an unknown name fails (exit $rc)" test "$rc" -eq 1
check "... and lists the real ones: $out" grep -q 'no link named "dls"; the links are: a, b' <<<"$out"
check "control: a real name works" bash -c "\"$CTL\" -s \"$WORK/client.sock\" link b down >/dev/null"
"$CTL" -s "$WORK/client.sock" link b up >/dev/null
st=$("$CTL" -s "$WORK/client.sock" status)
check "status names the server endpoint" grep -q '^server: *10.200.0.2:5800$' <<<"$st"
check "status shows session age and last handshake" grep -Eq '^ +up [0-9]+s, last handshake [0-9:]{8} \([0-9]+s ago\)$' <<<"$st"
check "status shows the cipher" grep -Eq '^session: .*crypto encrypt (aes-256-gcm|chacha20-poly1305)(, key epoch [0-9]+)?$' <<<"$st"
check "every status line fits 80 columns" bash -c "! awk 'length > 80' <<<\"\$1\" | grep -q ." _ "$st"
chmod 600 "$WORK/client.sock"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" -s "$WORK/client.sock" status 2>&1)
check "permission error says what is needed: $out" grep -q 'Permission denied; run as root, or as a member of the daemon.s control.group' <<<"$out"
stop_pid "$CLIENT_PID"
stop_pid "$SERVER_PID"

echo "== 5. hooks"
cat >"$WORK/hook.sh" <<'SH'
#!/bin/sh
# $1: the log; $2 must arrive as one word with its space
echo "$TTT_EVENT role=$TTT_ROLE link=${TTT_LINK:-} state=${TTT_LINK_STATE:-} client=${TTT_CLIENT:-} session=${TTT_SESSION:-} tun=$TTT_TUN arg=[$2]" >>"$1"
SH
chmod 755 "$WORK/hook.sh"
H="/bin/sh $WORK/hook.sh"
# Three ways to quote the same argument (os/hookcmd.h).
cat >>"$WORK/client.yaml" <<YAML
hooks:
  link_up: "$H $WORK/hooks-client.log 'two words'"
  link_down: "$H $WORK/hooks-client.log \"two words\""
  session_up: $H $WORK/hooks-client.log two\\ words
YAML
cat >>"$WORK/server.yaml" <<YAML
hooks:
  session_up: $H $WORK/hooks-server.log 'two words'
  session_down: $H $WORK/hooks-server.log 'two words'
  link_up: /bin/sleep 30
  timeout: 1s
YAML
start_server "$WORK/server3.log"
start_client "$WORK/client5.log"
check "tunnel up with hooks configured" wait_for 10 established
check "client link_up hook for a, with its environment and quoted argument" \
	wait_for 5 grep -Eq '^link_up role=client link=a state=(up|degraded) client= session=[0-9a-f]{8} tun=ttt0 arg=\[two words\]$' "$WORK/hooks-client.log"
check "client link_up hook for b" wait_for 5 grep -q '^link_up role=client link=b ' "$WORK/hooks-client.log"
check "client session_up hook (backslash-escaped space)" \
	wait_for 5 grep -Eq '^session_up role=client link= state= client= session=[0-9a-f]{8} tun=ttt0 arg=\[two words\]$' "$WORK/hooks-client.log"
check "server session_up hook names the client" \
	wait_for 5 grep -Eq '^session_up role=server link= state= client=laptop session=[0-9a-f]{8} tun=ttt0 arg=\[two words\]$' "$WORK/hooks-server.log"
check "control: no link_down before a link goes down" bash -c "! grep -q '^link_down' '$WORK/hooks-client.log'"
emu_ctl b down >/dev/null
check "link b down: its link_down hook (double quotes)" \
	wait_for 10 grep -q '^link_down role=client link=b state=down .*arg=\[two words\]$' "$WORK/hooks-client.log"
check "... and only b's" bash -c "! grep -q '^link_down role=client link=a' '$WORK/hooks-client.log'"
emu_ctl b up >/dev/null
check "link b back: link_up again" wait_for 10 bash -c "test \$(grep -c '^link_up role=client link=b ' '$WORK/hooks-client.log') -ge 2"
check "a hung hook is killed after its timeout" \
	wait_for 10 grep -q 'link_up hook /bin/sleep (pid [0-9]*) still running after 1000 ms: killing it' "$WORK/server3.log"
check "... while the tunnel kept working" bash -c "ip netns exec $NS_C ping -c1 -W2 10.77.0.1 >/dev/null"
stop_pid "$CLIENT_PID"
check "server session_down hook when the client leaves" \
	wait_for 5 grep -q '^session_down role=server link= state= client=laptop ' "$WORK/hooks-server.log"
stop_pid "$SERVER_PID"

echo "== 6. server by host name, re-resolved (dynamic DNS)"
# `ip netns exec` shows /etc/netns/NS/hosts as the namespace's /etc/hosts;
# written in place (same inode) so the running daemon sees the change.
mkdir -p "/etc/netns/$NS_C"
trap 'rm -f "/etc/netns/$NS_C/hosts"; rmdir "/etc/netns/$NS_C" /etc/netns 2>/dev/null; cleanup' EXIT
echo "10.200.0.2 ttt-server.test" >"/etc/netns/$NS_C/hosts"
ip -n "$NS_S" addr add 10.200.0.3/24 dev sw
sed -i -e 's|^server: .*|server: { address: ttt-server.test, port: 5800 }|' \
	-e '/^hooks:/,$d' \
	-e 's|, peer: "10.101.0.1:7001"||' "$WORK/client.yaml"
sed -i '/^hooks:/,$d' "$WORK/server.yaml"
start_server "$WORK/server4.log"
start_client "$WORK/client6.log"
check "resolved at start" wait_for 10 grep -q 'dns: ttt-server.test resolves to 10.200.0.2:5800' "$WORK/client6.log"
check "session up through the name" wait_for 10 established
check "status shows the resolved server" bash -c "\"$CTL\" -s \"$WORK/client.sock\" status | grep -q '^server: *10.200.0.2:5800'"
# The server moves: the old address goes away and the name follows.
echo "10.200.0.3 ttt-server.test" >"/etc/netns/$NS_C/hosts"
ip netns exec "$NS_S" sysctl -qw net.ipv4.conf.sw.promote_secondaries=1
ip -n "$NS_S" addr del 10.200.0.2/24 dev sw
ip -n "$NS_S" route replace 10.101.0.0/24 via 10.200.0.1
check "control: no re-resolution while the session is up" bash -c "! grep -q 'now resolves' '$WORK/client6.log'"
check "re-resolved after a while without a session" \
	wait_for 60 grep -q 'dns: ttt-server.test now resolves to 10.200.0.3:5800 (was 10.200.0.2:5800); reconnecting' "$WORK/client6.log"
check "session up again at the new address" wait_for 15 established
check "tunnel carries traffic again" wait_for 10 bash -c "ip netns exec $NS_C ping -c1 -W1 10.77.0.1 >/dev/null"
stop_pid "$CLIENT_PID"
stop_pid "$SERVER_PID"

summary
