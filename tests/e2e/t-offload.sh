#!/usr/bin/env bash
# The offloads on the unimpaired path (EMU=0: the links go straight through
# W, no emulator, so the peer's UDP GSO trains reach the socket whole and
# UDP GRO has something to do). The same body runs with offloads on and
# then forced off as the control: 20 MB each way with sha256 checked, and
# the counters show the difference the offloads make, relative to the off
# run: on, tun reads and writes carry many packets each and link receives
# hold trains of datagrams; off, one packet per read, write and receive.
. "$(dirname "$0")/lib.sh"
EMU=0

echo "== offloads on the unimpaired path (on, then off as the control)"
topo_up
head -c 20000000 /dev/urandom >"$WORK/blob"
want=$(sha256sum "$WORK/blob" | cut -d' ' -f1)
ctr() { # ctr client|server COUNTER
	if [ "$1" = client ]; then cstatus; else sstatus; fi | jq_py "d['counters']['$2']"
}
port=9100
for OFFLOAD in auto off; do
	echo "-- offload $OFFLOAD"
	rm -f "$WORK/client.key"
	SINGLE=1 write_configs roundrobin roundrobin
	daemons_start || { bad "daemons start (offload $OFFLOAD)"; continue; }
	port=$((port + 1))
	bg "$WORK/recv-up.out" ip netns exec "$NS_H" python3 "$E2E_DIR/tcpxfer.py" recv $port
	rp=$LAST_PID
	wait_listen "$NS_H" $port
	c python3 "$E2E_DIR/tcpxfer.py" send 10.99.0.2 $port "$WORK/blob"
	wait "$rp"
	check "20 MB client->host, offload $OFFLOAD: sha256 matches" \
		test "$(cut -d' ' -f1 "$WORK/recv-up.out")" = "$want"
	port=$((port + 1))
	bg "$WORK/recv-down.out" ip netns exec "$NS_C" python3 "$E2E_DIR/tcpxfer.py" recv $port
	rp=$LAST_PID
	wait_listen "$NS_C" $port
	h python3 "$E2E_DIR/tcpxfer.py" send 10.77.0.2 $port "$WORK/blob"
	wait "$rp"
	check "20 MB host->client, offload $OFFLOAD: sha256 matches" \
		test "$(cut -d' ' -f1 "$WORK/recv-down.out")" = "$want"
	offload_checks both
	# Packets per tun read on the sender, per tun write on the receiver,
	# datagrams per GRO'd link receive.
	for side in client server; do
		reads=$(off_field $side gso_reads)
		segs=$(off_field $side gso_segments)
		eval "segs_per_read_$OFFLOAD=\$(( ${segs:-0} / (${reads:-0} > 0 ? $reads : 1) ))"
		w=$(off_field $side gro_writes) ws=$(off_field $side gro_segments)
		eval "segs_per_write_$OFFLOAD=\$(( ${ws:-0} / (${w:-0} > 0 ? $w : 1) ))"
		g=$(ctr $side udp_gro_receives) gd=$(ctr $side udp_gro_datagrams)
		eval "gro_${side}_$OFFLOAD=$g"
		echo "  $side: $segs segments in $reads super-packet reads, $ws in $w coalesced writes, $gd datagrams in $g GRO'd receives"
	done
	kill "$CLIENT_PID" "$SERVER_PID"
	wait "$CLIENT_PID" "$SERVER_PID" 2>/dev/null
	ip -n "$NS_C" route del 10.99.0.0/24 2>/dev/null
	ip -n "$NS_C" rule del from 10.102.0.2 table 102 2>/dev/null
	ip -n "$NS_C" route flush table 102 2>/dev/null
done
check "offloads on: the link sockets received GRO'd trains both ways ($gro_client_auto, $gro_server_auto; off: $gro_client_off, $gro_server_off)" \
	test "$gro_client_auto" -gt 0 -a "$gro_server_auto" -gt 0 -a "$gro_client_off" -eq 0 -a "$gro_server_off" -eq 0
check "offloads on: more than 4 segments per tun read and per tun write (off: none)" \
	test "$segs_per_read_auto" -gt 4 -a "$segs_per_write_auto" -gt 4 -a "$segs_per_read_off" -eq 0 -a "$segs_per_write_off" -eq 0
summary
