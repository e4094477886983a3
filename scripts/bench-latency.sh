#!/usr/bin/env bash
# Latency-under-load figures (issue 12): a game tick (120-byte UDP packet
# every 20 ms, echoed; tests/e2e/gametick.py) over two unequal emulated
# links (20 Mbit/s 10 ms + 8 Mbit/s 20 ms, 200 ms modem-deep queues, IP+UDP
# overhead counted, no `rate:`), idle and while iperf3 bulk fills the links
# upload, download and both, with flow_queue off (the FIFO) and on. For
# each: the tick's one-way delay p50/p99/max each way, its loss, and the
# bulk goodput against the sum of the link rates. Then duplication: the
# tick's loss with 5% loss on link a, without and with
# `duplicate: interactive`. No thresholds: figures are for reading, the
# machine is shared and noisy.
#
# Knobs: T (iperf3 seconds under load, default 12), MODES ("off on").
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
T=${T:-12}
MODES=${MODES:-off on}
RA=20 RB=8
SUM=$((RA + RB))
[ -x /usr/bin/python3 ] && PATH=/usr/bin:$PATH
. "$top/tests/e2e/lib.sh"
topo_up
emu_start a 10.101.0.1 7001 --delay 10ms --rate ${RA}mbit --queue 200ms --overhead auto
emu_start b 10.102.0.1 7002 --delay 20ms --rate ${RB}mbit --queue 200ms --overhead auto
bg "$WORK/echo.log" ip netns exec "$NS_H" python3 "$E2E_DIR/gametick.py" echo 4000
wait_udp "$NS_H" 4000

start_with() {
	rm -f "$WORK/client.key"
	write_configs earliest-arrival earliest-arrival "flow_queue: $1" >/dev/null
	echo "flow_queue: $1" >>"$WORK/server.yaml"
	daemons_start >/dev/null || { echo "daemons did not start"; exit 1; }
	sleep 2
}
stop_daemons() {
	kill "$CLIENT_PID" "$SERVER_PID" 2>/dev/null
	wait "$CLIENT_PID" "$SERVER_PID" 2>/dev/null
	sleep 0.5
}
tick() { c python3 "$E2E_DIR/gametick.py" send 10.99.0.2 4000 "$1" 20 120; }
mbps() { python3 -c "import json; print(round(json.load(open('$1'))['end']['sum_received']['bits_per_second']/1e6,1))" 2>/dev/null || echo 0; }

row() { # row MODE CASE TICKJSON UP DOWN
	python3 - "$@" "$SUM" <<'PY'
import json, sys
mode, case, tj, up, dn, s = sys.argv[1:]
t = json.loads(tj)
g = float(up) + float(dn)
ref = {"idle": 0, "up": float(s), "down": float(s), "both": 2 * float(s)}[case]
share = f"{100 * g / ref:5.1f}%" if ref else "    -"
def f(d): return f"{d['p50']:6.1f} {d['p99']:6.1f} {d['max']:7.1f}"
print(f"{mode:4} {case:5} | up {f(t['up'])} | down {f(t['down'])} | lost {t['lost']:3}/{t['sent']:4} | bulk {up:>5}+{dn:>5} Mbit/s {share}")
PY
}
load() { # load MODE CASE(up|down|both): iperf3 that way, the tick meanwhile
	local mode=$1 cs=$2 p1= p2= up=0 dn=0 tj
	bg "$WORK/s1.log" ip netns exec "$NS_H" iperf3 -s -1 -p 5201
	bg "$WORK/s2.log" ip netns exec "$NS_H" iperf3 -s -1 -p 5202
	wait_listen "$NS_H" 5201
	wait_listen "$NS_H" 5202
	rm -f "$WORK/up.json" "$WORK/dn.json"
	if [ "$cs" != down ]; then
		bg "$WORK/up.json" ip netns exec "$NS_C" iperf3 -c 10.99.0.2 -p 5201 -t "$T" -O 2 -J
		p1=$LAST_PID
	fi
	if [ "$cs" != up ]; then
		bg "$WORK/dn.json" ip netns exec "$NS_C" iperf3 -c 10.99.0.2 -p 5202 -t "$T" -O 2 -R -J
		p2=$LAST_PID
	fi
	sleep 4
	tj=$(tick $((T - 6)))
	[ -n "$p1" ] && wait "$p1" 2>/dev/null && up=$(mbps "$WORK/up.json")
	[ -n "$p2" ] && wait "$p2" 2>/dev/null && dn=$(mbps "$WORK/dn.json")
	# the unused iperf3 server exits on its own only after a client: poke it
	[ "$cs" = down ] && c iperf3 -c 10.99.0.2 -p 5201 -t 1 >/dev/null 2>&1
	[ "$cs" = up ] && c iperf3 -c 10.99.0.2 -p 5202 -t 1 >/dev/null 2>&1
	row "$mode" "$cs" "$tj" "$up" "$dn"
}

echo "links: a ${RA} Mbit/s 10 ms, b ${RB} Mbit/s 20 ms, 200 ms queues; sum ${SUM} Mbit/s each way"
echo "tick one-way delay ms: p50 p99 max; bulk share = goodput / sum of link rates (both: / 2 x sum)"
for mode in $MODES; do
	if [ "$mode" = on ]; then start_with "{ enabled: true }"; else start_with "{ enabled: false }"; fi
	row "$mode" idle "$(tick 8)" 0 0
	for cs in up down both; do load "$mode" "$cs"; done
	cstatus >"$WORK/status-$mode.json"
	python3 -c "
import json; d=json.load(open('$WORK/status-$mode.json'))['session']
r=d['reorder']; c=d.get('classes',{})
print('     reorder hold %.1f ms, %s held, %s late; classes %s' % (r.get('hold_ms',0), r.get('held'), r.get('late'), json.dumps({k:(v.get('packets'),round(v.get('delay_ms',0),1),round(v.get('delay_max_ms',0),1)) for k,v in c.items() if isinstance(v,dict)})))"
	stop_daemons
done

echo "bulk both ways with 2% loss on both links (reorder gaps in bulk flows), flow_queue on:"
emu_ctl a loss 2% >/dev/null
emu_ctl b loss 2% >/dev/null
start_with "{ enabled: true }"
row on idle "$(tick 6)" 0 0
load on both
cstatus | python3 -c "
import json,sys; d=json.load(sys.stdin)['session']; r=d['reorder']
print('     reorder hold %.1f ms, %s held, %s lost (bulk gaps); the tick rows above show whether it waited behind them' % (r.get('hold_ms',0), r.get('held'), r.get('lost')))"
stop_daemons
emu_ctl b loss 0% >/dev/null

echo "duplication, 5% loss on link a, idle links (tick loss of 1000):"
emu_ctl a loss 5% >/dev/null
for dup in none interactive; do
	start_with "{ enabled: true, duplicate: $dup }"
	tj=$(tick 20)
	python3 -c "import json,sys; t=json.loads(sys.argv[1]); print('  duplicate %-12s lost %d/%d, up p99 %.1f ms, down p99 %.1f ms' % (sys.argv[2], t['lost'], t['sent'], t['up']['p99'], t['down']['p99']))" "$tj" "$dup"
	stop_daemons
done
emu_ctl a loss 0% >/dev/null
