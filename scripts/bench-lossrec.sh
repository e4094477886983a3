#!/usr/bin/env bash
# Loss-recovery figures (issue 13): bonded TCP goodput over two emulated
# 20 + 20 Mbit/s links (20 ms each way, --overhead auto), CUBIC first then
# BBR, P1 and P4, both directions, for:
#   clean   no loss (the reference)
#   b2      link b 2% random loss
#   both1   both links 1% random loss
#   b5burst link b 5% loss in Gilbert bursts (mean 4 packets)
#   b2-copy b2 with recovery.copy_ahead (copies while the bond has room)
# each with recovery on, and b2 also with recovery off, plus the best single
# link (a alone, clean). Per run: goodput, % of the clean bond, TCP
# retransmits, and the resend overhead (resent bytes / bytes sent, both
# ends) against the loss rate. Aim (issue): b2 with recovery >= 90% of the
# clean bond, overhead <= 1.5x the loss. No thresholds: shown, not asserted.
#
# Knobs: T (iperf3 seconds, default 10, first 2 omitted), CCS ("cubic bbr"),
# CASES ("clean b2 b2-copy b2-off both1 b5burst single"), DIRS ("up down"),
# PS ("1 4").
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
T=${T:-10}
CCS=${CCS:-cubic bbr}
CASES=${CASES:-clean b2 b2-copy b2-off both1 b5burst single}
DIRS=${DIRS:-up down}
PS=${PS:-1 4}
[ -x /usr/bin/python3 ] && PATH=/usr/bin:$PATH

emu_loss() { # emu_loss CASE LINK -> emulator loss arguments
	case $1/$2 in
	b2/b | b2-off/b | b2-copy/b) echo "--loss 2%" ;;
	both1/*) echo "--loss 1%" ;;
	b5burst/b) echo "--loss 5% --loss-burst 4" ;;
	esac
}

if [ "${1:-}" = --one ]; then
	case_=$2 cc=$3 dir=$4 P=$5
	export CC_ALGO=$cc
	. "$top/tests/e2e/lib.sh"
	[ "$case_" = single ] && export SINGLE=1
	[ "$case_" = b2-off ] && export RECOVERY="{ enabled: false }"
	[ "$case_" = b2-copy ] && export RECOVERY="{ copy_ahead: true }"
	# a lossy link must stay in use: that is the point of recovery
	export PROBE="{ degraded_loss: 50% }"
	topo_up
	emu_start a 10.101.0.1 7001 --delay 20ms --rate 20mbit --queue 100ms --overhead auto $(emu_loss "$case_" a)
	emu_start b 10.102.0.1 7002 --delay 20ms --rate 20mbit --queue 100ms --overhead auto $(emu_loss "$case_" b)
	write_configs earliest-arrival earliest-arrival
	daemons_start >/dev/null || { echo "RESULT error=start"; exit 1; }
	sleep 1
	bg "$WORK/iperf-s.log" ip netns exec "$NS_H" iperf3 -s -1 -p 5201
	sleep 0.3
	R=""; [ "$dir" = down ] && R=-R
	c iperf3 -c 10.99.0.2 -p 5201 -t "$T" -O 2 -P "$P" -C "$cc" $R -J >"$WORK/ip.json" 2>&1
	cstatus >"$WORK/c.json"
	sstatus >"$WORK/s.json"
	drops=$(($(emu_ctl a stats | jq_py "d['to_server']['drop_loss'] + d['to_client']['drop_loss']") +
		$(emu_ctl b stats | jq_py "d['to_server']['drop_loss'] + d['to_client']['drop_loss']")))
	python3 - "$WORK/ip.json" "$WORK/c.json" "$WORK/s.json" "$drops" <<'PY'
import json, sys
ipf, cf, sf, drops = sys.argv[1:]
try:
    d = json.load(open(ipf))
    mbps = d["end"]["sum_received"]["bits_per_second"] / 1e6
    rtx = d["end"]["sum_sent"].get("retransmits", -1)
except Exception:
    mbps, rtx = 0.0, -1
links = json.load(open(cf))["links"] + json.load(open(sf))["sessions"][0]["links"]
tx = sum(l["tx_bytes"] for l in links)
txp = sum(l["tx_packets"] for l in links)
rb = sum(l["recovery"]["retx_bytes"] for l in links)
lost = sum(l["recovery"]["losses"] for l in links)
rec = sum(l["recovery"]["recovered"] for l in links)
print("RESULT tx_mb=%s mbps=%.2f rtx=%d overhead=%.2f loss=%.2f lost=%d recovered=%d drops=%s" % ("/".join("%.0f" % (l["tx_bytes"]/1e6) for l in links),
    mbps, rtx, 100.0 * rb / tx if tx else 0, 100.0 * int(drops) / txp if txp else 0,
    lost, rec, drops))
PY
	exit 0
fi

val() { echo "$2" | grep '^RESULT' | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }
printf '%-6s %-4s %-2s %-8s %8s %8s %6s %9s %7s %9s\n' CC DIR P CASE Mbit/s "%clean" rtx "overhead" "loss" "recovered"
for cc in $CCS; do
	for dir in $DIRS; do
		for P in $PS; do
			clean=""
			for case_ in $CASES; do
				out=$(bash "$0" --one "$case_" "$cc" "$dir" "$P" 2>/dev/null)
				m=$(val mbps "$out")
				[ "$case_" = clean ] && clean=$m
				pct=$(python3 -c "import sys; m,c=sys.argv[1:]; print('%.0f%%' % (100*float(m)/float(c)) if c and float(c) else '-')" "${m:-0}" "${clean:-0}")
				printf '%-6s %-4s %-2s %-8s %8s %8s %6s %8s%% %6s%% %4s/%-4s\n' "$cc" "$dir" "$P" "$case_" \
					"${m:--}" "$pct" "$(val rtx "$out")" "$(val overhead "$out")" "$(val loss "$out")" \
					"$(val recovered "$out")" "$(val lost "$out")"
			done
		done
	done
done
