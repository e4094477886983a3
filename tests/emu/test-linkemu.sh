#!/usr/bin/env bash
# End-to-end test of the link emulator with real traffic on loopback.
#
#   udpgen ----> [relay --listen P0 --forward P1] ----> echo or sink on P1
#          <----          (impairs both ways)    <----
#
# Every process is started here and killed by pid; ports are random high
# ports checked against /proc/net/udp*; everything is removed on exit.
# Measurements use generous windows: this checks behaviour, not speed.
# Ends with "test-linkemu: N passed, N failed" (the form tests/e2e/run-all.sh
# parses); exit status 1 if anything failed.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
EMU=${TTT_LINKEMU:-$ROOT/build/ttt-linkemu}
TMP=$(mktemp -d /tmp/ttt-linkemu-test.$$.XXXXXX)
PIDS=()
pass=0
fail=0

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() {
	pass=$((pass + 1))
	echo "ok   - $*"
}
not_ok() {
	fail=$((fail + 1))
	echo "FAIL - $*"
}
# check DESCRIPTION COMMAND...: passes if the command succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# A UDP port nobody on this host has bound (IPv4 or IPv6).
free_port() {
	local p hex
	while :; do
		p=$((20000 + RANDOM % 40000))
		hex=$(printf ':%04X ' "$p")
		grep -q "$hex" /proc/net/udp /proc/net/udp6 2>/dev/null || break
	done
	echo "$p"
}

# Polls until a UDP port is bound (the tools bind before serving).
wait_udp() {
	local hex i
	hex=$(printf ':%04X ' "$1")
	for i in $(seq 100); do
		grep -q "$hex" /proc/net/udp /proc/net/udp6 2>/dev/null && return 0
		sleep 0.05
	done
	echo "port $1 never bound" >&2
	return 1
}

wait_sock() {
	local i
	for i in $(seq 100); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	echo "control socket $1 never appeared" >&2
	return 1
}

# bg NAME CMD...: runs CMD in the background, output in $TMP/NAME.{out,err};
# sets BG_PID.
bg() {
	local name=$1
	shift
	"$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# kv KEY TEXT: the value of KEY=value in a tool's report line.
kv() {
	local w
	for w in $2; do
		[ "${w%%=*}" = "$1" ] && echo "${w#*=}" && return
	done
}

# js PATH JSON: a field of the relay's JSON reply, PATH like "state" or
# "to_server.drop_loss" (its objects are flat and nest one level), in pure
# bash: these run many times and an interpreter start-up each is slow.
js() {
	local v=$2 key=$1
	if [[ $key == *.* ]]; then
		v=${v#*\"${key%%.*}\":\{}
		v=${v%%\}*}
		key=${key#*.}
	fi
	v=${v#*\"$key\":}
	v=${v%%[,\}]*}
	v=${v#\"}
	echo "${v%\"}"
}

ctl() { "$EMU" --ctl "$SOCK" "$@"; }

# match STRING GLOB: [[ ]] cannot be passed to check, a function can.
match() { [[ $1 == $2 ]]; }
# both [ A ] match S G: the test and the match must both hold.
both() {
	local t=()
	while [ "$1" != "]" ]; do t+=("$1"); shift; done
	shift
	[ "${t[@]:1}" ] && "$@"
}

# poll CMD...: retries CMD for up to 5 s (conditions, not sleeps).
poll() {
	local i
	for i in $(seq 250); do
		"$@" && return 0
		sleep 0.02
	done
	return 1
}

# Waits until the relay reports the given state (signals are asynchronous).
wait_state() {
	state_is() { [ "$(js state "$(ctl show)")" = "$1" ]; }
	poll state_is "$1"
}

# relay NAME FORWARD_PORT ARGS...: starts a relay on a fresh port (LPORT),
# control socket SOCK; HOST is 127.0.0.1 or ::1.
relay() {
	local name=$1 fport=$2
	shift 2
	LPORT=$(free_port)
	SOCK=$TMP/$name.sock
	bg "$name" "$EMU" --listen "$(hp "$LPORT")" --forward "$(hp "$fport")" \
		--control "$SOCK" --seed 1 "$@"
	RELAY_PID=$BG_PID
	wait_sock "$SOCK" && wait_udp "$LPORT"
}

hp() {
	if [ "$HOST" = "::1" ]; then echo "[::1]:$1"; else echo "127.0.0.1:$1"; fi
}

echo_server() {
	EPORT=$(free_port)
	bg echo "$EMU" --echo "$(hp "$EPORT")"
	ECHO_PID=$BG_PID
	wait_udp "$EPORT"
}

gen() { "$EMU" --udpgen "$(hp "$LPORT")" "$@" 2>>"$TMP/gen.err"; }

if [ ! -x "$EMU" ]; then
	echo "missing $EMU: run 'make build/ttt-linkemu' first"
	echo "test-linkemu: 0 passed, 1 failed"
	exit 1
fi

# --- 0. model unit tests (cmocka, ASan+UBSan) --------------------------------
unit() {
	local srcs
	srcs=$(ls "$HERE"/*.c | grep -v '/emu_main\.c$')
	${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
		-Wmissing-prototypes -Wno-unused-parameter -D_GNU_SOURCE \
		-I"$ROOT/include" -I"$ROOT/core" -I"$HERE" -O1 -g \
		-fsanitize=address,undefined -fno-sanitize-recover=all \
		-o "$TMP/test_emu" "$HERE/unit/test_emu.c" $srcs \
		$(pkg-config --libs cmocka) -lev -lm >"$TMP/unit.log" 2>&1 &&
		"$TMP/test_emu" >>"$TMP/unit.log" 2>&1
}
if unit; then
	ok "model unit tests: $(grep -o 'PASSED.*' "$TMP/unit.log")"
else
	not_ok "model unit tests"
	sed 's/^/    /' "$TMP/unit.log"
fi

# --- 1. delay: RTT ~ 2*delay, IPv4 and IPv6 ---------------------------------
test_delay() {
	echo_server || return
	relay delay "$EPORT" --delay 20ms || return
	local r
	r=$(gen --count 20 --interval 10ms --wait 1s)
	echo "    $HOST: $r"
	check "$HOST delay 20ms: all 20 echoes back" [ "$(kv received "$r")" = 20 ]
	check "$HOST delay 20ms: min RTT >= 40ms" \
		awk -v v="$(kv rtt_min_ms "$r")" 'BEGIN { exit !(v >= 40) }'
	check "$HOST delay 20ms: avg RTT < 90ms" \
		awk -v v="$(kv rtt_avg_ms "$r")" 'BEGIN { exit !(v < 90) }'
	local want=28
	[ "$HOST" = "::1" ] && want=48
	check "$HOST: auto overhead is $want bytes" \
		[ "$(js overhead "$(ctl show)")" = $want ]
	ctl delay 50ms >/dev/null
	r=$(gen --count 10 --interval 10ms --wait 1s)
	check "$HOST live 'delay 50ms': min RTT >= 100ms" \
		awk -v v="$(kv rtt_min_ms "$r")" 'BEGIN { exit !(v >= 100) }'
	stop "$RELAY_PID"
	stop "$ECHO_PID"
}
HOST=127.0.0.1 test_delay
if grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null; then
	HOST=::1 test_delay
else
	echo "skip - no IPv6 loopback"
fi
HOST=127.0.0.1

# --- 2. loss 20% over 1000 packets, measured at the receiver -----------------
test_loss() {
	local sport r s lost
	sport=$(free_port)
	bg sink "$EMU" --sink "$(hp "$sport")" --idle 1s --timeout 20s
	local spid=$BG_PID
	wait_udp "$sport" || return
	relay loss "$sport" --loss 20% || return
	gen --count 1000 --interval 200us >/dev/null
	wait "$spid"
	r=$(cat "$TMP/sink.out")
	s=$(ctl stats)
	lost=$((1000 - $(kv received "$r")))
	echo "    sink: $r; relay drop_loss=$(js to_server.drop_loss "$s")"
	check "loss 20%: 100..300 of 1000 lost (lost $lost)" \
		[ "$lost" -ge 100 -a "$lost" -le 300 ]
	check "loss 20%: relay drop_loss counts exactly what the sink missed" \
		[ "$(js to_server.drop_loss "$s")" = "$lost" ]
	stop "$RELAY_PID"
}
test_loss

# --- 3. rate 10mbit: 3 MB offered in 0.2 s ------------------------------------
test_rate() {
	local sport r s rate
	sport=$(free_port)
	bg sink "$EMU" --sink "$(hp "$sport")" --idle 1s --timeout 20s
	local spid=$BG_PID
	wait_udp "$sport" || return
	relay rate "$sport" --rate 10mbit --queue 100ms || return
	# 2143 x 1400 bytes = 3 MB, one every 93 us = 0.2 s (120 Mbit/s).
	gen --count 2143 --size 1400 --interval 93us >/dev/null
	wait "$spid"
	r=$(cat "$TMP/sink.out")
	s=$(ctl stats)
	rate=$(kv rate_bps "$r")
	echo "    sink: $r"
	echo "    relay: $s"
	check "rate 10mbit: receiver sees <= 11 Mbit/s ($rate)" \
		awk -v v="$rate" 'BEGIN { exit !(v <= 11e6) }'
	check "rate 10mbit: receiver sees >= 7 Mbit/s (the link is used)" \
		awk -v v="$rate" 'BEGIN { exit !(v >= 7e6) }'
	check "rate 10mbit: queue drops counted" \
		[ "$(js to_server.drop_queue "$s")" -gt 0 ]
	check "rate 10mbit: forwarded = received by sink" \
		[ "$(js to_server.fwd_pkts "$s")" = "$(kv received "$r")" ]
	check "rate 10mbit: in = forwarded + queue drops" \
		[ "$(js to_server.in_pkts "$s")" = \
			$(($(js to_server.fwd_pkts "$s") + $(js to_server.drop_queue "$s"))) ]
	stop "$RELAY_PID"
}
test_rate

# --- 3b. overhead: payload at exactly the rate overflows once headers count --
# 100-byte datagrams every 400 us are exactly 2 Mbit/s of UDP payload, sent
# through two relays at once. With --overhead 0 the 2mbit link keeps up (its
# 300 ms queue absorbs pacing bursts of a loaded machine); with the default
# (28 bytes on IPv4) the wire needs 2.56 Mbit/s, so the queue fills after
# ~1.1 s and then ~22% is tail-dropped (~500 of 5000): the payload that gets
# through is 100/128 = 78% of the rate.
test_overhead() {
	local sa sb la lb ra rb r0 r1 s0 s1 d0 d1 pa pb ga gb
	sa=$(free_port)
	bg sinkov0 "$EMU" --sink "$(hp "$sa")" --idle 500ms --timeout 20s
	pa=$BG_PID
	sb=$(free_port)
	bg sinkovauto "$EMU" --sink "$(hp "$sb")" --idle 500ms --timeout 20s
	pb=$BG_PID
	wait_udp "$sa" && wait_udp "$sb" || return
	relay ov0 "$sa" --rate 2mbit --queue 300ms --overhead 0 || return
	la=$LPORT ra=$RELAY_PID
	check "--overhead 0: show says 0" \
		match "$(ctl show)" '*"overhead":0,"overhead_auto":false*'
	relay ovauto "$sb" --rate 2mbit --queue 300ms || return
	lb=$LPORT rb=$RELAY_PID
	check "default overhead on IPv4: show says auto, 28" \
		match "$(ctl show)" '*"overhead":28,"overhead_auto":true*'
	"$EMU" --udpgen "$(hp "$la")" --count 5000 --size 100 --interval 400us \
		>/dev/null 2>>"$TMP/gen.err" &
	ga=$!
	PIDS+=("$ga")
	"$EMU" --udpgen "$(hp "$lb")" --count 5000 --size 100 --interval 400us \
		>/dev/null 2>>"$TMP/gen.err" &
	gb=$!
	PIDS+=("$gb")
	wait "$ga"
	wait "$gb"
	wait "$pa"
	wait "$pb"
	r0=$(cat "$TMP/sinkov0.out")
	r1=$(cat "$TMP/sinkovauto.out")
	s0=$("$EMU" --ctl "$TMP/ov0.sock" stats)
	s1=$("$EMU" --ctl "$TMP/ovauto.sock" stats)
	stop "$ra"
	stop "$rb"
	d0=$(js to_server.drop_queue "$s0")
	d1=$(js to_server.drop_queue "$s1")
	echo "    overhead 0:    sink: $r0; drop_queue=$d0"
	echo "    overhead auto: sink: $r1; drop_queue=$d1"
	check "2 Mbit/s of payload on 2mbit, overhead 0: <= 1% dropped ($d0/5000)" \
		[ "$d0" -le 50 ]
	check "same with 28-byte headers: >= 4% tail-dropped ($d1/5000)" \
		[ "$d1" -ge 200 ]
	check "overhead 0: wire_bytes = fwd_bytes" \
		[ "$(js to_server.wire_bytes "$s0")" = "$(js to_server.fwd_bytes "$s0")" ]
	check "overhead auto: wire_bytes = fwd_bytes + 28 x fwd_pkts" \
		[ "$(js to_server.wire_bytes "$s1")" = \
			$(($(js to_server.fwd_bytes "$s1") + 28 * $(js to_server.fwd_pkts "$s1"))) ]
	check "overhead auto: delivered payload <= 85% of 2 Mbit/s ($(kv rate_bps "$r1"))" \
		awk -v v="$(kv rate_bps "$r1")" 'BEGIN { exit !(v <= 0.85 * 2e6) }'
	check "overhead auto: delivered payload >= 65% of 2 Mbit/s (link used)" \
		awk -v v="$(kv rate_bps "$r1")" 'BEGIN { exit !(v >= 0.65 * 2e6) }'
}
test_overhead

# --- 3c. asymmetric link: --rate-down limits only the way back ---------------
# 8 Mbit/s of 1000-byte datagrams for 1 s through an echo: upstream (20mbit)
# carries all of it, the 4mbit way back about half.
test_rate_down() {
	local r s out
	echo_server || return
	relay ratedown "$EPORT" --rate 20mbit --rate-down 4mbit --queue 100ms || return
	out=$(ctl show)
	check "--rate-down: show has both rates and queue limits" \
		[ "$(js rate_bps "$out"),$(js rate_down_bps "$out"),$(js queue_bytes "$out"),$(js queue_down_bytes "$out")" \
		= 20000000,4000000,250000,50000 ]
	r=$(gen --count 1000 --size 1000 --interval 1ms --wait 300ms)
	s=$(ctl stats)
	echo "    $r; up drop_queue=$(js to_server.drop_queue "$s") down drop_queue=$(js to_client.drop_queue "$s")"
	check "--rate-down 4mbit: upstream at 20mbit drops (almost) nothing" \
		[ "$(js to_server.drop_queue "$s")" -le 10 ]
	check "--rate-down 4mbit: the way back tail-drops >= 20%" \
		[ "$(js to_client.drop_queue "$s")" -ge 200 ]
	check "--rate-down 4mbit: generator gets back < 80% of what it sent" \
		[ "$(kv received "$r")" -lt 800 ]
	check "ctl rate-down same: follows rate again" \
		both [ "$(ctl rate-down same)" = ok ] \
		[ "$(js rate_down_bps "$(ctl show)")" = 20000000 ]
	stop "$RELAY_PID"
	stop "$ECHO_PID"
}
test_rate_down

# --- 3d. capacity steps while traffic flows, measured by the sink ------------
# 12 Mbit/s offered for 2.2 s into an 8mbit link that the command
# 'rate-schedule 1200ms:2mbit' drops to 2mbit 1.2 s later. The sink's 250 ms
# bins: the first two (before the step, as long as traffic started within
# 0.7 s of the command) carry ~4x what two bins 1.5-2 s in (after it) carry.
# Asserted: at least 2x, so a loaded machine does not flake it.
test_rate_step() {
	local sport r out bins early late
	sport=$(free_port)
	bg sinkstep "$EMU" --sink "$(hp "$sport")" --bin 250ms --idle 500ms --timeout 20s
	local spid=$BG_PID
	wait_udp "$sport" || return
	relay step "$sport" --rate 8mbit --queue 50ms || return
	check "ctl rate-schedule: ok" [ "$(ctl rate-schedule 1200ms:2mbit)" = ok ]
	gen --count 3300 --size 1000 --interval 667us >/dev/null
	wait "$spid"
	r=$(cat "$TMP/sinkstep.out")
	echo "    sink: $r"
	IFS=, read -r -a bins <<<"$(kv bins "$r")"
	early=$((${bins[0]:-0} + ${bins[1]:-0}))
	late=$((${bins[6]:-0} + ${bins[7]:-0}))
	check "rate step 8mbit -> 2mbit: sink sees it ($early bytes in 0-0.5 s, $late in 1.5-2 s)" \
		[ "$late" -gt 0 -a "$early" -ge $((2 * late)) ]
	out=$(ctl show)
	check "after the step: show has rate 2mbit, step 1, queue 50ms of it" \
		[ "$(js rate_bps "$out"),$(js rate_now_bps "$out"),$(js rate_schedule_step "$out"),$(js queue_bytes "$out")" \
		= 2000000,2000000,1,12500 ]
	check "show quotes the schedule" [ "$(js rate_schedule "$out")" = 1200ms:2mbit ]
	check "ctl rate 5mbit ends the schedule" \
		both [ "$(ctl rate 5mbit)" = ok ] [ "$(js rate_schedule "$(ctl show)")" = off ]
	stop "$RELAY_PID"
}
test_rate_step

# --- 3e. --rate-schedule from the start, --rate-walk within its bounds -------
test_rate_plan() {
	local out i lo=99999999999 hi=0 v moved=0
	relay plan 9 --rate 10mbit --rate-schedule 0s:3mbit,300ms:5mbit || return
	sched_done() { [ "$(js rate_schedule_step "$(ctl show)")" = 2 ]; }
	check "--rate-schedule: reaches its last step" poll sched_done
	check "--rate-schedule: last step holds (5mbit)" \
		[ "$(js rate_now_bps "$(ctl show)")" = 5000000 ]
	stop "$RELAY_PID"
	relay walk 9 --rate 10mbit --rate-down 40mbit --rate-walk 50%/10ms || return
	walked() { [ "$(js rate_now_bps "$(ctl show)")" != 10000000 ]; }
	check "--rate-walk 50%/10ms: the rate moves" poll walked
	for i in $(seq 10); do
		out=$(ctl show)
		v=$(js rate_now_bps "$out")
		[ "$v" -lt "$lo" ] && lo=$v
		[ "$v" -gt "$hi" ] && hi=$v
		# both directions move by the same factor
		[ $((4 * v - $(js rate_down_now_bps "$out"))) -le 4 ] &&
			[ $(($(js rate_down_now_bps "$out") - 4 * v)) -le 4 ] || moved=1
		sleep 0.03
	done
	echo "    walk: rate_now_bps $lo .. $hi"
	check "--rate-walk: stays within 5..20 Mbit/s" \
		[ "$lo" -ge 5000000 -a "$hi" -le 20000000 ]
	check "--rate-walk: one factor for both directions" [ "$moved" = 0 ]
	check "ctl rate-walk off: back to the base rate" \
		both [ "$(ctl rate-walk off)" = ok ] \
		[ "$(js rate_now_bps "$(ctl show)"),$(js rate_walk_factor "$(ctl show)")" = 10000000,1.000000 ]
	stop "$RELAY_PID"
}
test_rate_plan

# --- 4. up/down: --down, control socket, SIGUSR1/SIGUSR2 ---------------------
test_updown() {
	local r
	echo_server || return
	relay updown "$EPORT" --down || return
	passes() { kv received "$(gen --count 20 --interval 1ms --wait 500ms)"; }
	check "--down: nothing passes" [ "$(passes)" = 0 ]
	check "--down: drops counted as drop_down" \
		[ "$(js to_server.drop_down "$(ctl stats)")" -ge 20 ]
	check "ctl up: replies ok" [ "$(ctl up)" = ok ]
	check "ctl up: all 20 pass" [ "$(passes)" = 20 ]
	ctl down >/dev/null
	check "ctl down: nothing passes" [ "$(passes)" = 0 ]
	ctl up >/dev/null
	check "ctl up again: all 20 pass" [ "$(passes)" = 20 ]
	kill -USR1 "$RELAY_PID"
	check "SIGUSR1: state down" wait_state down
	check "SIGUSR1: nothing passes" [ "$(passes)" = 0 ]
	kill -USR2 "$RELAY_PID"
	check "SIGUSR2: state up" wait_state up
	check "SIGUSR2: all 20 pass" [ "$(passes)" = 20 ]
	stop "$RELAY_PID"
	stop "$ECHO_PID"
}
test_updown

# --- 5. FIFO under jitter (and the detector proven by --reorder) -------------
test_fifo() {
	local mode=$1 sport r
	shift
	sport=$(free_port)
	bg sink "$EMU" --sink "$(hp "$sport")" --idle 1s --timeout 20s
	local spid=$BG_PID
	wait_udp "$sport" || return
	relay "fifo$mode" "$sport" --delay 10ms --jitter 8ms "$@" || return
	gen --count 2000 --size 100 --interval 100us >/dev/null
	wait "$spid"
	r=$(cat "$TMP/sink.out")
	echo "    $mode: $r"
	if [ "$mode" = fifo ]; then
		check "jitter 8ms: all 2000 arrive" [ "$(kv received "$r")" = 2000 ]
		check "jitter 8ms: no reordering" [ "$(kv reordered "$r")" = 0 ]
	else
		check "jitter 8ms --reorder: reordering seen (detector works)" \
			[ "$(kv reordered "$r")" -gt 0 ]
	fi
	stop "$RELAY_PID"
}
test_fifo fifo
test_fifo reorder --reorder

# --- 6. NAT: two clients, each its own upstream socket ------------------------
test_nat() {
	local a b s
	echo_server || return
	relay nat "$EPORT" --delay 5ms || return
	gen --count 200 --interval 1ms --wait 1s >"$TMP/a.out" &
	local apid=$!
	PIDS+=("$apid")
	b=$(gen --count 200 --interval 1ms --wait 1s)
	wait "$apid"
	a=$(cat "$TMP/a.out")
	s=$(ctl stats)
	check "NAT: client A gets its 200 echoes" [ "$(kv received "$a")" = 200 ]
	check "NAT: client B gets its 200 echoes" [ "$(kv received "$b")" = 200 ]
	check "NAT: two clients tracked" [ "$(js clients "$s")" = 2 ]
	check "NAT: 400 relayed each way" [ "$(js to_client.fwd_pkts "$s")" = 400 ]
	stop "$RELAY_PID"
	stop "$ECHO_PID"
}
test_nat

# --- 7. control channel: errors, all-or-nothing, stats, clean exit -----------
test_control() {
	local out rc
	echo_server || return
	relay control "$EPORT" --stats-interval 100ms || return
	out=$(ctl delay 2>&1)
	rc=$?
	check "ctl 'delay' without value: exit 1, error reply" \
		both [ $rc = 1 ] match "$out" 'error:*needs a value*'
	out=$(ctl frobnicate)
	check "ctl unknown command: error reply" \
		match "$out" "error: unknown command 'frobnicate'*"
	out=$(ctl loss 5% rate bogus)
	check "ctl bad line: error names the value" match "$out" "*'bogus'*"
	check "ctl bad line: nothing of it applied" \
		[ "$(js loss_pct "$(ctl show)")" = 0 ]
	check "ctl overhead 100: show says 100, not auto" \
		both [ "$(ctl overhead 100)" = ok ] \
		match "$(ctl show)" '*"overhead":100,"overhead_auto":false*'
	check "ctl overhead auto: back to 28" \
		both [ "$(ctl overhead auto)" = ok ] \
		match "$(ctl show)" '*"overhead":28,"overhead_auto":true*'
	out=$(ctl overhead 20kb)
	check "ctl overhead 20kb: error quotes it" match "$out" "error:*'20kb'*"
	check "ctl combined line applies" \
		[ "$(ctl loss 5% rate 20mbit queue 64kb jitter 1ms)" = ok ]
	out=$(ctl show)
	check "ctl show reflects it" \
		[ "$(js rate_bps "$out"),$(js queue_bytes "$out"),$(js loss_pct "$out")" \
		= 20000000,64000,5 ]
	gen --count 5 --wait 300ms >/dev/null
	check "counters count before reset" \
		[ "$(js to_server.in_pkts "$(ctl stats)")" = 5 ]
	check "ctl reset zeroes counters" \
		[ "$(ctl reset),$(js to_server.in_pkts "$(ctl stats)")" = ok,0 ]
	check "ctl help lists commands" bash -c "'$EMU' --ctl '$SOCK' help | grep -q loss-burst"
	out=$("$EMU" --listen "$(hp "$(free_port)")" --forward "$(hp "$EPORT")" \
		--control "$SOCK" 2>&1)
	rc=$?
	check "second relay on a live control socket: exit 1" \
		both [ $rc = 1 ] match "$out" '*in use*'
	stats_lines() { [ "$(grep -c '"to_server"' "$TMP/control.out")" -ge 2 ]; }
	check "--stats-interval prints JSON lines" poll stats_lines
	kill -TERM "$RELAY_PID"
	wait "$RELAY_PID"
	rc=$?
	check "SIGTERM: exit 0" [ $rc = 0 ]
	check "SIGTERM: control socket removed" [ ! -e "$SOCK" ]
	stop "$ECHO_PID"
}
test_control

# --- 8. bad arguments: exit 2 with a message ---------------------------------
bad() {
	local out rc
	out=$("$EMU" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc = 2 ] && [[ $out == ttt-linkemu:* ]]; then
		ok "rejected (2): $* -> ${out%%$'\n'*}"
	else
		not_ok "bad arguments not rejected with 2 ($rc): $* -> $out"
	fi
}
P=127.0.0.1:$(free_port)
bad
bad --listen 127.0.0.1 --forward "$P"
bad --listen "$P"
bad --listen 1.2.3:4 --forward "$P"
bad --listen ::1:5000 --forward "$P"
bad --listen "$P" --forward "$P" --loss 150%
bad --listen "$P" --forward "$P" --delay 5
bad --listen "$P" --forward "$P" --rate 10mbps
bad --listen "$P" --forward "$P" --queue 0
bad --listen "$P" --forward "$P" --overhead 2000
bad --listen "$P" --forward "$P" --rate-schedule 10s6mbit
bad --listen "$P" --forward "$P" --rate-schedule 2s:1mbit,1s:2mbit
bad --listen "$P" --forward "$P" --rate-walk 10%
bad --listen "$P" --forward "$P" --rate-walk 80%/1s
bad --listen "$P" --forward "$P" --rate-down fast
bad --sink "$P" --bin 0
bad --listen "$P" --forward "$P" --jitter-dist gauss
bad --listen "$P" --forward "$P" --seed abc
bad --listen "$P" --forward "$P" --max-packet 10
bad --listen "$P" --forward "$P" --bind ::1
bad --listen "$P" --forward "$P" --delay 5ms --delay 6ms
bad --listen "$P" --forward "$P" stray
bad --listen "$P" --forward "$P" --bogus
bad --listen "$P" --echo "$P"
bad --sink "$P" --delay 5ms
bad --udpgen "$P" --size 8
bad --ctl "$TMP/none.sock"
bad --listen "$P" --forward "$P" --log-level loud

echo "test-linkemu: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
