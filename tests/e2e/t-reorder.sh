#!/usr/bin/env bash
# The reorder buffer end to end, over links of different latency (see lib.sh
# for the topology):
#
#   client --[a: 30 Mbit/s, 15 ms]--+
#          --[b: 10 Mbit/s, 40 ms]--+-- server -- host
#
# The weighted scheduler spreads every flow 3:1 over both links, so a packet
# sent on b arrives ~25 ms after the a packets sent right after it: without
# the buffer about a quarter of a stream arrives out of order. Checks:
#  - a UDP stream with sequence numbers (1000 pkt/s, far below the bond's
#    capacity) arrives with zero reordering, upstream (server's buffer) and
#    downstream (client's buffer), and nothing is dropped as late;
#  - the buffer really worked (held > 0) and, with no loss, gave up on
#    almost no gap (expired holds under 1% of held: the hold is long
#    enough, not too short for the links' delay spread);
#  - with loss on link b, two streams still arrive in order, and what the
#    far end misses is exactly what the emulator dropped: a loss costs a
#    hold, never an extra drop of packets around it;
#  - status shows every reorder counter and the current hold time;
#  - with `reorder: { enabled: false }` the same stream arrives heavily
#    reordered (so the first check can fail).
# iperf3 TCP throughput with the buffer on and off is printed, not checked.
# The two-flow property (a gap in one flow never holds another) is pinned by
# tests/unit/test_reorder.c.
. "$(dirname "$0")/lib.sh"
# The system python: a version-manager shim in front of it costs up to a
# second per call on a loaded machine, and this test calls it often.
[ -x /usr/bin/python3 ] && PATH=/usr/bin:$PATH

N=2000    # packets per stream
RATE=1000 # packets per second
SIZE=1000 # bytes of UDP payload

# udp_stream FROM_NS_FN TO_NS PORT DEST_IP: one stream, prints its JSON.
udp_stream() {
	local from=$1 to=$2 port=$3 dst=$4
	bg "$WORK/udp-$port.out" ip netns exec "$to" python3 "$E2E_DIR/udpseq.py" recv "$port" 1
	local rp=$LAST_PID
	wait_udp "$to" "$port"
	$from python3 "$E2E_DIR/udpseq.py" send "$dst" "$port" $RATE $N $SIZE
	wait "$rp"
	cat "$WORK/udp-$port.out"
}
field() { echo "$1" | jq_py "d$2"; }
# load PREFIX JSON: sets PREFIX_key=value for every top-level key.
load() {
	eval "$(echo "$2" | python3 -c "import json,sys
for k, v in json.load(sys.stdin).items(): print('$1_%s=%s' % (k, v))")"
}
ro() { # ro client|server: the reorder object of that side's status
	if [ "$1" = client ]; then cstatus | jq_py "json.dumps(d['reorder'])"; else
		sstatus | jq_py "json.dumps(d['sessions'][0]['reorder'])"; fi
}
emu_b_drops() { emu_ctl b stats | jq_py "d['to_server']['drop_loss']"; }
iperf_print() { # iperf_print LABEL PORT
	bg "$WORK/iperf-s-$2.log" ip netns exec "$NS_H" iperf3 -s -1 -p "$2"
	sleep 0.3
	c iperf3 -c 10.99.0.2 -p "$2" -t 5 -J >"$WORK/iperf-$2.json" 2>&1
	local mb rt
	mb=$(jq_py "round(d['end']['sum_received']['bits_per_second']/1e6,1)" <"$WORK/iperf-$2.json" 2>/dev/null)
	rt=$(jq_py "d['end']['sum_sent'].get('retransmits', '?')" <"$WORK/iperf-$2.json" 2>/dev/null)
	echo "  iperf3 TCP upstream, $1: ${mb:-error} Mbit/s (${rt:-?} retransmits; links sum to 40 Mbit/s)"
}

T0=$SECONDS
echo "== reorder buffer over 30 Mbit/s 15 ms + 10 Mbit/s 40 ms (weighted 3:1)"
topo_up
emu_start a 10.101.0.1 7001 --delay 15ms --rate 30mbit --queue 50ms
emu_start b 10.102.0.1 7002 --delay 40ms --rate 10mbit --queue 50ms
# A 3% loss must not make the prober call b degraded (the scheduler would
# stop using it, and the loss phase would test nothing).
# min_hold 100 ms: the adaptive hold (delay difference + measured waits)
# sits near 45 ms here; the floor keeps a CPU stall of this shared 2-core
# machine (tens of ms) from turning a reordered packet into a late one.
# Loss recovery off: this test pins what the buffer does with a gap that
# stays a gap (t-lossrec.sh tests the recovery).
RECOVERY="{ enabled: false }" \
PROBE="{ interval: 100ms, timeout: 1s, degraded_loss: 50% }" REORDER="true, min_hold: 100ms" \
	LINK_A="rate: 30mbit" LINK_B="rate: 10mbit" write_configs weighted weighted
daemons_start || { bad "daemons start"; summary; exit 1; }
# The hold starts from the prober's delay figures: let both links be measured.
hold_ready() { [ "$(ro server | jq_py "d['hold_ms'] >= 100")" = True ]; }
wait_for 10 hold_ready

st=$(ro server)
keys="enabled delivered in_order held reordered late duplicates lost expired hold_ms held_now"
missing=$(echo "$st" | jq_py "' '.join(k for k in '$keys'.split() if k not in d)")
check "status shows every reorder counter and the hold time (missing: ${missing:-none})" test -z "$missing"

# Upstream: the server's buffer.
b0=$(emu_ctl b stats | jq_py "d['to_server']['fwd_pkts']")
u=$(udp_stream c "$NS_H" 9101 10.99.0.2)
b1=$(emu_ctl b stats | jq_py "d['to_server']['fwd_pkts']")
echo "  upstream stream:   $u"
check "upstream: link b carried part of the stream ($((b1 - b0)) packets)" test $((b1 - b0)) -gt $((N / 10))
check "upstream: zero reordering at the far end" test "$(field "$u" "['reordered']")" -eq 0
check "upstream: no duplicates" test "$(field "$u" "['duplicates']")" -eq 0
st=$(ro server)
echo "  server reorder:    $st"
check "upstream: the buffer held packets back (held $(field "$st" "['held']"))" \
	test "$(field "$st" "['held']")" -gt $((N / 10))
check "upstream: nothing refused as late ($(field "$st" "['late']"))" test "$(field "$st" "['late']")" -eq 0
w=$(field "$st" "['wait_ms']")
check "upstream: gaps took about the links' one-way delay difference to fill (${w} ms, difference 25 ms)" \
	python3 -c "import sys; sys.exit(0 if 15 <= $w <= 80 else 1)"
check "upstream: expired holds are rare without loss ($(field "$st" "['expired']") of $(field "$st" "['held']") held)" \
	test $(($(field "$st" "['expired']") * 100)) -le "$(field "$st" "['held']")"

# Downstream: the client's buffer.
d=$(udp_stream h "$NS_C" 9102 10.77.0.2)
echo "  downstream stream: $d"
check "downstream: zero reordering at the far end" test "$(field "$d" "['reordered']")" -eq 0
st=$(ro client)
echo "  client reorder:    $st"
check "downstream: the buffer held packets back (held $(field "$st" "['held']"))" \
	test "$(field "$st" "['held']")" -gt $((N / 10))
check "downstream: nothing refused as late ($(field "$st" "['late']"))" test "$(field "$st" "['late']")" -eq 0
check "downstream: expired holds are rare without loss ($(field "$st" "['expired']") of $(field "$st" "['held']") held)" \
	test $(($(field "$st" "['expired']") * 100)) -le "$(field "$st" "['held']")"

# Loss on link b, two streams at once: each still in order, and the only
# packets missing are the ones the emulator dropped.
emu_ctl b loss 3% >/dev/null
h0=$(ro server | jq_py "d['held']")
st0=$(ro server)
l0=$(emu_b_drops)
bg "$WORK/udp-9103.out" ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" recv 9103 1
r1=$LAST_PID
bg "$WORK/udp-9104.out" ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" recv 9104 1
r2=$LAST_PID
wait_udp "$NS_H" 9103
wait_udp "$NS_H" 9104
bg "$WORK/send-9103.log" ip netns exec "$NS_C" python3 "$E2E_DIR/udpseq.py" send 10.99.0.2 9103 $((RATE / 2)) $N $SIZE
s1=$LAST_PID
c python3 "$E2E_DIR/udpseq.py" send 10.99.0.2 9104 $((RATE / 2)) $N $SIZE
wait "$s1" "$r1" "$r2"
emu_ctl b loss 0% >/dev/null
l1=$(emu_b_drops)
f1=$(cat "$WORK/udp-9103.out")
f2=$(cat "$WORK/udp-9104.out")
st1=$(ro server)
echo "  with 3% loss on b: $f1"
echo "                     $f2"
echo "  server reorder:    $st1"
dropped=$((l1 - l0))
missing=$(($(field "$f1" "['lost']") + $(field "$f2" "['lost']")))
check "with loss: both streams still arrive in order" \
	test "$(field "$f1" "['reordered']")" -eq 0 -a "$(field "$f2" "['reordered']")" -eq 0
check "with loss: the emulator dropped packets ($dropped)" test "$dropped" -gt 0
# Informational: the emulator's count includes lost probes, and the far
# end's includes what a starved receiver socket dropped.
echo "  far end missed $missing packets; link b dropped $dropped (probes included)"
check "with loss: link b carried data (held $(($(field "$st1" "['held']") - h0)) more)" \
	test "$(field "$st1" "['held']")" -gt "$h0"
dl=$(($(field "$st1" "['lost']") - $(field "$st0" "['lost']")))
de=$(($(field "$st1" "['expired']") - $(field "$st0" "['expired']")))
check "with loss: the buffer declared the gaps lost ($dl) and released what waited ($de expired)" \
	test "$dl" -gt 0 -a "$de" -gt 0
check "with loss: nothing refused as late ($(field "$st1" "['late']"))" test "$(field "$st1" "['late']")" -eq 0

iperf_print "reorder on" 5201

# The same stream with the buffer off: heavily reordered.
kill -TERM "$CLIENT_PID" "$SERVER_PID"
wait_for 5 bash -c "! kill -0 $CLIENT_PID 2>/dev/null && ! kill -0 $SERVER_PID 2>/dev/null"
rm -f "$WORK/client.key" "$WORK/server-client.key"
REORDER=false LINK_A="rate: 30mbit" LINK_B="rate: 10mbit" write_configs weighted weighted
# lib.sh puts the reorder setting in the client's file only.
grep -q '^reorder:' "$WORK/server.yaml" || echo "reorder: { enabled: false }" >>"$WORK/server.yaml"
daemons_start || { bad "daemons restart with reorder off"; summary; exit 1; }
st=$(ro server)
check "reorder off: status says disabled" test "$(field "$st" "['enabled']")" = False
sleep 1
u=$(udp_stream c "$NS_H" 9105 10.99.0.2)
echo "  upstream stream, reorder off: $u"
check "reorder off: the stream arrives heavily reordered ($(field "$u" "['reordered']") of $N)" \
	test "$(field "$u" "['reordered']")" -gt $((N / 10))
iperf_print "reorder off" 5202

echo "  ($((SECONDS - T0)) s)"
summary
