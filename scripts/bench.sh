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

section "throughput over unimpaired veth links ($CC_ALGO, iperf3 -t $BENCH_T)"
# Every tunnel row twice, back to back: tun offloads on (tun.offload: auto)
# and forced off (the one-packet-per-syscall path). s/GB is both daemons'
# CPU seconds per GB moved (the iperf3 endpoints share the two cores, so
# Mbit/s is what is left for the tunnel on this machine). up = client ->
# host behind the server, down = host -> client (iperf3 -R).
EMU=0 bash scripts/bench-scenario.sh rawmatrix 2>/dev/null | grep '^RESULT' >"${TMPDIR:-/tmp}/bench-raw.$$"
printf '%-22s %-5s %-3s %10s | %10s %8s %7s %7s | %10s %8s %7s %7s\n' \
	"" dir P "raw Mbit/s" "on Mbit/s" "s/GB" "cli" "srv" "off Mbit/s" "s/GB" "cli" "srv"
for crypto in encrypt auth none; do
	for links in 1 2; do
		on=$(CRYPTO=$crypto OFFLOAD=auto EMU=0 bash scripts/bench-scenario.sh matrix $links 2>/dev/null | grep '^RESULT')
		off=$(CRYPTO=$crypto OFFLOAD=off EMU=0 bash scripts/bench-scenario.sh matrix $links 2>/dev/null | grep '^RESULT')
		python3 - "$crypto" "$links" "${TMPDIR:-/tmp}/bench-raw.$$" "$on" "$off" <<'PY'
import sys
crypto, links, rawf, on, off = sys.argv[1:]
def rows(text):
    out = {}
    for line in text.splitlines():
        kv = dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)
        if "dir" in kv:
            out[(kv["dir"], kv["P"])] = kv
    return out
raw, a, b = rows(open(rawf).read()), rows(on), rows(off)
name = f"{crypto}, {links} link" + ("s" if links != "1" else "")
for d in ("up", "down"):
    for p in ("1", "4"):
        r, x, y = raw.get((d, p), {}), a.get((d, p), {}), b.get((d, p), {})
        print(f"{name:22} {d:5} {p:3} {r.get('mbps', '-'):>10} | "
              f"{x.get('mbps', '-'):>10} {x.get('s_per_gb', '-'):>8} {x.get('cpu_c', '-'):>7} {x.get('cpu_s', '-'):>7} | "
              f"{y.get('mbps', '-'):>10} {y.get('s_per_gb', '-'):>8} {y.get('cpu_c', '-'):>7} {y.get('cpu_s', '-'):>7}")
PY
	done
done
rm -f "${TMPDIR:-/tmp}/bench-raw.$$"
echo "(cli/srv: each daemon's CPU in cores during the run)"

for s in bench-failover bench-aggregate bench-http bench-linkmodel bench-latency bench-lossrec; do
	if [ -x scripts/$s.sh ]; then
		section "$s"
		bash scripts/$s.sh
	fi
done
