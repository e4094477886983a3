#!/usr/bin/env bash
# One benchmark scenario in its own namespaces (called by scripts/bench.sh).
#   raw                      iperf3 over plain routing, no tunnel
#   tunnel LINKS             iperf3 through the tunnel over 1 or 2 links
#   matrix LINKS             the same, each direction with 1 and 4 streams,
#                            one daemon pair (OFFLOAD=auto|off, CRYPTO=...);
#                            CASES="up:1 down:1" runs only those, in order;
#                            SAMPLES=DIR keeps both daemons' status --json
#                            every 0.1 s (DIR/client.jsonl, DIR/server.jsonl)
#   rawmatrix                plain routing, each direction, 1 and 4 streams
#   failover PROBE_MS        ping every 20 ms while the busy link dies
# Prints "RESULT key=value ..." lines for the driver.
set -u
. "$(dirname "$0")/../tests/e2e/lib.sh"
mode=$1
shift
T=${BENCH_T:-5}

cpu_ticks() { # utime+stime of a pid, in clock ticks
	awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
# The daemon's pid inside `ip netns exec` is the exec'd process itself.
iperf_run() { # iperf_run ARGS... -> Mbit/s
	c iperf3 -c 10.99.0.2 -p 5201 -t "$T" "$@" -J >"$WORK/ip.json" 2>&1
	python3 -c "import json; d=json.load(open('$WORK/ip.json')); print(round(d['end']['sum_received']['bits_per_second']/1e6,1))" 2>/dev/null || echo 0
}

# One iperf3 run (ARGS...) with the daemons' CPU: "RESULT dir=.. P=..
# mbps=.. gbytes=.. cpu_c=.. cpu_s=.. s_per_gb=..", CPU in cores (seconds
# per second of the run), s_per_gb = both daemons' CPU seconds per GB.
measure() { # measure DIR P
	local args="-P $2" hz t0 t1 cc0 cs0 cc1 cs1
	[ "$1" = down ] && args="$args -R"
	hz=$(getconf CLK_TCK)
	t0=$(date +%s.%N)
	cc0=$(cpu_ticks "${CLIENT_PID:-0}") cs0=$(cpu_ticks "${SERVER_PID:-0}")
	c iperf3 -c 10.99.0.2 -p 5201 -t "$T" $args -J >"$WORK/ip.json" 2>&1
	cc1=$(cpu_ticks "${CLIENT_PID:-0}") cs1=$(cpu_ticks "${SERVER_PID:-0}")
	t1=$(date +%s.%N)
	python3 - "$WORK/ip.json" "$1" "$2" "$hz" "$t0" "$t1" "$cc0" "$cc1" "$cs0" "$cs1" <<'PY'
import json, sys
f, d, p, hz, t0, t1, cc0, cc1, cs0, cs1 = sys.argv[1:]
hz, t0, t1 = float(hz), float(t0), float(t1)
try:
    r = json.load(open(f))["end"]["sum_received"]
    mbps, gb = r["bits_per_second"] / 1e6, r["bytes"] / 1e9
except Exception:
    mbps, gb = 0.0, 0.0
cc, cs = (int(cc1) - int(cc0)) / hz, (int(cs1) - int(cs0)) / hz
per = f"{(cc + cs) / gb:.2f}" if gb else "-"
print(f"RESULT dir={d} P={p} mbps={mbps:.1f} gbytes={gb:.3f} "
      f"cpu_c={cc / (t1 - t0):.3f} cpu_s={cs / (t1 - t0):.3f} s_per_gb={per}")
PY
}

topo_up
bg "$WORK/iperf-s.log" ip netns exec "$NS_H" iperf3 -s -p 5201
case $mode in
rawmatrix)
	ip -n "$NS_C" route add 10.99.0.0/24 via 10.101.0.1
	ip -n "$NS_W" route add 10.99.0.0/24 via 10.200.0.2
	ip -n "$NS_H" route add 10.101.0.0/24 via 10.99.0.1
	sleep 0.3
	for dir in up down; do for p in 1 4; do measure $dir $p; done; done
	;;
matrix)
	[ "$1" = 1 ] && export SINGLE=1
	write_configs roundrobin roundrobin
	daemons_start >/dev/null || { echo "RESULT error=start"; exit 1; }
	if [ -n "${SAMPLES:-}" ]; then
		mkdir -p "$SAMPLES"
		echo "{\"watch_start\": $(date +%s.%N)}" >>"$SAMPLES/marks.jsonl"
		bg "$SAMPLES/client.jsonl" "$CTL" -s "$WORK/client.sock" watch -i 0.1 --json
		bg "$SAMPLES/server.jsonl" "$CTL" -s "$WORK/server.sock" watch -i 0.1 --json
	fi
	sleep 0.5
	for cs in ${CASES:-up:1 up:4 down:1 down:4}; do
		[ -n "${SAMPLES:-}" ] && echo "{\"case\": \"$cs\", \"t\": $(date +%s.%N)}" >>"$SAMPLES/marks.jsonl"
		measure "${cs%%:*}" "${cs##*:}"
	done
	;;
raw)
	ip -n "$NS_C" route add 10.99.0.0/24 via 10.101.0.1
	ip -n "$NS_W" route add 10.99.0.0/24 via 10.200.0.2
	sleep 0.3
	echo "RESULT raw_mbps=$(iperf_run)"
	;;
tunnel)
	[ "$1" = 1 ] && export SINGLE=1
	shift
	if [ "$EMU" = 1 ]; then
		emu_start a 10.101.0.1 7001 $EMU_A
		emu_start b 10.102.0.1 7002 $EMU_B
	fi
	write_configs "${UP:-roundrobin}" "${DOWN:-roundrobin}"
	daemons_start >/dev/null || { echo "RESULT error=start"; exit 1; }
	sleep 0.5
	t0=$(date +%s.%N)
	c0=$(($(cpu_ticks "$CLIENT_PID") + $(cpu_ticks "$SERVER_PID")))
	mbps=$(iperf_run "$@")
	c1=$(($(cpu_ticks "$CLIENT_PID") + $(cpu_ticks "$SERVER_PID")))
	t1=$(date +%s.%N)
	hz=$(getconf CLK_TCK)
	cpu=$(python3 -c "print(round(($c1-$c0)/$hz/($t1-$t0),3))")
	echo "RESULT mbps=$mbps cpu=$cpu"
	;;
failover)
	probe_ms=$1
	emu_start a 10.101.0.1 7001 ${EMU_A:---delay 10ms --rate 50mbit --queue 50ms}
	emu_start b 10.102.0.1 7002 ${EMU_B:---delay 10ms --rate 50mbit --queue 50ms}
	PROBE="{ interval: ${probe_ms}ms, timeout: 1s }" write_configs roundrobin roundrobin
	daemons_start >/dev/null || { echo "RESULT error=start"; exit 1; }
	sleep 1
	bg "$WORK/ping.log" ip netns exec "$NS_C" ping -D -i 0.02 -W 1 10.99.0.2
	sleep 2
	emu_ctl a down >/dev/null
	t_down=$(date +%s.%N)
	sleep 3
	emu_ctl a up >/dev/null
	t_up=$(date +%s.%N)
	tx0=$(link_field client a tx_packets)
	back=""
	for _ in $(seq 100); do
		sleep 0.05
		st=$(link_field client a state)
		if [ "$st" = up ] && [ -z "$back" ]; then
			back=$(python3 -c "import time; print(round(time.time()-$t_up,3))")
		fi
		[ -n "$back" ] && break
	done
	sleep 1
	kill "$LAST_PID"
	gap=$(python3 - "$WORK/ping.log" <<'PY'
import re, sys
ts = [float(m.group(1)) for m in re.finditer(r'^\[(\d+\.\d+)\].*time=', open(sys.argv[1]).read(), re.M)]
print(round(max(b - a for a, b in zip(ts, ts[1:])) * 1000) if len(ts) > 1 else -1)
PY
)
	st=$(cstatus)
	probe_bps=$(echo "$st" | jq_py "0")
	echo "RESULT gap_ms=$gap back_s=${back:--1}"
	;;
esac
