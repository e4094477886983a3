#!/usr/bin/env bash
# Link-model figures (issue 11), CUBIC first: bonded TCP goodput over two
# emulated links whose emulators count the IP + UDP headers in their rate
# (--overhead auto), against the sum of the link rates and against the
# encapsulation ceiling, each direction, P1 and P4, for:
#   sym  = 20 + 20 Mbit/s, 20 ms each;  asym = 30 Mbit/s 15 ms + 10 Mbit/s 40 ms
#   rate: none | 20% too high | 20% too low (the ceiling is then the rate)
# then a capacity step (link a 20 -> 6 -> 20 Mbit/s, goodput per phase from
# 2 s after each step against that phase's capacity), and ping under load
# against idle with 200 ms emulator queues. No thresholds: speed is shown,
# never asserted.
#
# "ceiling": a full-size TCP segment (MTU - 52 bytes of payload: IP 20,
# TCP 20, timestamps 12) travels as MTU + 48 (tunnel header, data header,
# tag) + 28 (outer IPv4 + UDP, counted by the emulator) bytes.
#
# Knobs: T (iperf3 seconds, default 10, first 2 omitted), CCS ("cubic"),
# PAIRS ("sym asym"), RATES ("none high low"), DIRS ("up down"),
# PS ("1 4"), QUEUE (emulator queue, 100ms); with --step or --one,
# SAMPLES=DIR keeps both daemons' status --json every 0.1 s
# (DIR/client.jsonl, server.jsonl); --one also keeps iperf3's JSON, both
# daemons' logs and the emulators' counters there.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
T=${T:-10}
CCS=${CCS:-cubic}
PAIRS=${PAIRS:-sym asym}
RATES=${RATES:-none high low}
DIRS=${DIRS:-up down}
PS=${PS:-1 4}
QUEUE=${QUEUE:-100ms}
[ -x /usr/bin/python3 ] && PATH=/usr/bin:$PATH

emu_args() { # emu_args PAIR LINK QUEUE
	case $1/$2 in
	sym/a | sym/b) echo "--delay 20ms --rate 20mbit" ;;
	asym/a) echo "--delay 15ms --rate 30mbit" ;;
	asym/b) echo "--delay 40ms --rate 10mbit" ;;
	esac
	echo "--queue $3 --overhead auto"
}
link_rate() { # link_rate PAIR LINK -> Mbit/s
	case $1/$2 in sym/*) echo 20 ;; asym/a) echo 30 ;; asym/b) echo 10 ;; esac
}

# ---- one goodput run in its own namespaces: one "RESULT k=v ..." line ----
if [ "${1:-}" = --one ]; then
	pair=$2 cc=$3 rmode=$4 dir=$5 P=$6
	export CC_ALGO=$cc
	. "$top/tests/e2e/lib.sh"
	ra=$(link_rate "$pair" a) rb=$(link_rate "$pair" b)
	case $rmode in
	high) export LINK_A="rate: $((ra * 12 / 10))mbit" LINK_B="rate: $((rb * 12 / 10))mbit" ;;
	low) export LINK_A="rate: $((ra * 8 / 10))mbit" LINK_B="rate: $((rb * 8 / 10))mbit" ;;
	esac
	topo_up
	emu_start a 10.101.0.1 7001 $(emu_args "$pair" a "$QUEUE")
	emu_start b 10.102.0.1 7002 $(emu_args "$pair" b "$QUEUE")
	write_configs earliest-arrival earliest-arrival
	daemons_start >/dev/null || { echo "RESULT error=start"; exit 1; }
	sleep 1
	bg "$WORK/iperf-s.log" ip netns exec "$NS_H" iperf3 -s -1 -p 5201
	sleep 0.3
	R=""; [ "$dir" = down ] && R=-R
	if [ -n "${SAMPLES:-}" ]; then
		mkdir -p "$SAMPLES"
		echo "{\"watch_start\": $(date +%s.%N)}" >"$SAMPLES/marks.jsonl"
		bg "$SAMPLES/client.jsonl" "$CTL" -s "$WORK/client.sock" watch -i 0.1 --json
		bg "$SAMPLES/server.jsonl" "$CTL" -s "$WORK/server.sock" watch -i 0.1 --json
	fi
	c iperf3 -c 10.99.0.2 -p 5201 -t "$T" -O 2 -i 0.5 -P "$P" -C "$cc" $R -J >"$WORK/ip.json" 2>&1
	if [ -n "${SAMPLES:-}" ]; then
		cp "$WORK/ip.json" "$WORK/client.log" "$WORK/server.log" "$SAMPLES/"
		emu_ctl a stats >"$SAMPLES/emu-a.json"
		emu_ctl b stats >"$SAMPLES/emu-b.json"
	fi
	mtu=$(cstatus | jq_py "d['tun']['mtu']")
	qd=$(($(emu_ctl a stats | jq_py "d['to_server']['drop_queue'] + d['to_client']['drop_queue']") +
		$(emu_ctl b stats | jq_py "d['to_server']['drop_queue'] + d['to_client']['drop_queue']")))
	python3 - "$WORK/ip.json" "$mtu" "$qd" <<'PY'
import json, sys
ipf, mtu, qd = sys.argv[1:]
try:
    d = json.load(open(ipf))
    mbps = d["end"]["sum_received"]["bits_per_second"] / 1e6
    rtx = d["end"]["sum_sent"].get("retransmits", -1)
except Exception:
    mbps, rtx = 0.0, -1
print("RESULT mbps=%.2f rtx=%d qdrop=%s mtu=%s" % (mbps, rtx, qd, mtu))
PY
	exit 0
fi

# ---- the capacity step: per-second goodput, one line per phase ----
if [ "${1:-}" = --step ]; then
	cc=$2 dir=$3
	export CC_ALGO=$cc
	. "$top/tests/e2e/lib.sh"
	topo_up
	emu_start a 10.101.0.1 7001 --delay 20ms --rate 20mbit --queue "$QUEUE" --overhead auto
	emu_start b 10.102.0.1 7002 --delay 20ms --rate 20mbit --queue "$QUEUE" --overhead auto
	write_configs earliest-arrival earliest-arrival
	daemons_start >/dev/null || { echo "RESULT error=start"; exit 1; }
	sleep 1
	bg "$WORK/iperf-s.log" ip netns exec "$NS_H" iperf3 -s -1 -p 5201
	sleep 0.3
	R=""; [ "$dir" = down ] && R=-R
	if [ -n "${SAMPLES:-}" ]; then
		mkdir -p "$SAMPLES"
		echo "{\"watch_start\": $(date +%s.%N)}" >"$SAMPLES/marks.jsonl"
		bg "$SAMPLES/client.jsonl" "$CTL" -s "$WORK/client.sock" watch -i 0.1 --json
		bg "$SAMPLES/server.jsonl" "$CTL" -s "$WORK/server.sock" watch -i 0.1 --json
	fi
	bg "$WORK/ip.json" ip netns exec "$NS_C" iperf3 -c 10.99.0.2 -p 5201 -t 30 -i 1 -C "$cc" $R -J
	ipid=$LAST_PID
	sleep 10
	[ -n "${SAMPLES:-}" ] && echo "{\"step\": \"a 6mbit\", \"t\": $(date +%s.%N)}" >>"$SAMPLES/marks.jsonl"
	emu_ctl a rate 6mbit >/dev/null
	sleep 10
	[ -n "${SAMPLES:-}" ] && echo "{\"step\": \"a 20mbit\", \"t\": $(date +%s.%N)}" >>"$SAMPLES/marks.jsonl"
	emu_ctl a rate 20mbit >/dev/null
	wait "$ipid"
	mtu=$(cstatus | jq_py "d['tun']['mtu']")
	python3 - "$WORK/ip.json" "$mtu" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); mtu = int(sys.argv[2])
eff = (mtu - 52) / (mtu + 76)
s = [iv["sum"]["bits_per_second"] / 1e6 for iv in d["intervals"]]
# iperf3 starts ~1.3 s before the first step is made (sleep 10 after bg)
for name, cap, lo, hi in (("a20+b20=40", 40, 3, 10),
                          ("a6+b20=26", 26, 12, 20),
                          ("a20+b20=40,after", 40, 22, 30)):
    seg = s[lo:hi]
    m = sum(seg) / len(seg) if seg else 0
    print("RESULT phase=%s mbps=%.1f of_cap=%.1f of_ceil=%.1f" % (
        name, m, 100 * m / cap, 100 * m / (cap * eff)))
PY
	exit 0
fi

# ---- ping under load with 200 ms emulator queues ----
if [ "${1:-}" = --ping ]; then
	cc=$2 dir=$3
	export CC_ALGO=$cc
	. "$top/tests/e2e/lib.sh"
	topo_up
	emu_start a 10.101.0.1 7001 --delay 20ms --rate 20mbit --queue 200ms --overhead auto
	emu_start b 10.102.0.1 7002 --delay 20ms --rate 20mbit --queue 200ms --overhead auto
	write_configs earliest-arrival earliest-arrival
	daemons_start >/dev/null || { echo "RESULT error=start"; exit 1; }
	sleep 1
	med() { python3 -c "
import re,sys,statistics
v=[float(x) for x in re.findall(r'time=([0-9.]+)', open('$1').read())]
print('%.1f' % statistics.median(v) if v else 'nan')"; }
	c ping -c 30 -i 0.1 10.99.0.2 >"$WORK/idle.txt" 2>&1
	bg "$WORK/iperf-s.log" ip netns exec "$NS_H" iperf3 -s -1 -p 5201
	sleep 0.3
	R=""; [ "$dir" = down ] && R=-R
	bg "$WORK/ip.json" ip netns exec "$NS_C" iperf3 -c 10.99.0.2 -p 5201 -t 12 -P 4 -C "$cc" $R -J
	ipid=$LAST_PID
	sleep 4
	c ping -c 60 -i 0.1 10.99.0.2 >"$WORK/load.txt" 2>&1
	wait "$ipid"
	mbps=$(python3 -c "import json; print(round(json.load(open('$WORK/ip.json'))['end']['sum_received']['bits_per_second']/1e6,1))" 2>/dev/null || echo 0)
	echo "RESULT idle_ms=$(med "$WORK/idle.txt") load_ms=$(med "$WORK/load.txt") mbps=$mbps"
	exit 0
fi

# ---- the driver ----
if [ "$(id -u)" -ne 0 ]; then
	echo "bench-linkmodel: needs root (network namespaces)"
	exit 1
fi
command -v iperf3 >/dev/null || { echo "bench-linkmodel: iperf3 not found"; exit 1; }

echo "== bonded TCP goodput, link model (iperf3 ${T}s, 2 s omitted; earliest-arrival;"
echo "   emulator queue $QUEUE, IP+UDP counted in the emulated rate)"
printf '%-5s %-5s %-5s %-4s %-2s %8s %7s %8s %6s %6s\n' pair cc rate dir P Mbit/s of-sum of-ceil rtx qdrop
for cc in $CCS; do
	for pair in $PAIRS; do
		sum=$(($(link_rate "$pair" a) + $(link_rate "$pair" b)))
		for rmode in $RATES; do
			for dir in $DIRS; do
				for P in $PS; do
					line=$(bash "$0" --one "$pair" "$cc" "$rmode" "$dir" "$P" 2>/dev/null | grep '^RESULT' | tail -1)
					[ -n "$line" ] || line="RESULT error=no-result"
					unset r_error
					eval "$(echo "${line#RESULT }" | tr ' ' '\n' | sed 's/^/r_/')"
					if [ -n "${r_error:-}" ]; then
						printf '%-5s %-5s %-5s %-4s %-2s error: %s\n' "$pair" "$cc" "$rmode" "$dir" "$P" "$r_error"
						continue
					fi
					python3 -c "
mb, s, mtu = $r_mbps, $sum, $r_mtu
cap = s * (0.8 if '$rmode' == 'low' else 1.0)
ceil = cap * (mtu - 52) / (mtu + 76)
print('%-5s %-5s %-5s %-4s %-2s %8.1f %6.1f%% %7.1f%% %6d %6d' % (
    '$pair', '$cc', '$rmode', '$dir', '$P', mb, 100 * mb / s, 100 * mb / ceil,
    $r_rtx, $r_qdrop))"
				done
			done
		done
	done
done
echo "   of-ceil: against what the links carry after the encapsulation (and, for"
echo "   rate 20% low, against that rate). qdrop = emulator queue drops, both ways."

echo "== capacity step: link a 20 -> 6 -> 20 Mbit/s (b 20), goodput from 2 s after each step"
for cc in $CCS; do
	for dir in $DIRS; do
		bash "$0" --step "$cc" "$dir" 2>/dev/null | grep '^RESULT' | while read -r _ kv; do
			eval "$(echo "$kv" | tr ' ' '\n' | sed 's/^/s_/')"
			printf '   %-5s %-4s capacity %-20s %6.1f Mbit/s  %5.1f%% of it  %5.1f%% of ceiling\n' \
				"$cc" "$dir" "$s_phase" "$s_mbps" "$s_of_cap" "$s_of_ceil"
		done
	done
done

echo "== ping under load (iperf3 -P 4) against idle, 200 ms emulator queues, 20+20 Mbit/s"
for cc in $CCS; do
	for dir in $DIRS; do
		line=$(bash "$0" --ping "$cc" "$dir" 2>/dev/null | grep '^RESULT' | tail -1)
		eval "$(echo "${line#RESULT }" | tr ' ' '\n' | sed 's/^/p_/')"
		printf '   %-5s %-4s idle %6s ms   under load %6s ms   (load %s Mbit/s)\n' \
			"$cc" "$dir" "${p_idle_ms:-?}" "${p_load_ms:-?}" "${p_mbps:-?}"
	done
done
