#!/usr/bin/env bash
# IPv6 as the links' transport and inside the tunnel, NAT rebinding, and the
# client's default_route (routes pinned, then restored exactly on exit).
#
#   C: ca fd01::2 --- W: wa fd01::1 [emu A [fd01::1]:7001] --+
#      cb fd02::2 ---    wb fd02::1 [emu B [fd02::1]:7002] --+-- ws fd20::1 --- S: sw fd20::2 :5800
#   tun fd77::2/64 (+10.77.0.2/24)                               tun fd77::1/64     sh fd99::1 --- H: hs fd99::2
. "$(dirname "$0")/lib.sh"

echo "== IPv6 transport and inner traffic, NAT rebinding, default route (offload $OFFLOAD)"
topo_up
addr6() { ip -n "$1" addr add "$3" dev "$2" nodad; }
addr6 "$NS_C" ca fd01::2/64
addr6 "$NS_W" wa fd01::1/64
addr6 "$NS_C" cb fd02::2/64
addr6 "$NS_W" wb fd02::1/64
addr6 "$NS_W" ws fd20::1/64
addr6 "$NS_S" sw fd20::2/64
addr6 "$NS_S" sh fd99::1/64
addr6 "$NS_H" hs fd99::2/64
ip netns exec "$NS_S" sysctl -qw net.ipv6.conf.all.forwarding=1
ip -n "$NS_H" -6 route add default via fd99::1

bg "$WORK/emu-a.log" ip netns exec "$NS_W" "$EMU_BIN" --listen "[fd01::1]:7001" \
	--forward "[fd20::2]:5800" --bind fd20::1 --control "$WORK/emu-a.sock" --delay 5ms
EMU_A=$LAST_PID
bg "$WORK/emu-b.log" ip netns exec "$NS_W" "$EMU_BIN" --listen "[fd02::1]:7002" \
	--forward "[fd20::2]:5800" --bind fd20::1 --control "$WORK/emu-b.sock" --delay 10ms
wait_for 5 test -S "$WORK/emu-a.sock"
wait_for 5 test -S "$WORK/emu-b.sock"

"$CTL" genkey "$WORK/client.key" >/dev/null
cp -p "$WORK/client.key" "$WORK/server-client.key"
cat >"$WORK/server.yaml" <<EOF
role: server
listen: { address: "::", port: 5800 }
cipher: chacha20-poly1305
tun: { name: ttt0, address: 10.77.0.1/24, address6: "fd77::1/64", offload: $OFFLOAD }
clients:
  - { name: laptop, key: $WORK/server-client.key, address: 10.77.0.2, address6: "fd77::2" }
plugin_dir: $TOP/plugins.d
control: { socket: $WORK/server.sock }
EOF
cat >"$WORK/client.yaml" <<EOF
role: client
server: { address: "fd20::2", port: 5800 }
cipher: chacha20-poly1305
key: $WORK/client.key
tun: { name: ttt0, address: 10.77.0.2/24, address6: "fd77::2/64", offload: $OFFLOAD }
default_route: true
links:
  - { name: a, interface: ca, source: "fd01::2", peer: "[fd01::1]:7001" }
  - { name: b, interface: cb, source: "fd02::2", peer: "[fd02::1]:7002" }
plugin_dir: $TOP/plugins.d
control: { socket: $WORK/client.sock }
EOF
routes_before=$(ip -n "$NS_C" -4 route; ip -n "$NS_C" -6 route | grep -v '^fe80')

bg "$WORK/server.log" ip netns exec "$NS_S" "$TTT" -c "$WORK/server.yaml"
wait_for 5 test -S "$WORK/server.sock"
bg "$WORK/client.log" ip netns exec "$NS_C" "$TTT" -c "$WORK/client.yaml"
CLIENT_PID=$LAST_PID
wait_for 5 test -S "$WORK/client.sock"

check "IPv6 ping through the tunnel to the server" wait_for 10 c ping -6 -c1 -W1 fd77::1
check "IPv6 ping to the host behind the server (default route via tun)" c ping -6 -c 3 -i 0.2 -W 2 fd99::2
check "IPv4 ping inside the tunnel over IPv6 links" c ping -c 3 -i 0.2 -W 2 10.77.0.1
check "session runs ChaCha20-Poly1305 as both YAMLs ask" \
	test "$(cstatus | jq_py "d['session']['cipher']")" = chacha20-poly1305
mtu=$(cstatus | jq_py "d['tun']['mtu']")
check "tun MTU over IPv6 links is 1500 - 40 - 8 - 48 = 1404 (got $mtu)" test "$mtu" -eq 1404
check "DF IPv6 ping of exactly the tun MTU passes" c ping -6 -c 2 -i 0.2 -W 2 -M do -s $((mtu - 48)) fd99::2

# default_route: /1 routes via ttt0 and pinned host routes to the link peers.
r=$(ip -n "$NS_C" -6 route)
check "default_route added ::/1 and 8000::/1 via ttt0" bash -c "echo '$r' | grep -q '^::/1 dev ttt0' && echo '$r' | grep -q '^8000::/1 dev ttt0'"
check "default_route pinned the route to link a's peer" bash -c "echo '$r' | grep -q '^fd01::1 dev ca'"
r4=$(ip -n "$NS_C" -4 route)
check "default_route added 0.0.0.0/1 via ttt0" bash -c "echo '$r4' | grep -q '^0.0.0.0/1 dev ttt0'"

# 10 MB over IPv6 inside the tunnel, bytes verified.
head -c 10000000 /dev/urandom >"$WORK/blob"
want=$(sha256sum "$WORK/blob" | cut -d' ' -f1)
bg "$WORK/recv.out" ip netns exec "$NS_H" python3 "$E2E_DIR/tcpxfer.py" recv 9003
rp=$LAST_PID
wait_listen "$NS_H" 9003
c python3 "$E2E_DIR/tcpxfer.py" send fd99::2 9003 "$WORK/blob"
wait "$rp"
check "10 MB IPv6 TCP transfer: sha256 matches" test "$(cut -d' ' -f1 "$WORK/recv.out")" = "$want"
offload_checks up

# NAT rebinding: restart emulator A; its new upstream socket has a new port,
# and the server must follow the link to it.
peer_before=$(link_field server a peer)
kill "$EMU_A"
wait "$EMU_A" 2>/dev/null
bg "$WORK/emu-a2.log" ip netns exec "$NS_W" "$EMU_BIN" --listen "[fd01::1]:7001" \
	--forward "[fd20::2]:5800" --bind fd20::1 --control "$WORK/emu-a2.sock" --delay 5ms
wait_for 5 test -S "$WORK/emu-a2.sock"
moved() { [ "$(link_field server a peer)" != "$peer_before" ]; }
check "server follows link a to its new address ($peer_before -> new)" wait_for 10 moved
echo "  link a peer now: $(link_field server a peer)"
tx0=$(link_field server a tx_packets)
c ping -6 -c 20 -i 0.05 -W 1 fd99::2 >/dev/null
check "server sends on link a again after the rebinding" test "$(link_field server a tx_packets)" -gt "$tx0"
check "server logged the move" grep -q "link a moved to" "$WORK/server.log"

# Shutdown restores the routing table exactly.
kill -TERM "$CLIENT_PID"
wait_for 5 bash -c "! kill -0 $CLIENT_PID 2>/dev/null"
routes_after=$(ip -n "$NS_C" -4 route; ip -n "$NS_C" -6 route | grep -v '^fe80')
check "routes restored exactly on shutdown" test "$routes_before" = "$routes_after"
[ "$routes_before" = "$routes_after" ] || diff <(echo "$routes_before") <(echo "$routes_after")

summary
