#!/usr/bin/env bash
# Aggregation figures (issue 5): bulk TCP goodput through the tunnel over two
# emulated links, as a fraction of the sum of their rates, for a symmetric
# pair (20+20 Mbit/s, 20 ms each) and an asymmetric one (30 Mbit/s 15 ms +
# 10 Mbit/s 40 ms), reorder buffer on and off, CUBIC and BBR, against the
# best single link alone; then ns per packet through the reorder buffer.
# Prints a table; no thresholds (speed is shown, never asserted).
#
# Why each column: the reorder counters say whether the hold fits the links
# (late = given up too early, TCP sees a loss; expired = held until the
# timeout); emulator queue drops say whether TCP met a full queue; the
# emulators' CPU says whether the emulator itself could be the bottleneck;
# "of ceiling" divides by what the links can carry once the tunnel's
# per-packet overhead is paid (a full-size TCP segment of MSS bytes travels
# as an MTU + header + tag datagram), so 100% there means nothing is wasted.
#
# Knobs: T (iperf3 seconds, default 10, first 2 omitted), QUEUE (emulator
# queue, default 50ms), SCHED (default earliest-arrival, rates from the YAML),
# CCS ("cubic bbr"), PAIRS ("sym asym"), CRYPTO (see lib.sh).
# Needs root (network namespaces) and iperf3.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
T=${T:-10}
QUEUE=${QUEUE:-50ms}
SCHED=${SCHED:-earliest-arrival}
CCS=${CCS:-cubic bbr}
PAIRS=${PAIRS:-sym asym}
[ -x /usr/bin/python3 ] && PATH=/usr/bin:$PATH

# ---- one run, in its own namespaces: prints one "RESULT k=v ..." line ----
if [ "${1:-}" = --one ]; then
	# --one PAIR CC on|off|single
	pair=$2 cc=$3 mode=$4
	export CC_ALGO=$cc
	. "$top/tests/e2e/lib.sh"
	case $pair in
	sym)
		ea="--delay 20ms --rate 20mbit --queue $QUEUE"
		eb="--delay 20ms --rate 20mbit --queue $QUEUE"
		export LINK_A="rate: 20mbit" LINK_B="rate: 20mbit"
		;;
	asym)
		ea="--delay 15ms --rate 30mbit --queue $QUEUE"
		eb="--delay 40ms --rate 10mbit --queue $QUEUE"
		export LINK_A="rate: 30mbit" LINK_B="rate: 10mbit"
		;;
	esac
	case $mode in
	off) export REORDER=false ;;
	single) export SINGLE=1 ;; # link a: the best (or an equal) link
	esac
	topo_up
	emu_start a 10.101.0.1 7001 $ea
	emu_start b 10.102.0.1 7002 $eb
	write_configs "$SCHED" "$SCHED"
	if [ "$mode" = off ] && ! grep -q '^reorder:' "$WORK/server.yaml"; then
		echo "reorder: { enabled: false }" >>"$WORK/server.yaml"
	fi
	daemons_start >/dev/null || { echo "RESULT error=start"; exit 1; }
	sleep 1
	ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
	e0=$(($(ticks "$EMU_PID_a") + $(ticks "$EMU_PID_b")))
	t0=$(date +%s.%N)
	bg "$WORK/iperf-s.log" ip netns exec "$NS_H" iperf3 -s -1 -p 5201
	sleep 0.3
	c iperf3 -c 10.99.0.2 -p 5201 -t "$T" -O 2 -C "$cc" -J >"$WORK/ip.json" 2>&1
	t1=$(date +%s.%N)
	e1=$(($(ticks "$EMU_PID_a") + $(ticks "$EMU_PID_b")))
	st=$(sstatus)
	mtu=$(cstatus | jq_py "d['tun']['mtu']")
	qd=$(($(emu_ctl a stats | jq_py "d['to_server']['drop_queue']") +
		$(emu_ctl b stats | jq_py "d['to_server']['drop_queue']")))
	python3 - "$WORK/ip.json" "$st" "$mtu" "$qd" "$e0" "$e1" "$t0" "$t1" "$(getconf CLK_TCK)" <<'PY'
import json, sys
ipf, st, mtu, qd, e0, e1, t0, t1, hz = sys.argv[1:]
try:
    d = json.load(open(ipf))
    mbps = d["end"]["sum_received"]["bits_per_second"] / 1e6
    rtx = d["end"]["sum_sent"].get("retransmits", -1)
except Exception:
    mbps, rtx = 0.0, -1
r = json.loads(st)["sessions"][0].get("reorder", {})
cpu = (int(e1) - int(e0)) / int(hz) / (float(t1) - float(t0))
print("RESULT mbps=%.2f rtx=%d late=%d expired=%d lost=%d held=%d hold_ms=%.1f "
      "qdrop=%s emu_cpu=%.2f mtu=%s" % (
          mbps, rtx, r.get("late", 0), r.get("expired", 0), r.get("lost", 0),
          r.get("held", 0), r.get("hold_ms", 0.0), qd, cpu, mtu))
PY
	exit 0
fi

# ---- the driver ----
if [ "$(id -u)" -ne 0 ]; then
	echo "bench-aggregate: needs root (network namespaces)"
	exit 1
fi
command -v iperf3 >/dev/null || { echo "bench-aggregate: iperf3 not found"; exit 1; }
[ -x "$top/tuntuntun" ] && [ -x "$top/build/ttt-linkemu" ] ||
	{ echo "bench-aggregate: build first (make)"; exit 1; }

echo "== TCP goodput over two emulated links (iperf3 ${T}s upstream, first 2 s omitted;"
echo "   scheduler $SCHED, emulator queue $QUEUE, crypto ${CRYPTO:-encrypt})"
printf '%-5s %-5s %-6s %8s %7s %7s | %5s %5s %7s %5s %7s %6s %7s\n' \
	pair cc mode Mbit/s of-sum of-ceil rtx late expired lost hold_ms qdrop emu_cpu
for pair in $PAIRS; do
	# sum of both links; best = link a alone (used by "single")
	case $pair in sym) sum=40 best=20 ;; asym) sum=40 best=30 ;; *) echo "unknown pair $pair"; exit 1 ;; esac
	for cc in $CCS; do
		for mode in on off single; do
			line=$(bash "$0" --one "$pair" "$cc" "$mode" 2>/dev/null | grep '^RESULT' | tail -1)
			[ -n "$line" ] || line="RESULT error=no-result"
			eval "$(echo "${line#RESULT }" | tr ' ' '\n' | sed 's/^/r_/')"
			if [ -n "${r_error:-}" ]; then
				printf '%-5s %-5s %-6s %s\n' "$pair" "$cc" "$mode" "error: $r_error"
				unset r_error
				continue
			fi
			# Best goodput the links allow: per datagram of MTU + 40 bytes
			# (tunnel header 16, data header 8, tag 16) carry MTU - 52
			# bytes of TCP payload (IP 20, TCP 20, timestamps 12).
			python3 -c "
mb, s, mtu = $r_mbps, $sum, $r_mtu
ceil = ($best if '$mode' == 'single' else s) * (mtu - 52) / (mtu + 40)
print('%-5s %-5s %-6s %8.1f %6.1f%% %6.1f%% | %5d %5d %7d %5d %7.1f %6d %7.2f' % (
    '$pair', '$cc', '$mode', mb, 100 * mb / s, 100 * mb / ceil,
    $r_rtx, $r_late, $r_expired, $r_lost, $r_hold_ms, $r_qdrop, $r_emu_cpu))"
		done
	done
done
echo "   single = link a alone (sym: 20 Mbit/s, asym: 30 Mbit/s): of-sum is still"
echo "   against both links, of-ceil against link a's. emu_cpu = both emulators, in cores."

echo "== reorder buffer, ns per packet (build/rel/bench/bench_reorder)"
if [ -x "$top/build/rel/bench/bench_reorder" ] || make -C "$top" -s build/rel/bench/bench_reorder >/dev/null 2>&1; then
	"$top/build/rel/bench/bench_reorder" | sed 's/^/   /'
else
	echo "   (bench_reorder not built)"
fi
