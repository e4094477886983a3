#!/usr/bin/env bash
# Loss recovery inside the tunnel (issue 13, docs/loss-recovery.md):
#
#   client --[a: 20 Mbit/s, 10 ms]--------------+
#          --[b: 20 Mbit/s, 10 ms, 3% loss]-----+-- server -- host
#
# A 50 MB TCP upload over the bond (roundrobin: half of every flow on b),
# b losing 3% of its packets at random, then (half-way) in bursts of 4 on
# average. Checks, all on counters:
#  - the file arrives with its sha256;
#  - the server (receiver) found the gaps on b and the packets it got back
#    cover >= 95% of what the emulator dropped towards the server on b;
#  - the resends (client, sender) stay within the budget (10% of what was
#    sent) and at most 1.5x the packets lost (plus a little for NACK copies
#    of a loss the emulator reordered: none here);
#  - the receiver's tun saw (almost) no gap: the client's TCP retransmitted
#    per MB at most a third of what it did in the control run (not
#    counting the retransmissions of the client's own CoDel drops, which
#    are congestion signals and no business of recovery);
#  - the client's CoDel interval is longer than configured while it
#    resends (docs/loss-recovery.md, "The AQM and recovery");
#  - control run, `recovery: { enabled: false }`, same links, 10 MB: the
#    server finds gaps on b and nothing is resent, so they reach the tun;
#    the CoDel interval stays as configured.
# (The reorder buffer's `lost` counter is no measure of gaps: seqs of
# probes and reports, which never enter it, count there too.)
# The prober's degraded threshold is raised so b stays UP: marking b
# degraded would move the traffic off it and leave nothing to recover.
. "$(dirname "$0")/lib.sh"
[ -x /usr/bin/python3 ] && PATH=/usr/bin:$PATH

echo "== loss recovery"
topo_up
emu_start a 10.101.0.1 7001 --delay 10ms --rate 20mbit --queue 50ms
emu_start b 10.102.0.1 7002 --delay 10ms --rate 20mbit --queue 50ms --loss 3%

listening() { ip netns exec "$1" ss -ltn | grep -q ":$2 "; }
xfer_start() { # xfer_start PORT FILE: upload client -> host, in background
	bg "$WORK/recv-$1.out" ip netns exec "$NS_H" python3 "$E2E_DIR/tcpxfer.py" recv "$1"
	RECV_PID=$LAST_PID
	wait_for 10 listening "$NS_H" "$1"
	bg "$WORK/send-$1.out" ip netns exec "$NS_C" python3 "$E2E_DIR/tcpxfer.py" send 10.99.0.2 "$1" "$2"
	SEND_PID=$LAST_PID
}
xfer_ok() { # xfer_ok PORT FILE
	wait "$SEND_PID"
	wait "$RECV_PID"
	[ "$(cut -d' ' -f1 "$WORK/recv-$1.out")" = "$(sha256sum "$2" | cut -d' ' -f1)" ]
}
retrans() { c nstat -az TcpRetransSegs | awk '/TcpRetransSegs/ {print $2}'; }
aqm() { cstatus | jq_py "d['session']['queue']['dropped_aqm']"; }
emu_drops() { emu_ctl b stats | jq_py "d['to_server']['drop_loss']"; }
# srec FIELD: the server's recovery figure for link b (what arrived on b)
srec() { sstatus | jq_py "[l['recovery']['$1'] for l in d['sessions'][0]['links'] if l['name']=='b'][0]"; }
# csum FIELD: the client's (sender's) figure summed over its links
csum() { cstatus | jq_py "sum(l$1 for l in d['links'])"; }
restart() { # restart RECOVERY_YAML: daemons with another recovery section
	if [ -n "${CLIENT_PID:-}" ]; then
		kill "$CLIENT_PID" "$SERVER_PID" 2>/dev/null
		wait "$CLIENT_PID" "$SERVER_PID" 2>/dev/null
	fi
	rm -f "$WORK/client.sock" "$WORK/server.sock"
	rm -f "$WORK/client.key"
	PROBE="{ degraded_loss: 50% }" RECOVERY="$1" write_configs roundrobin roundrobin
	emu_ctl a reset >/dev/null
	emu_ctl b reset >/dev/null
	daemons_start
}

head -c 50000000 /dev/urandom >"$WORK/blob50"
head -c 10000000 /dev/urandom >"$WORK/blob10"

# ---- recovery on ----
restart "{ enabled: true, budget: 10 }" || { bad "daemons start"; summary; exit 1; }
r0=$(retrans)
xfer_start 9300 "$WORK/blob50"
# half-way: the same loss rate in bursts
wait_for 60 bash -c "[ \$('$CTL' -s '$WORK/client.sock' status --json | python3 -c 'import json,sys; print(sum(l[\"tx_bytes\"] for l in json.load(sys.stdin)[\"links\"]))') -gt 27000000 ]"
emu_ctl b loss-burst 4 >/dev/null
check "50 MB upload over a lossy bond (random, then bursts), sha256 intact" xfer_ok 9300 "$WORK/blob50"
sleep 0.5 # the last NACKs and resends
# the sender's CoDel interval while losses are being recovered (read
# first: it falls back 2 s after the last resend)
ivl_on=$(cstatus | jq_py "d['session']['queue']['aqm_interval_ms']")
r1=$(retrans)
drops=$(emu_drops)
losses=$(srec losses)
rec=$(srec recovered)
late=$(srec recovered_late)
nsent=$(srec nacks_sent)
retx_pkts=$(csum "['recovery']['retx_packets']")
retx_bytes=$(csum "['recovery']['retx_bytes']")
# a link the prober suspects for a few ms (a loss burst took its probes)
# has its unacknowledged packets resent too: counted apart
fo=$(csum "['recovery']['failover_resent']")
tx_bytes=$(csum "['tx_bytes']")
nrx=$(cstatus | jq_py "[l['recovery']['nacks_received'] for l in d['links'] if l['name']=='b'][0]")
echo "  emulator dropped $drops on b; server saw $losses lost, sent $nsent NACKs," \
	"recovered $rec, $late too late"
echo "  client: $nrx NACKed on b, resent $retx_pkts packets / $retx_bytes of $tx_bytes bytes;" \
	"TCP retransmitted $((r1 - r0)) segments"
cstatus >"$WORK/status-on.json"
check "the emulator did drop packets on b ($drops)" test "$drops" -gt 200
# The emulator's count includes probes, reports and NACKs on b; the DATA
# share of what b carried scales it to the DATA packets lost.
fwd=$(emu_ctl b stats | jq_py "d['to_server']['fwd_pkts']")
rxd=$(srec rx_data_packets)
exp=$((drops * rxd / (fwd > 0 ? fwd : 1)))
echo "  b carried $fwd packets to the server, $rxd of them DATA: ~$exp DATA packets dropped"
check "the server found the DATA gaps on b ($losses, ~$exp expected, within 15%)" \
	test $((losses * 100)) -ge $((exp * 85)) -a $((losses * 100)) -le $((exp * 115))
check "recovered >= 95% of the lost packets on b ($rec of $losses found, ~$exp dropped)" \
	test $((rec * 100)) -ge $((losses * 95))
check "resends within the 10% budget ($retx_bytes of $tx_bytes bytes)" test $((retx_bytes * 10)) -le "$tx_bytes"
echo "  $fo of the resends were a suspended link's unacknowledged packets"
check "NACKed resends at most 1.5x the losses ($((retx_pkts - fo)) for $losses)" \
	test $(((retx_pkts - fo) * 2)) -le $((losses * 3))
# TCP's own retransmissions, less those of the daemon's CoDel drops
# (congestion signals, which recovery must leave alone)
on_aqm=$(aqm)
on_rt=$((r1 - r0 - on_aqm))
"$CTL" -s "$WORK/client.sock" status >"$WORK/status-on.txt"
check "human status shows the recovery line" grep -q "^recovery: .* resent" "$WORK/status-on.txt"
check "human status shows link b's recovery figures" grep -q "b: .* lost, .* recovered" "$WORK/status-on.txt"
nd=$(jq_py "d['recovery']['nack_delay_ms']" <"$WORK/status-on.json")
check "status: the sender measured the NACK delay of its resends ($nd ms)" \
	python3 -c "import sys; sys.exit(not float('$nd') > 0)"
rr=$(jq_py "[l['model']['random_loss_rounds'] for l in d['links'] if l['name']=='b'][0]" <"$WORK/status-on.json")
lc=$(jq_py "[l['model']['loss_cuts'] for l in d['links'] if l['name']=='b'][0]" <"$WORK/status-on.json")
check "status: b's random loss was not taken for congestion ($rr rounds, $lc loss cuts)" \
	test "$rr" -gt "$lc"
check "status: CoDel's interval grew while losses were recovered ($ivl_on ms, 100 configured)" \
	python3 -c "import sys; sys.exit(not float('$ivl_on') > 100)"
check "status: no copies ahead while copy_ahead is off" \
	test "$(jq_py "d['recovery']['copies_ahead']" <"$WORK/status-on.json")" -eq 0

# ---- control: recovery off ----
emu_ctl b loss-burst 0 >/dev/null
restart "{ enabled: false }" || { bad "daemons start (control)"; summary; exit 1; }
r0=$(retrans)
xfer_start 9301 "$WORK/blob10"
check "control: 10 MB upload, sha256 intact" xfer_ok 9301 "$WORK/blob10"
ivl_off=$(cstatus | jq_py "d['session']['queue']['aqm_interval_ms']")
r1=$(retrans)
drops=$(emu_drops)
rec=$(srec recovered)
off_aqm=$(aqm)
off_rt=$((r1 - r0 - off_aqm))
losses=$(srec losses)
echo "  control: emulator dropped $drops on b, server found $losses gaps; recovered $rec;" \
	"TCP retransmitted $((r1 - r0)) segments, $off_aqm CoDel drops"
echo "  beyond CoDel's drops: $off_rt retransmissions (with recovery: $on_rt for 5x the data)"
check "control: CoDel's interval stays as configured ($ivl_off ms)" \
	python3 -c "import sys; sys.exit(not float('$ivl_off') == 100)"
check "control: status says recovery is off" test "$(cstatus | jq_py "d['recovery']['enabled']")" = False
check "control: nothing recovered ($rec)" test "$rec" -eq 0
check "control: the gaps reach the receiver's tun ($losses found, none resent)" \
	test "$losses" -gt 0 -a "$(srec recovered_late)" -eq 0 -a "$(csum "['recovery']['retx_packets']")" -eq 0
# per MB: on = on_rt/50, off = off_rt/10; recovery must cut it at least 3x
check "recovery cuts TCP's retransmissions per MB ($on_rt/50 vs $off_rt/10)" \
	test $((on_rt * 3)) -le $((off_rt * 5))

# ---- copy_ahead: a lossy link's packets also go at once on an idle one ----
# Copies use only idle capacity (no link held full for 100 ms, nothing in
# the session queue), so a bulk transfer, which keeps both links full,
# makes almost none: it checks only that copies do not corrupt a stream.
# A paced UDP stream at a fifth of the bond leaves the links idle between
# packets: there b's packets are copied onto a, and the receiver gets
# (almost) every one: the copy or a NACKed resend covers each loss.
restart "{ enabled: true, budget: 10, copy_ahead: true }" || { bad "daemons start (copy_ahead)"; summary; exit 1; }
xfer_start 9302 "$WORK/blob10"
check "copy_ahead: 10 MB upload, sha256 intact" xfer_ok 9302 "$WORK/blob10"
ca0=$(cstatus | jq_py "d['recovery']['copies_ahead']")
d0=$(emu_drops)
bg "$WORK/udp-9303.out" ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" recv 9303 2
urp=$LAST_PID
wait_udp "$NS_H" 9303
c python3 "$E2E_DIR/udpseq.py" send 10.99.0.2 9303 500 3000 1000
wait "$urp"
ca=$(($(cstatus | jq_py "d['recovery']['copies_ahead']") - ca0))
ud=$(($(emu_drops) - d0))
ulost=$(jq_py "d['lost']" <"$WORK/udp-9303.out")
echo "  copy_ahead: $ca0 copies during the bulk transfer, $ca during the paced stream;" \
	"emulator dropped $ud on b, the receiver missed $ulost of 3000"
check "copy_ahead: a paced stream's packets on the lossy link were copied ahead ($ca)" \
	test "$ca" -gt 100
check "copy_ahead: the paced stream lost (almost) nothing ($ulost missing, $ud dropped on b)" \
	test "$ud" -gt 0 -a $((ulost * 20)) -le "$ud"

summary
