#!/usr/bin/env bash
# The bonded tunnel end to end over two emulated links (see lib.sh for the
# topology): ping, a don't-fragment ping of exactly the tun MTU, a 50 MB TCP
# transfer each way with its sha256 checked, iperf3 both ways, both links
# carrying traffic, and a bad config refused with status 2 leaving nothing.
. "$(dirname "$0")/lib.sh"

echo "== basic tunnel (crypto $CRYPTO, offload $OFFLOAD)"
topo_up
emu_start a 10.101.0.1 7001 --delay 5ms --rate 200mbit --queue 50ms
emu_start b 10.102.0.1 7002 --delay 10ms --rate 200mbit --queue 50ms
write_configs roundrobin roundrobin
daemons_start || { bad "daemons start"; summary; exit 1; }

check "ping through the tunnel to the server" c ping -c 5 -i 0.2 -W 2 10.77.0.1
check "ping to the host behind the server" c ping -c 5 -i 0.2 -W 2 10.99.0.2

check "status reports the VERSION file's version" \
	test "$(cstatus | jq_py "d['version']")" = "$(cat "$TOP/VERSION")"

mtu=$(cstatus | jq_py "d['tun']['mtu']")
smtu=$(sstatus | jq_py "d['tun']['mtu']")
echo "  tun mtu: client $mtu, server $smtu"
# 1500 - IPv4 20 - UDP 8 - header 16 - data header 16 - tag 16 (no tag: none)
tag=16; [ "$CRYPTO" = none ] && tag=0
check "tun MTU is the link MTU minus the real overhead ($((1500 - 60 - tag)))" \
	test "$mtu" -eq $((1500 - 20 - 8 - 16 - 16 - tag))
# A full-size packet must pass: DF ping whose IP packet is exactly the MTU.
check "DF ping of exactly the tun MTU ($mtu bytes) passes" \
	c ping -c 3 -i 0.2 -W 2 -M do -s $((mtu - 28)) 10.99.0.2
check "DF ping one byte over the tun MTU is refused locally" \
	bash -c "! ip netns exec $NS_C ping -c 1 -W 1 -M do -s $((mtu - 27)) 10.99.0.2 >/dev/null 2>&1"

# 50 MB each way, bytes verified.
head -c 50000000 /dev/urandom >"$WORK/blob"
want=$(sha256sum "$WORK/blob" | cut -d' ' -f1)
bg "$WORK/recv-up.out" ip netns exec "$NS_H" python3 "$E2E_DIR/tcpxfer.py" recv 9001
rp=$LAST_PID
wait_listen "$NS_H" 9001
c python3 "$E2E_DIR/tcpxfer.py" send 10.99.0.2 9001 "$WORK/blob"
wait "$rp"
got=$(cut -d' ' -f1 "$WORK/recv-up.out")
check "50 MB client->host transfer: sha256 matches" test "$got" = "$want"
[ "$got" = "$want" ] || { echo "  receiver said: $(cat "$WORK/recv-up.out")"; tail -5 "$WORK/client.log" "$WORK/server.log"; }

bg "$WORK/recv-down.out" ip netns exec "$NS_C" python3 "$E2E_DIR/tcpxfer.py" recv 9002
rp=$LAST_PID
wait_listen "$NS_C" 9002
h python3 "$E2E_DIR/tcpxfer.py" send 10.77.0.2 9002 "$WORK/blob"
wait "$rp"
got=$(cut -d' ' -f1 "$WORK/recv-down.out")
check "50 MB host->client transfer: sha256 matches" test "$got" = "$want"
[ "$got" = "$want" ] || { echo "  receiver said: $(cat "$WORK/recv-down.out")"; tail -5 "$WORK/client.log" "$WORK/server.log"; }

# iperf3 both ways.
bg "$WORK/iperf-s.log" ip netns exec "$NS_H" iperf3 -s -1 -p 5201
wait_listen "$NS_H" 5201
c iperf3 -c 10.99.0.2 -p 5201 -t 3 -J >"$WORK/iperf-up.json"
up=$(jq_py "round(d['end']['sum_received']['bits_per_second']/1e6,1)" <"$WORK/iperf-up.json")
bg "$WORK/iperf-s2.log" ip netns exec "$NS_H" iperf3 -s -1 -p 5202
wait_listen "$NS_H" 5202
c iperf3 -c 10.99.0.2 -p 5202 -t 3 -R -J >"$WORK/iperf-down.json"
down=$(jq_py "round(d['end']['sum_received']['bits_per_second']/1e6,1)" <"$WORK/iperf-down.json")
echo "  iperf3 through the tunnel: up $up Mbit/s, down $down Mbit/s"
check "iperf3 upstream moved data" python3 -c "import sys; sys.exit(0 if $up > 1 else 1)"
check "iperf3 downstream moved data" python3 -c "import sys; sys.exit(0 if $down > 1 else 1)"

offload_checks both

# Both links carried traffic, both ways (round robin over two up links).
for side in client server; do
	for l in a b; do
		tx=$(link_field $side $l tx_packets)
		check "$side link $l sent packets ($tx)" test "$tx" -gt 1000
	done
done

# Status shows what it should.
st=$(cstatus)
check "client status: session established" test "$(echo "$st" | jq_py "d['session']['state']")" = established
# cipher: auto picks AES-256-GCM where the CPU has AES (both ends here).
want=chacha20-poly1305
grep -qw aes /proc/cpuinfo && want=aes-256-gcm
check "client status: cipher $want agreed in the handshake" \
	test "$(echo "$st" | jq_py "d['session']['cipher']")" = "$want"
check "client status: upstream scheduler is roundrobin" \
	test "$(echo "$st" | jq_py "d['scheduler']['upstream']['plugin']")" = roundrobin
check "tuntunctl status prints a table" bash -c "'$CTL' -s '$WORK/client.sock' status | grep -q 'a '"

# Clean shutdown removes the socket file and the tun.
kill -TERM "$CLIENT_PID"
wait_for 5 bash -c "! kill -0 $CLIENT_PID 2>/dev/null"
check "client exits on SIGTERM" bash -c "! kill -0 $CLIENT_PID 2>/dev/null"
check "client control socket removed" test ! -e "$WORK/client.sock"
check "client tun removed" bash -c "! ip -n $NS_C link show ttt0 >/dev/null 2>&1"

# A bad config: exit 2, nothing created.
printf 'role: client\nlinks: 7\n' >"$WORK/bad.yaml"
c "$TTT" -c "$WORK/bad.yaml" >"$WORK/bad.out" 2>&1
rc=$?
check "bad config exits with status 2 (got $rc)" test "$rc" -eq 2
check "bad config error names file:line:col" grep -q "bad.yaml:2:" "$WORK/bad.out"
check "bad config left no tun behind" bash -c "! ip -n $NS_C link show ttt0 >/dev/null 2>&1"
check "tuntuntun -n accepts the good config" c "$TTT" -n -c "$WORK/client.yaml"

summary
