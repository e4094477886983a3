#!/usr/bin/env bash
# `make demo`: a bonded tunnel over two emulated links of different rate and
# delay, in network namespaces. Runs a ping and an iperf3 download/upload
# through the tunnel while printing live per-link figures, then a summary.
# Everything it creates is removed on exit or Ctrl-C.
set -u
. "$(dirname "$0")/../tests/e2e/lib.sh"
DURATION=${DURATION:-10}

cat <<'TXT'
tuntuntun demo
  client ==[ link a: 30 Mbit/s, 15 ms ]==\
                                          >== server -- host 10.99.0.2
  client ==[ link b: 10 Mbit/s, 40 ms ]==/
  (each link is a link emulator in its own namespace; nothing leaves this machine)
TXT
topo_up
emu_start a 10.101.0.1 7001 --delay 15ms --rate 30mbit --queue 60ms
emu_start b 10.102.0.1 7002 --delay 40ms --rate 10mbit --queue 60ms
LINK_A="rate: 30mbit" LINK_B="rate: 10mbit" write_configs earliest-arrival earliest-arrival
daemons_start || exit 1

bg "$WORK/ping.log" ip netns exec "$NS_C" ping -i 0.2 10.99.0.2
bg "$WORK/iperf-s.log" ip netns exec "$NS_H" iperf3 -s -p 5201
sleep 0.3

# One line a second: per-link state, Mbit/s each way, RTT, and the last ping.
live_line() {
	local ping
	ping=$(tail -1 "$WORK/ping.log" | grep -o 'time=[0-9.]* ms' | cut -d= -f2)
	cstatus | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("  t=%2ss | (status not available)" % sys.argv[1])
    sys.exit(0)
parts = []
for l in d.get("links", []):
    parts.append("%s %-4s tx %5.1f rx %5.1f Mbit/s rtt %5.1f ms" % (
        l["name"], l["state"], l["tx_bps"] / 1e6, l["rx_bps"] / 1e6, l["srtt_ms"]))
r = d.get("reorder", {})
print("  t=%2ss | %s | reorder held %d, hold %.0f ms | ping %s" % (
    sys.argv[1], " | ".join(parts), r.get("held", 0), r.get("hold_ms", 0), sys.argv[2]))
' "$1" "${ping:--}"
}

phase() { # phase TITLE iperf-args
	echo
	echo "== $1 (iperf3 -t $DURATION $2, CUBIC)"
	c iperf3 -c 10.99.0.2 -p 5201 -t "$DURATION" $2 -J >"$WORK/iperf.json" 2>&1 &
	local ip=$!
	for i in $(seq "$DURATION"); do
		sleep 1
		live_line "$i"
	done
	wait $ip
	python3 - "$WORK/iperf.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["end"]["sum_received"]["bits_per_second"] / 1e6
print(f"  => {r:.1f} Mbit/s through the tunnel (sum of link rates: 40 Mbit/s)")
PY
}
phase "upload" ""
phase "download" "-R"

echo
echo "== summary"
"$CTL" -s "$WORK/client.sock" status
echo
python3 - "$WORK/ping.log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
seqs = [int(x) for x in re.findall(r"icmp_seq=(\d+)", text)]
times = [float(x) for x in re.findall(r"time=([\d.]+) ms", text)]
if times:
    sent = max(seqs)
    print(f"ping during the whole demo: {len(times)}/{sent} answered, "
          f"rtt min/avg/max {min(times):.1f}/{sum(times)/len(times):.1f}/{max(times):.1f} ms")
PY
