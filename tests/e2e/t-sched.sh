#!/usr/bin/env bash
# The scheduler framework end to end (topology in lib.sh), both directions:
#  - 100 hot swaps each way (upstream on the client, downstream carried to the
#    server) cycling the four shipped plugins while a sequenced UDP stream
#    runs each way: not one packet lost or duplicated;
#  - weighted with weights a=3 b=1 gives a 3:1 split of the per-link tx
#    counters (within 5%) both ways;
#  - SIGHUP with a changed scheduler swaps, a bad YAML changes nothing.
# Refused plugins and the third-party example: t-sched-plugins.sh.
# Each daemon gets its own plugin dir (copies), so drop-ins never touch the
# tree's plugins.d/ and the client can have a plugin the server lacks.
. "$(dirname "$0")/lib.sh"

echo "== scheduler hot swap under load, weighted policy, SIGHUP reload"
sched_setup || { bad "daemons start"; summary; exit 1; }

# ---- 100 swaps each way under a sequenced stream each way ----
COUNT=40000 RATE=2000
bg "$WORK/seq-up.json" ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" recv 9100 3
rup=$LAST_PID
bg "$WORK/seq-down.json" ip netns exec "$NS_C" python3 "$E2E_DIR/udpseq.py" recv 9101 3
rdown=$LAST_PID
sleep 0.5
bg "$WORK/send-up.log" ip netns exec "$NS_C" python3 "$E2E_DIR/udpseq.py" send 10.99.0.2 9100 $RATE $COUNT
sup=$LAST_PID
bg "$WORK/send-down.log" ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" send 10.77.0.2 9101 $RATE $COUNT
sdown=$LAST_PID

plugins=(roundrobin weighted lowest-rtt metered-overflow)
ok_up=0 ok_down=0 swap_err=""
for i in $(seq 0 99); do
	p=${plugins[$((i % 4))]}
	if "${CC_[@]}" scheduler set upstream "$p" >/dev/null 2>>"$WORK/swap.err"; then
		ok_up=$((ok_up + 1))
	fi
	q=${plugins[$(((i + 1) % 4))]}
	if "${CC_[@]}" scheduler set downstream "$q" >/dev/null 2>>"$WORK/swap.err"; then
		ok_down=$((ok_down + 1))
	fi
done
stream_running=0
kill -0 "$sup" 2>/dev/null && kill -0 "$sdown" 2>/dev/null && stream_running=1
wait "$sup" "$sdown" "$rup" "$rdown"
check "100 upstream swaps accepted ($ok_up)" test "$ok_up" -eq 100
check "100 downstream swaps accepted by the server ($ok_down)" test "$ok_down" -eq 100
[ -s "$WORK/swap.err" ] && head -3 "$WORK/swap.err"
check "the swaps all happened while both streams ran" test "$stream_running" -eq 1
echo "  client->host: $(cat "$WORK/seq-up.json")"
echo "  server reorder: $(sstatus | jq_py "d['sessions'][0]['reorder']")"
echo "  client reorder: $(cstatus | jq_py "d['reorder']")"
echo "  host->client: $(cat "$WORK/seq-down.json")"
for d in up down; do
	u=$(jq_py "d['unique']" <"$WORK/seq-$d.json" 2>/dev/null || echo 0)
	dup=$(jq_py "d['duplicates']" <"$WORK/seq-$d.json" 2>/dev/null || echo -1)
	check "stream $d: all $COUNT packets arrived across the swaps ($u)" test "$u" -eq "$COUNT"
	check "stream $d: no duplicates ($dup)" test "$dup" -eq 0
done
check "client status names the last upstream plugin (metered-overflow)" \
	test "$(up_plugin)" = metered-overflow
check "server runs the last downstream plugin (roundrobin)" \
	test "$(down_plugin_server)" = roundrobin
check "client status names the server's downstream plugin" \
	test "$(down_plugin_client)" = roundrobin

# ---- weighted 3:1 takes effect both ways ----
"${CC_[@]}" scheduler set upstream weighted weights.a=3 weights.b=1 >/dev/null
"${CC_[@]}" scheduler set downstream weighted weights.a=3 weights.b=1 >/dev/null
# Counted in bytes over 1000-byte datagrams, so probes and control
# messages (the same on both links) do not blur the ratio.
read -r ca0 cb0 <<<"$(tx_pair client tx_bytes)"
read -r sa0 sb0 <<<"$(tx_pair server tx_bytes)"
N=20000
bg "$WORK/w-up.json" ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" recv 9102 2
r1=$LAST_PID
bg "$WORK/w-down.json" ip netns exec "$NS_C" python3 "$E2E_DIR/udpseq.py" recv 9103 2
r2=$LAST_PID
wait_udp "$NS_H" 9102
wait_udp "$NS_C" 9103
bg /dev/null ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" send 10.77.0.2 9103 4000 $N 1000
s2=$LAST_PID
c python3 "$E2E_DIR/udpseq.py" send 10.99.0.2 9102 4000 $N 1000
wait "$s2" "$r1" "$r2"
read -r ca1 cb1 <<<"$(tx_pair client tx_bytes)"
read -r sa1 sb1 <<<"$(tx_pair server tx_bytes)"
ratio() { python3 -c "print(round(($2-$1)/max(1,($4-$3)),3))"; }
within5() { python3 -c "import sys; sys.exit(0 if abs($1-3)/3 <= 0.05 else 1)"; }
rc_=$(ratio "$ca0" "$ca1" "$cb0" "$cb1")
rs_=$(ratio "$sa0" "$sa1" "$sb0" "$sb1")
echo "  weighted: upstream a:b = $((ca1 - ca0)):$((cb1 - cb0)) = $rc_, downstream $((sa1 - sa0)):$((sb1 - sb0)) = $rs_"
check "weighted upstream gives 3:1 within 5% ($rc_)" within5 "$rc_"
check "weighted downstream gives 3:1 within 5% ($rs_)" within5 "$rs_"

# ---- SIGHUP: a changed scheduler swaps, a bad file changes nothing ----
cp "$WORK/client.yaml" "$WORK/client.yaml.orig"
sed -i "s|upstream: { plugin: roundrobin }|upstream: { plugin: lowest-rtt }|" "$WORK/client.yaml"
kill -HUP "$CLIENT_PID"
check "SIGHUP with upstream lowest-rtt in the YAML swaps to it" wait_for 5 up_is lowest-rtt
cp "$WORK/client.yaml" "$WORK/client.yaml.good"
sed -i "s|upstream: { plugin: lowest-rtt }|upstream: { plugin: roundrobin, bogus: [ |" "$WORK/client.yaml"
kill -HUP "$CLIENT_PID"
check "a bad YAML on SIGHUP is refused and logged" wait_for 5 grep -q "reload refused" "$WORK/client.log"
check "... the client still runs" kill -0 "$CLIENT_PID"
check "... upstream is still lowest-rtt" test "$(up_plugin)" = lowest-rtt
check "... the tunnel still works" c ping -q -c 2 -i 0.2 -W 2 10.99.0.2
cp "$WORK/client.yaml.good" "$WORK/client.yaml"

summary
