#!/usr/bin/env bash
# A gap still queued behind the sender's pacer is not given up while that
# link keeps delivering (reorder/lagging.h, docs/link-model.md):
#
#   client --[a: 50 Mbit/s, 10 ms; rate: 20mbit]--+
#          --[b: 50 Mbit/s, 10 ms; rate: 4mbit ]--+-- server -- host
#
# roundrobin gives each link every other packet of a burst; b's pacer sends
# its half at 4 Mbit/s, a's at 20, so b's packets arrive up to ~90 ms after
# the a packets sent next to them. Both links have the same delay, so the
# receiver's hold, sized from the links' delays, stays near its floor
# (5 ms): without the rule the buffer gives those gaps up and b's packets
# come late, out of order. Checks, upstream (the server's buffer), on one
# burst:
#  - b carried part of the burst, and its gaps waited longer than the hold
#    the burst began with (so that hold alone would have expired them);
#  - the buffer held them for the lagging link (lagging_waits grew), gave
#    up no gap and refused nothing as late; the burst arrives complete;
#  - status shows the new counters (the metrics: tests/unit/test_metrics.c).
. "$(dirname "$0")/lib.sh"
[ -x /usr/bin/python3 ] && PATH=/usr/bin:$PATH

N=150     # packets in the burst
SIZE=1000 # bytes of UDP payload

ro() { sstatus | jq_py "json.dumps(d['sessions'][0]['reorder'])"; }
field() { echo "$1" | jq_py "d$2"; }
b_fwd() { emu_ctl b stats | jq_py "d['to_server']['fwd_pkts']"; }

echo "== a lagging link: roundrobin bursts over 20 + 4 Mbit/s pacers, equal delays"
topo_up
emu_start a 10.101.0.1 7001 --delay 10ms --rate 50mbit --queue 100ms
emu_start b 10.102.0.1 7002 --delay 10ms --rate 50mbit --queue 100ms
LINK_A="rate: 20mbit" LINK_B="rate: 4mbit" REORDER="true, min_hold: 5ms" \
	write_configs roundrobin roundrobin
daemons_start || { bad "daemons start"; summary; exit 1; }
sleep 2 # both links measured by the prober, the pacers at their rate

st0=$(ro)
check "status shows lagging_waits and recovery_waits" \
	test "$(field "$st0" "['lagging_waits'] >= 0 and d['recovery_waits'] >= 0")" = True
# One burst: the hold is still at its floor when it begins (the buffer
# raises it from the waits it sees afterwards, so a second burst would not
# test the rule).
h0=$(field "$st0" "['hold_ms']")
b0=$(b_fwd)
bg "$WORK/udp.out" ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" recv 9201 1
rp=$LAST_PID
wait_udp "$NS_H" 9201
c python3 "$E2E_DIR/udpseq.py" send 10.99.0.2 9201 100000 $N $SIZE
wait "$rp"
u=$(cat "$WORK/udp.out")
echo "  burst: $u"
b1=$(b_fwd)
st1=$(ro)
echo "  server reorder: $st1"
d() { echo $(($(field "$st1" "['$1']") - $(field "$st0" "['$1']"))); }
check "b carried part of the burst ($((b1 - b0)) packets of $N)" test $((b1 - b0)) -gt $((N / 4))
check "gaps waited longer than the hold the burst began with ($(field "$st1" "['wait_ms']") ms against $h0 ms)" \
	python3 -c "import sys; sys.exit(0 if $(field "$st1" "['wait_ms']") > 2 * $h0 else 1)"
check "the buffer held gaps for the lagging link ($(d lagging_waits))" test "$(d lagging_waits)" -gt 0
check "it gave up no gap ($(d expired) expired, $(d lost) lost)" test "$(d expired)" -eq 0 -a "$(d lost)" -eq 0
check "and refused nothing as late ($(d late))" test "$(d late)" -eq 0
check "the burst arrived complete ($(field "$u" "['lost']") lost)" test "$(field "$u" "['lost']")" -eq 0
summary
