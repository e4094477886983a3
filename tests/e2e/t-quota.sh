#!/usr/bin/env bash
# Metered links and quotas end to end (topology in lib.sh), metered-overflow
# both ways. Link a is free with a configured rate of 500 kbit/s (so any of
# the streams below fills it, however slowly this shared machine sends);
# link b is `metered: true, quota: 2MiB` with a configured rate (a link
# without one is judged by its measured rate, which an idle link does not
# have), and the client keeps its usage in `state_file:`.
#  (1) status shows b's quota and usage; a stream that overflows a spills
#      onto b, and b's usage grows by at least what it sent;
#  (2) kill -9 of the client, restart: the usage saved in the state file is
#      reloaded, not reset;
#  (3) a down: b, the only usable link, carries everything even past its
#      quota;
#  (4) a back, b's quota used up: b carries (almost) nothing, both ways,
#      although a is full (the server learns b's usage from link-info).
. "$(dirname "$0")/lib.sh"

echo "== metered link with a quota: overflow, persistence across kill -9, quota exhausted"
topo_up
emu_start a 10.101.0.1 7001 --delay 5ms --rate 100mbit --queue 50ms
emu_start b 10.102.0.1 7002 --delay 5ms --rate 100mbit --queue 50ms
QUOTA=$((2 * 1024 * 1024))
STATE=$WORK/quota-state.json
LINK_A="rate: 500kbit" LINK_B="rate: 100mbit, metered: true, quota: 2MiB" \
	write_configs metered-overflow metered-overflow "state_file: $STATE"
daemons_start || { bad "daemons start"; summary; exit 1; }

used() { link_field client b quota_used_bytes; }
file_used() { python3 -c "import json; print(json.load(open('$STATE'))['links']['b']['used'])" 2>/dev/null || echo -1; }
state_is() { [ "$(link_field "$1" "$2" state)" = "$3" ]; }
tx() { link_field "$1" "$2" tx_bytes; }
# "idle" carried less than 5% of what "busy" did: probes and link-info
# only, where b as overflow would carry most of the stream.
quiet() { [ $(($1 * 20)) -lt "$2" ]; }
PORT=9400
# stream DIR N RATE: N 1000-byte datagrams at RATE/s, up (client -> host)
# or down (host -> client); prints how many arrived.
stream() {
	local r
	if [ "$1" = up ]; then
		bg "$WORK/s-$PORT.json" ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" recv $PORT 2
		r=$LAST_PID
		wait_udp "$NS_H" "$PORT"
		c python3 "$E2E_DIR/udpseq.py" send 10.99.0.2 $PORT "$3" "$2" 1000
	else
		bg "$WORK/s-$PORT.json" ip netns exec "$NS_C" python3 "$E2E_DIR/udpseq.py" recv $PORT 2
		r=$LAST_PID
		wait_udp "$NS_C" "$PORT"
		h python3 "$E2E_DIR/udpseq.py" send 10.77.0.2 $PORT "$3" "$2" 1000
	fi
	wait "$r"
	jq_py "d['unique']" <"$WORK/s-$PORT.json" 2>/dev/null || echo 0
	PORT=$((PORT + 1))
}

# ---- (1) usage in status, overflow onto b below the quota ----
check "status: b is metered with a 2 MiB quota" \
	test "$(link_field client b metered) $(link_field client b quota_bytes)" = "True $QUOTA"
check "status: a is not metered" test "$(link_field client a metered)" = False
u0=$(used)
a0=$(tx client a) b0=$(tx client b)
n=$(stream up 600 1000)
u1=$(used)
a1=$(tx client a) b1=$(tx client b)
echo "  8 Mbit/s over a 500 kbit/s free link: a sent $((a1 - a0)), b sent $((b1 - b0)) bytes; b used $u0 -> $u1; arrived $n/600"
check "the overflow spilled onto metered b ($((b1 - b0)) bytes)" test $((b1 - b0)) -gt 50000
check "the free link a carried its share ($((a1 - a0)) bytes)" test $((a1 - a0)) -gt 10000
check "b's quota usage grew by at least what b sent ($u0 -> $u1)" test $((u1 - u0)) -ge $((b1 - b0))
check "usage is still under the quota" test "$u1" -lt "$QUOTA"

# ---- (2) the usage survives kill -9 ----
# The daemon saves within ~2 s while usage changes (quota.c): wait for it.
saved() { [ "$(file_used)" -ge "$u1" ]; }
check "the state file caught up with the usage ($u1 bytes)" wait_for 10 saved
f=$(file_used)
kill -9 "$CLIENT_PID"
wait_for 5 bash -c "! kill -0 $CLIENT_PID 2>/dev/null"
bg "$WORK/client2.log" ip netns exec "$NS_C" "$TTT" -c "$WORK/client.yaml"
CLIENT_PID=$LAST_PID
tunnel_up() { c ping -c1 -W1 10.77.0.1; }
check "client restarted after kill -9, tunnel up" wait_for 20 tunnel_up
ip -n "$NS_C" route replace 10.99.0.0/24 dev ttt0
u2=$(used)
check "b's usage was reloaded from the state file, not reset ($f -> $u2)" test "$u2" -ge "$f"

# ---- (3) a down: the over-quota metered link is still used, it is all there is ----
emu_ctl a down >/dev/null
check "client shows a down" wait_for 10 state_is client a down
b0=$(tx client b)
n=$(stream up 2600 2000)
b1=$(tx client b)
u3=$(used)
echo "  a down: b sent $((b1 - b0)) bytes, arrived $n/2600; b used $u3 of $QUOTA"
check "b carried the stream alone ($((b1 - b0)) bytes)" test $((b1 - b0)) -ge $((2600 * 1000 * 95 / 100))
check "b's usage is past its quota now ($u3)" test "$u3" -gt "$QUOTA"

# ---- (4) a back, quota used up: b stays idle though a is full ----
emu_ctl a up >/dev/null
check "client shows a up again" wait_for 10 state_is client a up
check "server shows a up again" wait_for 10 state_is server a up
server_knows() { [ "$(link_field server b quota_used_bytes)" -gt "$QUOTA" ]; }
check "the server learned b's usage from link-info" wait_for 10 server_knows
a0=$(tx client a) b0=$(tx client b) sa0=$(tx server a) sb0=$(tx server b)
n=$(stream up 1500 1000)
m=$(stream down 1500 1000)
a1=$(tx client a) b1=$(tx client b) sa1=$(tx server a) sb1=$(tx server b)
echo "  over quota: client a $((a1 - a0)) b $((b1 - b0)), server a $((sa1 - sa0)) b $((sb1 - sb0)) bytes; arrived up $n down $m of 1500"
check "client keeps b idle over quota ($((b1 - b0)) vs $((a1 - a0)) on full a)" quiet $((b1 - b0)) $((a1 - a0))
check "server keeps b idle over quota ($((sb1 - sb0)) vs $((sa1 - sa0)) on full a)" quiet $((sb1 - sb0)) $((sa1 - sa0))

summary
