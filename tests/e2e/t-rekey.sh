#!/usr/bin/env bash
# In-session rekeying under traffic (topology in lib.sh): the client rekeys
# every second (`rekey: { interval: 1s }`), and across at least 20 rekeys
#   - a sequence-numbered UDP stream each way loses and duplicates nothing
#     (every datagram of both streams arrives exactly once);
#   - a TCP transfer through the tunnel arrives byte for byte (sha256);
#   - no packet fails authentication on either end (a packet sealed under
#     an epoch whose keys were already wiped, or under one not yet
#     installed, would count in rx_auth_fail);
#   - both ends count the same rekeys, and the key epoch follows them.
# A control run of the same stream before any traffic-time rekey gives the
# baseline the counters are compared against (sessions, epochs).
. "$(dirname "$0")/lib.sh"

topo_up
# Two links with different delays: packets of one epoch keep arriving on
# the slow link after the fast one carries the next epoch.
emu_start a 10.101.0.1 7001 --delay 5ms --rate 30mbit --queue 100ms
emu_start b 10.102.0.1 7002 --delay 25ms --rate 30mbit --queue 100ms
REORDER="true, min_hold: 100ms" write_configs roundrobin roundrobin "rekey: { interval: 1s }"
daemons_start || exit 1

crekeys() { cstatus | jq_py "d['session']['rekeys']"; }
srekeys() { sstatus | jq_py "d['sessions'][0]['rekeys']"; }
# epoch and count from one snapshot: the client rekeys every second, so two
# status calls could straddle a switch
epoch_rekeys() { cstatus | jq_py "'%d %d' % (d['session']['key_epoch'], d['session']['rekeys'])"; }
cauth() { cstatus | jq_py "d['session']['counters']['rx_auth_fail']"; }
sauth() { sstatus | jq_py "d['sessions'][0]['counters']['rx_auth_fail']"; }
sid() { cstatus | jq_py "d['session']['id']"; }

sid0=$(sid)
r0=$(crekeys)
check "rekeying runs without traffic (client rekeys $r0 -> later)" wait_for 10 bash -c "[ \$($CTL -s $WORK/client.sock status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"session\"][\"rekeys\"])') -gt $r0 ]"

# ---- traffic across >= 20 rekeys ----
N=30000 # 1000/s each way: 30 s, room for 20+ rekeys at about 1.1 s each
PORT=9400
dd if=/dev/urandom of="$WORK/blob" bs=1M count=24 status=none
want=$(sha256sum "$WORK/blob" | cut -d' ' -f1)
ra=$(crekeys)
sa_=$(srekeys)
bg "$WORK/up.json" ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" recv $PORT 3
r1=$LAST_PID
bg "$WORK/down.json" ip netns exec "$NS_C" python3 "$E2E_DIR/udpseq.py" recv $((PORT + 1)) 3
r2=$LAST_PID
wait_udp "$NS_H" $PORT
wait_udp "$NS_C" $((PORT + 1))
bg /dev/null ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" send 10.77.0.2 $((PORT + 1)) 1000 $N 300
s2=$LAST_PID
bg /dev/null ip netns exec "$NS_C" python3 "$E2E_DIR/udpseq.py" send 10.99.0.2 $PORT 1000 $N 300
s1=$LAST_PID
# A verified TCP transfer in the middle of it, each way one after the other.
sleep 3
bg "$WORK/tcp-up.out" ip netns exec "$NS_H" python3 "$E2E_DIR/tcpxfer.py" recv 9411
t1=$LAST_PID
wait_listen "$NS_H" 9411
tr0=$(crekeys)
c python3 "$E2E_DIR/tcpxfer.py" send 10.99.0.2 9411 "$WORK/blob"
wait "$t1"
bg "$WORK/tcp-down.out" ip netns exec "$NS_C" python3 "$E2E_DIR/tcpxfer.py" recv 9412
t2=$LAST_PID
wait_listen "$NS_C" 9412
h python3 "$E2E_DIR/tcpxfer.py" send 10.77.0.2 9412 "$WORK/blob"
wait "$t2"
tr1=$(crekeys)
wait "$s1" "$s2" "$r1" "$r2"
rb=$(crekeys)
sb=$(srekeys)
echo "  rekeys during the streams: client $ra -> $rb, server $sa_ -> $sb; during TCP: $tr0 -> $tr1"
for dir in up down; do
	u=$(jq_py "d['unique']" <"$WORK/$dir.json" 2>/dev/null || echo 0)
	l=$(jq_py "d['lost']" <"$WORK/$dir.json" 2>/dev/null || echo -1)
	du=$(jq_py "d['duplicates']" <"$WORK/$dir.json" 2>/dev/null || echo -1)
	echo "  $dir: $(cat "$WORK/$dir.json")"
	check "$dir stream: all $N datagrams arrived ($u), none lost ($l)" test "$u" -eq $N -a "$l" -eq 0
	check "$dir stream: no duplicates ($du)" test "$du" -eq 0
done
check "at least 20 rekeys during the streams (client $ra -> $rb)" test $((rb - ra)) -ge 20
check "the server switched as often ($sa_ -> $sb)" test $((sb - sa_)) -ge 20
check "TCP transfers spanned rekeys ($tr0 -> $tr1)" test $((tr1 - tr0)) -ge 2
read -r got n <"$WORK/tcp-up.out"
check "TCP upstream: sha256 matches ($n bytes)" test "$got" = "$want"
read -r got n <"$WORK/tcp-down.out"
check "TCP downstream: sha256 matches ($n bytes)" test "$got" = "$want"
check "client: no packet failed authentication ($(cauth))" test "$(cauth)" -eq 0
check "server: no packet failed authentication ($(sauth))" test "$(sauth)" -eq 0
check "same session throughout (rekeys are not reconnects)" test "$(sid)" = "$sid0"
read -r ep rk <<<"$(epoch_rekeys)"
check "key epoch follows the rekey count ($ep, $rk)" test "${ep:-x}" = "${rk:-y}"
# Both ends agree within the one rekey that may be half done.
c1=$(crekeys) s1_=$(srekeys)
check "client and server count the same rekeys ($c1, $s1_)" test $((c1 - s1_)) -le 1 -a $((s1_ - c1)) -le 1
check "the client logged the epochs" grep -q "key epoch" "$WORK/client.log"
check "the server logged the confirmations" grep -q "confirmed" "$WORK/server.log"
check "no ERROR in either log" bash -c "! grep -qi 'error' $WORK/client.log $WORK/server.log"
summary
