#!/usr/bin/env bash
# The client's downstream choice reaches the server with its options
# (topology in lib.sh; the server's own YAML says roundrobin throughout):
#  - at session start: client YAML `downstream: weighted, weights a:3 b:1`
#    gives a 3:1 split of the server's per-link tx bytes (within 5%), which
#    equal weights (what the HELLO alone would give) cannot;
#  - SIGHUP with weights a:1 b:3 is carried to the server: 1:3; a SIGHUP
#    that changes only upstream sends nothing; one naming a plugin the
#    server lacks is refused and the server keeps what it ran;
#  - after the server restarts, the new session gets the client's current
#    options again.
. "$(dirname "$0")/lib.sh"

echo "== downstream options from the client's YAML, at session start and on SIGHUP"
topo_up
emu_start a 10.101.0.1 7001 --delay 5ms --rate 200mbit --queue 100ms
emu_start b 10.102.0.1 7002 --delay 5ms --rate 200mbit --queue 100ms
# Equal rates: weights derived from rates would be 1:1, never 3:1.
LINK_A="rate: 100mbit" LINK_B="rate: 100mbit" write_configs roundrobin roundrobin
sed -i "s|downstream: { plugin: roundrobin }|downstream: { plugin: weighted, weights: { a: 3, b: 1 } }|" \
	"$WORK/client.yaml"
grep -q "weights: { a: 3, b: 1 }" "$WORK/client.yaml" || bad "client YAML has the weights"
daemons_start || { bad "daemons start"; summary; exit 1; }

server_sched() { sstatus | jq_py "d['sessions'][0]['scheduler']['plugin']"; }
# The server's weighted instance, as "a:WEIGHT b:WEIGHT" from its dump.
server_weights() {
	sstatus | jq_py "' '.join('%s:%s' % (w['name'], w['weight']) for w in d['sessions'][0]['scheduler']['state']['links'])"
}
weights_are() { test "$(server_weights)" = "$1"; }
last_swap() { cstatus | jq_py "d['scheduler']['downstream'].get('last_swap', {}).get('$1', '')"; }
swap_state_is() { test "$(last_swap state)" = "$1"; }
tx_pair() { echo "$(link_field server a tx_bytes) $(link_field server b tx_bytes)"; }
# Sends N 1000-byte datagrams host -> client and prints the server's a/b
# tx byte ratio over them (probes are the same on both links).
down_ratio() {
	local a0 b0 a1 b1 r
	read -r a0 b0 <<<"$(tx_pair)"
	bg /dev/null ip netns exec "$NS_C" python3 "$E2E_DIR/udpseq.py" recv 9200 2
	r=$LAST_PID
	wait_udp "$NS_C" 9200
	h python3 "$E2E_DIR/udpseq.py" send 10.77.0.2 9200 4000 16000 1000
	wait "$r"
	read -r a1 b1 <<<"$(tx_pair)"
	echo "  downstream a:b = $((a1 - a0)):$((b1 - b0))" >&2
	python3 -c "print(round(($a1-$a0)/max(1,($b1-$b0)),3))"
}
within5() { python3 -c "import sys; sys.exit(0 if abs($1-$2)/$2 <= 0.05 else 1)"; }

# ---- session start: the options follow the plugin name ----
check "the server runs the client's downstream plugin (weighted)" wait_for 5 test "$(server_sched)" = weighted
check "... with the client's weights a:3 b:1" wait_for 5 weights_are "a:3 b:1"
check "... the client saw the server accept them" wait_for 5 swap_state_is ok
check "(the server's YAML has no weights of its own)" bash -c "! grep -q weights '$WORK/server.yaml'"
r=$(down_ratio)
check "server tx bytes a:b is 3:1 within 5% ($r)" within5 "$r" 3

# ---- SIGHUP carries a changed downstream ----
req0=$(last_swap req)
sed -i "s|weights: { a: 3, b: 1 }|weights: { a: 1, b: 3 }|" "$WORK/client.yaml"
kill -HUP "$CLIENT_PID"
check "SIGHUP with weights a:1 b:3: the server takes them" wait_for 5 weights_are "a:1 b:3"
req_moved() { [ "$(last_swap req)" -gt "$req0" ] && swap_state_is ok; }
check "... a new request ($req0 -> later), accepted by the server" wait_for 5 req_moved
r=$(down_ratio)
check "server tx bytes a:b is 1:3 within 5% ($r)" within5 "$r" 0.3333
check "client status names weighted downstream" \
	test "$(cstatus | jq_py "d['scheduler']['downstream']['plugin']")" = weighted

req1=$(last_swap req)
sed -i "s|upstream: { plugin: roundrobin }|upstream: { plugin: lowest-rtt }|" "$WORK/client.yaml"
n0=$(grep -c "reloaded" "$WORK/client.log")
kill -HUP "$CLIENT_PID"
wait_for 5 bash -c "[ \$(grep -c reloaded '$WORK/client.log') -gt $n0 ]"
check "SIGHUP changing only upstream: upstream swapped" \
	test "$(cstatus | jq_py "d['scheduler']['upstream']['plugin']")" = lowest-rtt
check "... and no downstream request went out ($req1 -> $(last_swap req))" test "$(last_swap req)" = "$req1"

sed -i "s|downstream: { plugin: weighted, weights: { a: 1, b: 3 } }|downstream: { plugin: nosuch }|" \
	"$WORK/client.yaml"
kill -HUP "$CLIENT_PID"
check "SIGHUP with a downstream the server lacks: refused" wait_for 6 swap_state_is refused
echo "  refusal: $(last_swap error)"
check "... the server still runs weighted a:1 b:3" weights_are "a:1 b:3"
check "... the client still names weighted" \
	test "$(cstatus | jq_py "d['scheduler']['downstream']['plugin']")" = weighted
check "... the tunnel works" c ping -q -c 2 -i 0.2 -W 2 10.99.0.2 >/dev/null
sed -i "s|downstream: { plugin: nosuch }|downstream: { plugin: weighted, weights: { a: 1, b: 3 } }|" \
	"$WORK/client.yaml"

# ---- a new session (server restarted) gets the options again ----
sid0=$(cstatus | jq_py "d['session']['id']")
kill "$SERVER_PID"
wait_for 5 bash -c "! kill -0 $SERVER_PID 2>/dev/null"
bg "$WORK/server2.log" ip netns exec "$NS_S" "$TTT" -c "$WORK/server.yaml"
SERVER_PID=$LAST_PID
check "server restarted" wait_for 5 test -S "$WORK/server.sock"
new_session() {
	local st
	st=$(cstatus) || return 1
	[ "$(echo "$st" | jq_py "d['session']['state']")" = established ] &&
		[ "$(echo "$st" | jq_py "d['session']['id']")" != "$sid0" ]
}
check "the client opened a new session" wait_for 20 new_session
check "the new session runs weighted a:1 b:3 again" wait_for 5 weights_are "a:1 b:3"

summary
