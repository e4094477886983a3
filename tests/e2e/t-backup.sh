#!/usr/bin/env bash
# Backup links end to end (topology in lib.sh): link b is `backup: true` in
# the client's YAML only; the server learns it from the client's link-info
# message. Round robin both ways, so any traffic on b is the host's policy:
#  (1) both links up: b shows "standby" at both ends and, while a UDP stream
#      runs each way, carries (almost) nothing: its tx bytes grow by less
#      than 2% of a's (probes only);
#  (2) a's emulator down: a is down at both ends, b is up and carries the
#      streams both ways;
#  (3) a back: b is standby again and traffic moves back to a.
. "$(dirname "$0")/lib.sh"

echo "== backup link: standby while the primary is up, takes over, gives back"
topo_up
emu_start a 10.101.0.1 7001 --delay 5ms --rate 100mbit --queue 50ms
emu_start b 10.102.0.1 7002 --delay 5ms --rate 100mbit --queue 50ms
LINK_B="backup: true" write_configs roundrobin roundrobin
daemons_start || { bad "daemons start"; summary; exit 1; }

state_is() { [ "$(link_field "$1" "$2" state)" = "$3" ]; }
both_state() { state_is client "$1" "$2" && state_is server "$1" "$2"; }
bytes() { echo "$(link_field "$1" a tx_bytes) $(link_field "$1" b tx_bytes)"; }
N=4000
PORT=9300
# Runs a 1000-byte UDP stream each way at once ($N datagrams, 2000/s) and
# sets CA CB SA SB (client/server tx bytes on a/b during it) and UP DOWN
# (datagrams that arrived).
streams() {
	local ca0 cb0 sa0 sb0 ca1 cb1 sa1 sb1 r1 r2 s2
	read -r ca0 cb0 <<<"$(bytes client)"
	read -r sa0 sb0 <<<"$(bytes server)"
	bg "$WORK/up-$PORT.json" ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" recv $PORT 2
	r1=$LAST_PID
	bg "$WORK/down-$PORT.json" ip netns exec "$NS_C" python3 "$E2E_DIR/udpseq.py" recv $((PORT + 1)) 2
	r2=$LAST_PID
	wait_udp "$NS_H" "$PORT"
	wait_udp "$NS_C" $((PORT + 1))
	bg /dev/null ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" send 10.77.0.2 $((PORT + 1)) 2000 $N 1000
	s2=$LAST_PID
	c python3 "$E2E_DIR/udpseq.py" send 10.99.0.2 $PORT 2000 $N 1000
	wait "$s2" "$r1" "$r2"
	read -r ca1 cb1 <<<"$(bytes client)"
	read -r sa1 sb1 <<<"$(bytes server)"
	CA=$((ca1 - ca0)) CB=$((cb1 - cb0)) SA=$((sa1 - sa0)) SB=$((sb1 - sb0))
	UP=$(jq_py "d['unique']" <"$WORK/up-$PORT.json" 2>/dev/null || echo 0)
	DOWN=$(jq_py "d['unique']" <"$WORK/down-$PORT.json" 2>/dev/null || echo 0)
	PORT=$((PORT + 2))
	echo "  tx bytes: client a $CA b $CB, server a $SA b $SB; arrived up $UP down $DOWN of $N"
}
# "idle" carried less than 2% of what "busy" did (probes, link-info).
quiet() { [ $(($1 * 50)) -lt "$2" ]; }
# At least 95% of the stream arrived (delivery, not speed).
most() { [ $(($1 * 100)) -ge $((N * 95)) ]; }

# ---- (1) primary up: backup on standby at both ends ----
check "client shows b standby" wait_for 5 state_is client b standby
check "server learned b is a backup: standby" wait_for 10 state_is server b standby
check "server status flags b as backup" \
	test "$(link_field server b backup)" = True
check "a is up at both ends" both_state a up
streams
check "client sent (almost) nothing on backup b ($CB vs $CA on a)" quiet "$CB" "$CA"
check "server sent (almost) nothing on backup b ($SB vs $SA on a)" quiet "$SB" "$SA"
check "the streams went through on a (up $UP, down $DOWN)" bash -c "$(declare -f most); N=$N; most $UP && most $DOWN"

# ---- (2) primary down: backup takes everything ----
emu_ctl a down >/dev/null
check "client shows a down" wait_for 10 state_is client a down
check "server shows a down" wait_for 10 state_is server a down
check "b is up at both ends" wait_for 5 both_state b up
streams
check "client sends on b now ($CB bytes), not on a ($CA)" quiet "$CA" "$CB"
check "server sends on b now ($SB bytes), not on a ($SA)" quiet "$SA" "$SB"
check "the streams went through on b (up $UP, down $DOWN)" bash -c "$(declare -f most); N=$N; most $UP && most $DOWN"

# ---- (3) primary back: traffic moves back ----
emu_ctl a up >/dev/null
check "a is up again at both ends" wait_for 10 both_state a up
check "b is standby again at both ends" wait_for 5 both_state b standby
streams
check "client is back on a ($CA), b quiet ($CB)" quiet "$CB" "$CA"
check "server is back on a ($SA), b quiet ($SB)" quiet "$SB" "$SA"
check "the streams went through (up $UP, down $DOWN)" bash -c "$(declare -f most); N=$N; most $UP && most $DOWN"

summary
