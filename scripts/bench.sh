#!/usr/bin/env bash
# `make bench`: every performance figure in one run. Micro-benchmarks first
# (ns per scheduler decision, per reorder packet, per seal/open), then
# throughput through the tunnel against plain routing over the same veths,
# with CUBIC (most users' congestion control) unless CC_ALGO says otherwise,
# then failover, aggregation and scheduler figures from their own scripts.
# Nothing here asserts: figures are for reading, machines here are noisy.
set -u
cd "$(dirname "$0")/.."
export CC_ALGO=${CC_ALGO:-cubic}
export BENCH_T=${BENCH_T:-5}
B=build/rel/bench

section() { printf '\n== %s\n' "$*"; }
result() { # result KEY OUTPUT -> value of KEY= in the RESULT line
	echo "$2" | grep '^RESULT' | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p"
}

section "micro-benchmarks"
if [ -x scripts/bench-sched.sh ]; then
	bash scripts/bench-sched.sh
else
	[ -x $B/bench_pick ] && $B/bench_pick
fi
[ -x $B/bench_reorder ] && $B/bench_reorder
[ -x $B/bench_wire ] && $B/bench_wire

section "throughput over unimpaired veth links ($CC_ALGO, iperf3 -t $BENCH_T, client -> host)"
raw=$(EMU=0 bash scripts/bench-scenario.sh raw 2>/dev/null)
raw_mbps=$(result raw_mbps "$raw")
printf '%-34s %10s Mbit/s\n' "plain routing (no tunnel)" "$raw_mbps"
printf '%-34s %10s %10s %16s\n' "tunnel" "Mbit/s" "% of raw" "daemon CPU/Gbit/s"
for crypto in encrypt auth none; do
	for links in 1 2; do
		out=$(CRYPTO=$crypto EMU=0 bash scripts/bench-scenario.sh tunnel $links 2>/dev/null)
		m=$(result mbps "$out")
		cpu=$(result cpu "$out")
		python3 - "$crypto" "$links" "$m" "$cpu" "$raw_mbps" <<'PY'
import sys
crypto, links, m, cpu, raw = sys.argv[1:]
m = float(m or 0); cpu = float(cpu or 0); raw = float(raw or 0)
pct = f"{100*m/raw:.1f}%" if raw else "-"
per = f"{cpu/(m/1000):.2f} cores" if m else "-"
print(f"{crypto + ', ' + links + ' link' + ('s' if links != '1' else ''):34} {m:10.1f} {pct:>10} {per:>16}")
PY
	done
done

for s in bench-failover bench-aggregate bench-linkmodel bench-lossrec; do
	if [ -x scripts/$s.sh ]; then
		section "$s"
		bash scripts/$s.sh
	fi
done
