# Shared helpers for the end-to-end tests, the demo and the benchmarks.
# Source it; it builds this topology (names carry the pid, so runs never
# collide) and removes every namespace, process and file it made on exit,
# also when a test fails:
#
#   ns C (client)              ns W (emulated WAN)              ns S (server)         ns H (host)
#   tun ttt0 10.77.0.2/24                                       tun ttt0 10.77.0.1/24
#   ca 10.101.0.2 ---------- wa 10.101.0.1 [emu A :7001]--+
#   cb 10.102.0.2 ---------- wb 10.102.0.1 [emu B :7002]--+-- ws 10.200.0.1 -- sw 10.200.0.2 :5800
#                                                                                 sh 10.99.0.1 -- hs 10.99.0.2
#
# With EMU=0 the client's links go straight through W (routed, no emulator):
# the unimpaired path for throughput figures.
# Every address used is inside these namespaces.

set -u
# Debian's python3 first: a pyenv shim costs up to a second per call under load.
export PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$E2E_DIR/../.." && pwd)
TTT=$TOP/tuntuntun
CTL=$TOP/tuntunctl
EMU_BIN=$TOP/build/ttt-linkemu
ID=$$
NS_C=ttt-c-$ID
NS_W=ttt-w-$ID
NS_S=ttt-s-$ID
NS_H=ttt-h-$ID
WORK=$(mktemp -d /tmp/ttt-e2e.XXXXXX)
PIDS=()
EMU=${EMU:-1}
CRYPTO=${CRYPTO:-encrypt}
# tun offloads (TSO/GRO super-packets, UDP GRO): auto, or off for today's
# one-packet-per-syscall path; run-all.sh runs the suite both ways.
OFFLOAD=${OFFLOAD:-auto}

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "  ok   $*"; }
bad() { fail=$((fail + 1)); echo "  FAIL $*"; }
check() { # check "description" command...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
summary() {
	echo "$(basename "$0" .sh): $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

c() { ip netns exec "$NS_C" "$@"; }
w() { ip netns exec "$NS_W" "$@"; }
s() { ip netns exec "$NS_S" "$@"; }
h() { ip netns exec "$NS_H" "$@"; }

# Starts a background process and remembers its pid for cleanup.
bg() { # bg LOGFILE command...
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	PIDS+=($!)
	LAST_PID=$!
}

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null
	done
	local n
	for n in "$NS_C" "$NS_W" "$NS_S" "$NS_H"; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$n" 2>/dev/null
	done
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for TIMEOUT_S command...: polls until the command succeeds.
wait_for() {
	local t=$1
	shift
	local end=$((SECONDS + t))
	while ! "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}

veth() { # veth NS1 IF1 ADDR1 NS2 IF2 ADDR2
	ip link add "$2-$ID" type veth peer name "$5-$ID"
	ip link set "$2-$ID" netns "$1"
	ip link set "$5-$ID" netns "$4"
	ip -n "$1" link set "$2-$ID" name "$2"
	ip -n "$4" link set "$5-$ID" name "$5"
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

topo_up() {
	local n
	for n in "$NS_C" "$NS_W" "$NS_S" "$NS_H"; do
		ip netns add "$n"
		ip -n "$n" link set lo up
	done
	veth "$NS_C" ca 10.101.0.2/24 "$NS_W" wa 10.101.0.1/24
	veth "$NS_C" cb 10.102.0.2/24 "$NS_W" wb 10.102.0.1/24
	veth "$NS_W" ws 10.200.0.1/24 "$NS_S" sw 10.200.0.2/24
	veth "$NS_S" sh 10.99.0.1/24 "$NS_H" hs 10.99.0.2/24
	ip netns exec "$NS_W" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$NS_S" sysctl -qw net.ipv4.ip_forward=1
	# W routes back to the client subnets; S reaches them through W.
	ip -n "$NS_S" route add 10.101.0.0/24 via 10.200.0.1
	ip -n "$NS_S" route add 10.102.0.0/24 via 10.200.0.1
	ip -n "$NS_H" route add default via 10.99.0.1
	# Without the tunnel, the client may reach the far side through W on
	# link a only (the raw path for comparison).
	ip -n "$NS_C" route add 10.200.0.0/24 via 10.101.0.1
	# CUBIC, as most users run; the machine default here is BBR.
	local cc=${CC_ALGO:-cubic}
	for n in "$NS_C" "$NS_S" "$NS_H"; do
		ip netns exec "$n" sysctl -qw net.ipv4.tcp_congestion_control="$cc" 2>/dev/null || true
	done
}

# emu_start NAME LISTEN_IP PORT ARGS...: a link emulator in W for one link,
# forwarding to the server; its control socket is $WORK/emu-NAME.sock.
emu_start() {
	local name=$1 lip=$2 port=$3
	shift 3
	bg "$WORK/emu-$name.log" ip netns exec "$NS_W" "$EMU_BIN" \
		--listen "$lip:$port" --forward 10.200.0.2:5800 --bind 10.200.0.1 \
		--control "$WORK/emu-$name.sock" "$@"
	eval "EMU_PID_$name=$LAST_PID"
	wait_for 5 test -S "$WORK/emu-$name.sock"
}
emu_ctl() { # emu_ctl NAME CMD...
	local name=$1
	shift
	ip netns exec "$NS_W" "$EMU_BIN" --ctl "$WORK/emu-$name.sock" "$@"
}

write_configs() { # write_configs UP_PLUGIN DOWN_PLUGIN [extra client yaml]
	local up=${1:-roundrobin} down=${2:-roundrobin} extra=${3:-}
	"$CTL" genkey "$WORK/client.key" >/dev/null
	cp "$WORK/client.key" "$WORK/server-client.key"
	chmod 600 "$WORK/server-client.key"
	local pa="10.101.0.1:7001" pb="10.102.0.1:7002" opt_lines=""
	[ -n "${REORDER:-}" ] && opt_lines="reorder: { enabled: $REORDER }"
	[ -n "${PROBE:-}" ] && opt_lines="$opt_lines
probe: $PROBE"
	[ -n "${RECOVERY:-}" ] && opt_lines="$opt_lines
recovery: $RECOVERY"
	[ -n "${LINK_MODEL:-}" ] && opt_lines="$opt_lines
link_model: $LINK_MODEL"
	if [ "$EMU" = 0 ]; then pa="10.200.0.2:5800"; pb="10.200.0.2:5800"; fi
	cat >"$WORK/server.yaml" <<EOF
role: server
listen: { address: 0.0.0.0, port: 5800 }
crypto: $CRYPTO
tun: { name: ttt0, address: 10.77.0.1/24, offload: $OFFLOAD }
scheduler: { downstream: { plugin: $down } }
clients:
  - { name: laptop, key: $WORK/server-client.key, address: 10.77.0.2 }
plugin_dir: $TOP/plugins.d
control: { socket: $WORK/server.sock }
$opt_lines
EOF
	cat >"$WORK/client.yaml" <<EOF
role: client
server: { address: 10.200.0.2, port: 5800 }
key: $WORK/client.key
crypto: $CRYPTO
tun: { name: ttt0, address: 10.77.0.2/24, offload: $OFFLOAD }
scheduler:
  upstream: { plugin: $up }
  downstream: { plugin: $down }
links:
  - { name: a, interface: ca, source: 10.101.0.2, peer: "$pa"${LINK_A:+, $LINK_A} }
$([ "${SINGLE:-0}" = 1 ] || echo "  - { name: b, interface: cb, source: 10.102.0.2, peer: \"$pb\"${LINK_B:+, $LINK_B} }")
plugin_dir: $TOP/plugins.d
control: { socket: $WORK/client.sock }
$opt_lines
$extra
EOF
	if [ "$EMU" = 0 ]; then
		# Direct: link b reaches the server through W too.
		ip -n "$NS_C" route replace 10.200.0.2/32 via 10.101.0.1 dev ca
		ip -n "$NS_C" rule add from 10.102.0.2 table 102 2>/dev/null
		ip -n "$NS_C" route add 10.200.0.0/24 via 10.102.0.1 dev cb table 102
	fi
}

daemons_start() {
	bg "$WORK/server.log" ip netns exec "$NS_S" "$TTT" -c "$WORK/server.yaml" ${TTT_FLAGS:-}
	SERVER_PID=$LAST_PID
	wait_for 5 test -S "$WORK/server.sock" || { echo "server did not start:"; cat "$WORK/server.log"; return 1; }
	bg "$WORK/client.log" ip netns exec "$NS_C" "$TTT" -c "$WORK/client.yaml" ${TTT_FLAGS:-}
	CLIENT_PID=$LAST_PID
	wait_for 5 test -S "$WORK/client.sock" || { echo "client did not start:"; cat "$WORK/client.log"; return 1; }
	# Traffic for the host behind the server goes into the tunnel.
	ip -n "$NS_C" route add 10.99.0.0/24 dev ttt0
	ip -n "$NS_H" route add 10.77.0.0/24 via 10.99.0.1 2>/dev/null || true
	wait_for 10 c ping -c1 -W1 10.77.0.1 || { echo "tunnel did not come up"; tail -20 "$WORK/client.log" "$WORK/server.log"; return 1; }
}

# wait_listen NS PORT: until a TCP listener is up on PORT in namespace NS.
wait_listen() {
	wait_for 10 bash -c "ip netns exec $1 ss -Hltn 'sport = :$2' | grep -q ."
}

# wait_udp NS PORT: until a UDP socket is bound to PORT in namespace NS.
wait_udp() {
	wait_for 10 bash -c "ip netns exec $1 ss -Hlun 'sport = :$2' | grep -q ."
}

# JSON field from the client's status (python3 for parsing).
cstatus() { "$CTL" -s "$WORK/client.sock" status --json; }
sstatus() { "$CTL" -s "$WORK/server.sock" status --json; }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
link_field() { # link_field client|server LINK FIELD
	local st
	if [ "$1" = client ]; then st=$(cstatus); else st=$(sstatus); fi
	if [ "$1" = client ]; then
		echo "$st" | jq_py "[l['$3'] for l in d['links'] if l['name']=='$2'][0]"
	else
		echo "$st" | jq_py "[l['$3'] for l in d['sessions'][0]['links'] if l['name']=='$2'][0]"
	fi
}

# off_field client|server FIELD: the tun offload status (tunio.c).
off_field() {
	if [ "$1" = client ]; then cstatus; else sstatus; fi | jq_py "d['tun']['offload']['$2']"
}
# offload_checks up|both: the offloads are what OFFLOAD asked for. Off: off
# on both ends, the log says why, and no super-packet was read or written.
# Auto: on, and the traffic that just ran (client->server, or both ways)
# was read from the sender's tun as TSO super-packets and written to the
# receiver's as coalesced ones.
offload_checks() {
	local c_r s_w s_r c_w
	c_r=$(off_field client gso_reads) s_w=$(off_field server gro_writes)
	s_r=$(off_field server gso_reads) c_w=$(off_field client gro_writes)
	if [ "$OFFLOAD" = off ]; then
		check "offloads off on both ends, as tun.offload says" \
			test "$(off_field client on) $(off_field server on)" = "False False"
		check "both daemons logged why the offloads are off" bash -c \
			"grep -q 'offloads off (tun.offload: off)' '$WORK/client.log' && grep -q 'offloads off (tun.offload: off)' '$WORK/server.log'"
		check "no super-packet read or written with offloads off" \
			test "$c_r $s_w $s_r $c_w" = "0 0 0 0"
		return
	fi
	check "offloads on at both ends" \
		test "$(off_field client on) $(off_field server on)" = "True True"
	check "client read TSO super-packets from its tun ($c_r)" test "$c_r" -gt 0
	check "server wrote coalesced super-packets to its tun ($s_w)" test "$s_w" -gt 0
	[ "$1" = both ] || return 0
	check "server read TSO super-packets from its tun ($s_r)" test "$s_r" -gt 0
	check "client wrote coalesced super-packets to its tun ($c_w)" test "$c_w" -gt 0
}

# sched_setup: the scheduler tests' world: clean fast links, a tunnel whose
# daemons each load plugins from a private copy of plugins.d (so drop-ins
# never touch the tree and the client can have a plugin the server lacks),
# and helpers to read the schedulers and per-link counters.
sched_setup() {
	topo_up
	# Clean, fast links: any loss would be the swap's fault. The reorder buffer
	# waits up to 100 ms for a gap, so a CPU stall of this shared machine is not
	# mistaken for a lost packet.
	emu_start a 10.101.0.1 7001 --delay 5ms --rate 200mbit --queue 100ms
	emu_start b 10.102.0.1 7002 --delay 5ms --rate 200mbit --queue 100ms
	LINK_A="rate: 100mbit" LINK_B="rate: 100mbit" REORDER="true, min_hold: 100ms" \
		write_configs roundrobin roundrobin
	# Every packet through the plugin under test: the interactive class
	# (sparse flows, placed by the host past any plugin that does not ask
	# for it) would take a share of these modest test streams.
	echo "flow_queue: { interactive: off }" >>"$WORK/client.yaml"
	echo "flow_queue: { interactive: off }" >>"$WORK/server.yaml"
	mkdir -p "$WORK/cplug" "$WORK/splug"
	cp "$TOP"/plugins.d/*.so "$WORK/cplug/"
	cp "$TOP"/plugins.d/*.so "$WORK/splug/"
	sed -i "s|^plugin_dir: .*|plugin_dir: $WORK/cplug|" "$WORK/client.yaml"
	sed -i "s|^plugin_dir: .*|plugin_dir: $WORK/splug|" "$WORK/server.yaml"
	daemons_start || return 1

	CC_=("$CTL" -s "$WORK/client.sock")
	up_plugin() { cstatus | jq_py "d['scheduler']['upstream']['plugin']"; }
	up_is() { test "$(up_plugin)" = "$1"; }
	down_plugin_client() { cstatus | jq_py "d['scheduler']['downstream']['plugin']"; }
	down_plugin_server() { sstatus | jq_py "d['sessions'][0]['scheduler']['plugin']"; }
	# A per-link counter of links a and b, as "a b" (client or server side).
	tx_pair() { # tx_pair client|server [FIELD]
		echo "$(link_field "$1" a "${2:-tx_packets}") $(link_field "$1" b "${2:-tx_packets}")"
	}
}
