#!/usr/bin/env bash
# HELLO cookies under a spoofed flood (topology in lib.sh). A flooder in W
# sprays HELLO-shaped datagrams (version 3, type 1, random body) at the
# server from thousands of forged source addresses, as fast as python can.
# The client's reconnect time is measured three times without the flood and
# once during it, in this same run:
#   - during the flood the server answers with COOKIEs (hello_cookie_sent
#     climbs by thousands) and serves the real client by its cookie
#     (hello_cookie_ok, the client's cookies_received);
#   - the client gets in within 3x the unloaded connect time plus 1 s, and
#     with no more HELLOs than unloaded plus one cookie-answering resend
#     per link (so it never had to wait for a retry timer);
#   - a version-1 HELLO is refused with a log line naming the version.
. "$(dirname "$0")/lib.sh"

topo_up
emu_start a 10.101.0.1 7001 --delay 5ms
emu_start b 10.102.0.1 7002 --delay 5ms
write_configs roundrobin roundrobin
# Forged sources come from 10.250.0.0/16, which nobody routes: the COOKIEs
# sent to them go nowhere, as for a real spoofer's victims.
ip netns exec "$NS_S" sysctl -qw net.ipv4.conf.all.rp_filter=0
ip netns exec "$NS_S" sysctl -qw net.ipv4.conf.sw.rp_filter=0
daemons_start || exit 1

cat >"$WORK/flood.py" <<'PY'
"""flood.py DST PORT SECONDS READY: raw IPv4/UDP datagrams of 160 bytes
that look like version-3 HELLOs, from 16384 forged sources in
10.250.0.0/16, as fast as the socket takes them; touches READY when it
starts and prints the number sent."""
import os, socket, struct, sys, time
dst, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
d = socket.inet_aton(dst)
pkts = []
for i in range(16384):
    src = socket.inet_aton("10.250.%d.%d" % (i >> 8, (i & 255) or 1))
    body = bytes([3, 1, 0, 0]) + bytes(12) + os.urandom(144)
    udp = struct.pack("!HHHH", 1024 + i, port, 8 + len(body), 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + len(body), 0, 0,
                     64, 17, 0, src, d)
    pkts.append(ip + udp + body)
open(sys.argv[4], "w").close()
n = 0
end = time.monotonic() + secs
while time.monotonic() < end:
    for p in pkts[(n & 16383):(n & 16383) + 256]:
        try:
            s.sendto(p, (dst, 0))
        except OSError:
            pass
    n += 256
print(n)
PY

now_ms() { echo $(($(date +%s%N) / 1000000)); }
cstate() { "$CTL" -s "$WORK/client.sock" status --json 2>/dev/null | jq_py "d['session']['state']" 2>/dev/null; }
ccount() { cstatus | jq_py "d['counters']['$1']"; }
scount() { sstatus | jq_py "d['counters']['$1']"; }

# Restarts the client and sets T_MS (start to established) and HELLOS
# (HELLOs it sent by then), COOKIES (COOKIEs it got).
reconnect() {
	kill "$CLIENT_PID"
	wait "$CLIENT_PID" 2>/dev/null
	rm -f "$WORK/client.sock"
	local t0 t1
	t0=$(now_ms)
	bg "$WORK/client-$1.log" ip netns exec "$NS_C" "$TTT" -c "$WORK/client.yaml"
	CLIENT_PID=$LAST_PID
	local end=$((SECONDS + 30))
	until [ "$(cstate)" = established ]; do
		[ $SECONDS -ge $end ] && break
		sleep 0.02
	done
	t1=$(now_ms)
	T_MS=$((t1 - t0))
	HELLOS=$(ccount hello_sent)
	COOKIES=$(ccount cookies_received)
}

# ---- unloaded: three reconnects, the median is the reference ----
ts=()
hs=()
for i in 1 2 3; do
	reconnect calm$i
	echo "  unloaded reconnect $i: ${T_MS} ms, $HELLOS HELLOs, $COOKIES cookies"
	ts+=("$T_MS")
	hs+=("$HELLOS")
done
base=$(printf '%s\n' "${ts[@]}" | sort -n | sed -n 2p)
base_h=$(printf '%s\n' "${hs[@]}" | sort -n | tail -1)
check "unloaded: connected without cookies" test "$COOKIES" -eq 0
check "unloaded: the server asked no cookie" test "$(scount hello_cookie_sent)" -eq 0

# ---- loaded ----
c0=$(scount hello_cookie_sent)
ok0=$(scount hello_cookie_ok)
bg "$WORK/flood.out" ip netns exec "$NS_W" python3 "$WORK/flood.py" 10.200.0.2 5800 12 "$WORK/flood.ready"
FLOOD_PID=$LAST_PID
wait_for 20 test -e "$WORK/flood.ready"
sleep 2 # the server is under load from here on
c1=$(scount hello_cookie_sent)
check "the flood puts the server under load (COOKIEs $c0 -> $c1)" test $((c1 - c0)) -ge 2000
reconnect flood
c2=$(scount hello_cookie_sent)
ok1=$(scount hello_cookie_ok)
echo "  under the flood: ${T_MS} ms, $HELLOS HELLOs, $COOKIES cookies; server COOKIEs $c0 -> $c2, admitted by cookie $ok0 -> $ok1"
bound=$((3 * base + 1000))
check "reconnect under the flood within 3x unloaded + 1 s (${T_MS} ms <= $bound ms)" test "$T_MS" -le "$bound"
check "the client answered cookies ($COOKIES)" test "$COOKIES" -ge 1
check "the server admitted it by its cookie ($ok0 -> $ok1)" test $((ok1 - ok0)) -ge 1
# 2 links: unloaded HELLOs plus one resend per link per COOKIE.
check "no retry timer was needed ($HELLOS HELLOs <= $base_h + 2)" test "$HELLOS" -le $((base_h + 2))
wait "$FLOOD_PID"
sent=$(cat "$WORK/flood.out")
cookies=$(( $(scount hello_cookie_sent) - c0 ))
echo "  flood: $sent datagrams sent, $cookies COOKIEs answered"
check "the tunnel carries traffic after the flood" wait_for 10 c ping -c1 -W1 10.77.0.1

# ---- version 1 refused with a clear line ----
v0=$(scount hello_old_version)
w python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(bytes([1, 1]) + bytes(158), ("10.200.0.2", 5800))
PY
check "a version-1 HELLO is counted" wait_for 5 bash -c "[ \$($CTL -s $WORK/server.sock status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"counters\"][\"hello_old_version\"])') -gt $v0 ]"
check "and logged with its version" grep -q "HELLO of protocol version 1 from .* refused" "$WORK/server.log"
summary
