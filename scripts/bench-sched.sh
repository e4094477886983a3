#!/usr/bin/env bash
# Scheduler figures for `make bench`: ns per pick for every shipped plugin
# (and the built-in fallback) at 2, 4 and 16 links through the real vtable
# and answer check (bench_pick), and the latency of a hot swap
# (session_set_sched, bench_swap). Both load the plugins from plugins.d/.
# Figures only: nothing is asserted (the aim is < 50 ns per pick at 4 links).
set -u
cd "$(dirname "$0")/.."
B=build/rel/bench
dir=${TTT_PLUGIN_DIR:-$PWD/plugins.d}
for b in bench_pick bench_swap; do
	if [ ! -x "$B/$b" ]; then
		echo "bench-sched: $B/$b missing; run make bench" >&2
		exit 1
	fi
done
echo "-- scheduler pick (ns per packet decision)"
"$B/bench_pick" "$dir" "${PICKS:-10000000}" | grep '^pick'
echo "-- scheduler hot swap"
"$B/bench_swap" "$dir" "${SWAPS:-20000}"
