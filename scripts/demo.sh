#!/usr/bin/env bash
# `make demo`: a bonded tunnel over two emulated links of different rate and
# delay, in network namespaces. Runs a ping and an iperf3 upload and download
# through the tunnel while printing live per-link figures (from `tuntunctl
# watch`); halfway through the download link b goes down for 3 s, to show
# the blip. Then a summary.
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

# One line a second from `tuntunctl watch --json`: per-link state, Mbit/s
# each way, RTT, what the reorder buffer holds right now (held_now, not the
# ever-growing total) and the last ping.
live_lines() { # live_lines SECONDS
	"$CTL" -s "$WORK/client.sock" watch -i 1 -n "$1" --json | python3 -u -c '
import json, re, sys
t = 0
for line in sys.stdin:
    t += 1
    try:
        d = json.loads(line)
    except ValueError:
        continue
    parts = []
    for l in d.get("links", []):
        parts.append("%s %-4s %4.1f/%4.1f %3.0fms" % (
            l["name"], l["state"], l.get("rx_bps", 0) / 1e6,
            l.get("tx_bps", 0) / 1e6, l.get("srtt_ms", 0)))
    r = d.get("reorder", {})
    ping = "-"
    try:
        last = open(sys.argv[1]).read().splitlines()[-1]
        m = re.search(r"time=([0-9.]+) ms", last)
        ping = "%.0fms" % float(m.group(1)) if m else "lost"
    except (OSError, IndexError, ValueError):
        pass
    print("  %2ss  %s  held %3d  ping %s" % (
        t, "  ".join(parts), r.get("held_now", 0), ping), flush=True)
' "$WORK/ping.log"
}

phase() { # phase TITLE iperf-args [blip]
	echo
	echo "== $1 (iperf3 -t $DURATION $2, CUBIC)"
	echo "  (each link: state, Mbit/s into/out of the client, RTT; held: packets"
	echo "   the reorder buffer holds right now; ping: the last one's RTT)"
	c iperf3 -c 10.99.0.2 -p 5201 -t "$DURATION" $2 -J >"$WORK/iperf.json" 2>&1 &
	local ip=$! blip=
	if [ "${3:-}" = blip ]; then
		# Halfway, link b dies for 3 s: the README promises a blip, not
		# a dropped connection; watch its state and the Mbit/s move.
		(sleep $((DURATION / 2)); echo "  -- link b goes down for 3 s --"
		 emu_ctl b down >/dev/null; sleep 3
		 emu_ctl b up >/dev/null; echo "  -- link b is back --") &
		blip=$!
	fi
	live_lines "$DURATION"
	wait $ip
	[ -n "$blip" ] && wait "$blip"
	python3 - "$WORK/iperf.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["end"]["sum_received"]["bits_per_second"] / 1e6
print(f"  => {r:.1f} Mbit/s through the tunnel (sum of link rates: 40 Mbit/s)")
PY
}
phase "upload" ""
phase "download, with link b down for 3 s halfway" "-R" blip

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
