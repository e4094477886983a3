#!/usr/bin/env bash
# The closed-loop link model end to end (topology in lib.sh), with no `rate:`
# on either link, over two unequal emulated links with modem-deep queues:
#  - a bulk TCP upload puts traffic on both links in proportion to their
#    capacity (generous band), and the capacities the client estimates
#    (status --json) are within 25% of the emulator's rates;
#  - when link a's emulator rate steps down by 70%, its share follows within
#    a few seconds while the emulator's drop counter on a stays small
#    (compared with the packets sent, not with a time);
#  - a 50 MB transfer each way keeps its sha256, and the DF ping of exactly
#    the tun MTU passes.
. "$(dirname "$0")/lib.sh"

echo "== link model: no rate:, unequal links, capacity step"
topo_up
RA=20 RB=8
# Modem-deep queues, and the IP + UDP headers counted in the rate as a
# real link does.
emu_start a 10.101.0.1 7001 --delay 10ms --rate ${RA}mbit --queue 200ms --overhead auto
emu_start b 10.102.0.1 7002 --delay 20ms --rate ${RB}mbit --queue 200ms --overhead auto
write_configs earliest-arrival earliest-arrival
# The client loads plugins from a copy of plugins.d plus the test plugin
# that counts the feedback samples it gets.
mkdir -p "$WORK/cplug"
cp "$TOP"/plugins.d/*.so "$WORK/cplug/"
[ -f "$TOP/build/testplugins/good.so" ] || make -C "$TOP" -s build/testplugins/good.so >/dev/null
cp "$TOP/build/testplugins/good.so" "$WORK/cplug/"
sed -i "s|^plugin_dir: .*|plugin_dir: $WORK/cplug|" "$WORK/client.yaml"
daemons_start || { bad "daemons start"; summary; exit 1; }

# Bytes a link carried over a window, from the client's counters.
txb() { link_field client "$1" tx_bytes; }
emu_drops() { # emu_drops NAME: queue drops towards the server so far
	emu_ctl "$1" stats | jq_py "d['to_server']['drop_queue']"
}
emu_fwd() { emu_ctl "$1" stats | jq_py "d['to_server']['fwd_pkts']"; }

bg "$WORK/iperf-s.log" ip netns exec "$NS_H" iperf3 -s -p 5201
wait_listen "$NS_H" 5201
bg "$WORK/iperf-up.json" ip netns exec "$NS_C" iperf3 -c 10.99.0.2 -p 5201 -t 22 -J
IPERF=$LAST_PID
sleep 6 # past startup
a0=$(txb a) b0=$(txb b)
sleep 4
a1=$(txb a) b1=$(txb b)
st=$(cstatus)
echo "$st" >"$WORK/status-steady.json"
capa=$(echo "$st" | jq_py "[l['capacity_bps'] for l in d['links'] if l['name']=='a'][0]")
capb=$(echo "$st" | jq_py "[l['capacity_bps'] for l in d['links'] if l['name']=='b'][0]")
share=$(python3 -c "print(round(($a1-$a0)/max(1,($a1-$a0)+($b1-$b0)),3))")
want=$(python3 -c "print(round($RA/($RA+$RB),3))")
echo "  steady: share of a $share (capacity ratio $want), estimates a $capa b $capb bit/s"
check "traffic on both links in proportion to capacity ($share vs $want, +-0.12)" \
	python3 -c "import sys; sys.exit(0 if abs($share-$want) <= 0.12 else 1)"
check "capacity estimate of a within 25% of ${RA} Mbit/s ($capa)" \
	python3 -c "import sys; sys.exit(0 if abs($capa/${RA}e6-1) <= 0.25 else 1)"
check "capacity estimate of b within 25% of ${RB} Mbit/s ($capb)" \
	python3 -c "import sys; sys.exit(0 if abs($capb/${RB}e6-1) <= 0.25 else 1)"
# past startup: every link in steady state (or back in STARTUP through a
# re-probe, which the model then counts), its STARTUP exits (full pipe)
# and re-entries counted in the model
ph=$(echo "$st" | jq_py "' '.join('%s:%s:%d:%d' % (l['name'], l['model']['phase'], l['model']['startup_full_exits'], l['model']['startup_reentries']) for l in d['links'])")
echo "  model: $ph (link:phase:startup_full_exits:startup_reentries)"
check "status: both links past STARTUP, exits and re-entries counted ($ph)" \
	python3 -c "import sys; f = [x.split(':') for x in '$ph'.split()]; sys.exit(0 if len(f) == 2 and all(x[1] == 'steady' or int(x[3]) > 0 for x in f) else 1)"

# Step a down by 70%.
RA2=6
dq0=$(emu_drops a) fw0=$(emu_fwd a)
emu_ctl a rate ${RA2}mbit >/dev/null
sleep 3 # "within a few seconds"
a2=$(txb a) b2=$(txb b)
sleep 4
a3=$(txb a) b3=$(txb b)
dq1=$(emu_drops a) fw1=$(emu_fwd a)
share2=$(python3 -c "print(round(($a3-$a2)/max(1,($a3-$a2)+($b3-$b2)),3))")
want2=$(python3 -c "print(round($RA2/($RA2+$RB),3))")
capa2=$(link_field client a capacity_bps)
echo "  after the step: share of a $share2 (capacity ratio $want2), estimate a $capa2, emulator drops on a $((dq1 - dq0)) of $((fw1 - fw0)) forwarded"
check "a's share follows the step ($share2 vs $want2, +-0.12)" \
	python3 -c "import sys; sys.exit(0 if abs($share2-$want2) <= 0.12 else 1)"
check "capacity estimate of a follows the step within 25% of ${RA2} Mbit/s ($capa2)" \
	python3 -c "import sys; sys.exit(0 if abs($capa2/${RA2}e6-1) <= 0.25 else 1)"
check "emulator drops on a stay small (<2% of forwarded)" \
	python3 -c "import sys; sys.exit(0 if ($dq1-$dq0) <= 0.02*max(1,$fw1-$fw0) else 1)"
wait "$IPERF" 2>/dev/null
up=$(python3 -c "import json; d=json.load(open('$WORK/iperf-up.json')); print(round(d['end']['sum_received']['bits_per_second']/1e6,1))" 2>/dev/null || echo 0)
echo "  iperf3 upload over the whole run: $up Mbit/s"
emu_ctl a rate ${RA}mbit >/dev/null

# The plugin contract: a plugin's feedback op gets every kind of sample
# (SENT per batch, RTT per probe answer, DELIVERED and LOST from the far
# end's reports). Loss on a for the LOST kind.
"$CTL" -s "$WORK/client.sock" scheduler set upstream good >/dev/null
emu_ctl a loss 3% >/dev/null
bg "$WORK/iperf-s2.log" ip netns exec "$NS_H" iperf3 -s -1 -p 5202
wait_listen "$NS_H" 5202
c iperf3 -c 10.99.0.2 -p 5202 -t 3 >/dev/null 2>&1
emu_ctl a loss 0% >/dev/null
fbst=$(cstatus | jq_py "d['scheduler']['upstream']['state']")
echo "  feedback samples the plugin got: $fbst"
for k in sent rtt delivered lost; do
	n=$(echo "$fbst" | python3 -c "import ast,sys; print(ast.literal_eval(sys.stdin.read()).get('$k', 0))")
	check "plugin feedback: $k samples arrive ($n)" test "$n" -gt 0
done
"$CTL" -s "$WORK/client.sock" scheduler set upstream earliest-arrival >/dev/null

# Integrity both ways with no rate:, and the DF ping of exactly the tun MTU.
head -c 50000000 /dev/urandom >"$WORK/blob"
want_sum=$(sha256sum <"$WORK/blob" | cut -d' ' -f1)
bg "$WORK/recv-up.out" ip netns exec "$NS_H" python3 "$E2E_DIR/tcpxfer.py" recv 9001
rp=$LAST_PID
wait_listen "$NS_H" 9001
c python3 "$E2E_DIR/tcpxfer.py" send 10.99.0.2 9001 "$WORK/blob"
wait "$rp"
got=$(cut -d' ' -f1 "$WORK/recv-up.out")
check "50 MB client->host transfer: sha256 matches" test "$got" = "$want_sum"
bg "$WORK/recv-down.out" ip netns exec "$NS_C" python3 "$E2E_DIR/tcpxfer.py" recv 9002
rp=$LAST_PID
wait_listen "$NS_C" 9002
h python3 "$E2E_DIR/tcpxfer.py" send 10.77.0.2 9002 "$WORK/blob"
wait "$rp"
got=$(cut -d' ' -f1 "$WORK/recv-down.out")
check "50 MB host->client transfer: sha256 matches" test "$got" = "$want_sum"
mtu=$(c cat /sys/class/net/ttt0/mtu)
check "DF ping of exactly the tun MTU ($mtu bytes) passes" \
	c ping -c 3 -W 2 -M do -s $((mtu - 28)) 10.99.0.2
summary
