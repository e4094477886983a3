#!/usr/bin/env bash
# make soak (not in CI): both daemons built with ASan+LSan (build/soak/)
# run in the lib.sh namespaces for SOAK_SECONDS (default 120) with traffic
# both ways, link flaps (emulator down/up, interface down/up) and random
# garbage (short, HELLO-sized and header-shaped datagrams) sprayed at the
# server. Checks at the end: tunnel still works, no sanitizer report or
# leak on a clean SIGTERM exit, and a flat memory profile: VmRSS sampled
# every 5 s must not keep growing after the first quarter (the tail's
# maximum within 10% + 2 MiB of the warm-up maximum; the sessions' pools
# are allocated once, so any growth is a leak).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
SOAK_SECONDS=${SOAK_SECONDS:-120}
B=$TOP/build/soak
mkdir -p "$B"

# ASan binaries: the core's sources with the unit tests' sanitizer flags.
PKGS="yaml-0.1 libsodium jansson libmnl libcap"
SRCS=$(ls "$TOP"/core/*.c "$TOP"/core/*/*.c "$TOP"/reorder/*.c | grep -v -e '/main\.c$' -e '/tuntunctl\.c$')
FLAGS="-std=gnu11 -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -D_GNU_SOURCE \
 -I$TOP/include -I$TOP/core -I$TOP/reorder -DTTT_PLUGINDIR=\"/nonexistent\" \
 -DTTT_VERSION=\"$(cat "$TOP/VERSION")\" $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lev -ldl -lm"
echo "== soak: building ASan daemon"
# shellcheck disable=SC2086
cc $FLAGS -o "$B/tuntuntun" "$TOP/core/main.c" $SRCS $LIBS || exit 1
(cd "$TOP" && make -s tuntunctl build/ttt-linkemu plugins.d/roundrobin.so) || exit 1

. "$TOP/tests/e2e/lib.sh"
TTT=$B/tuntuntun
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=0:log_path=$WORK/asan"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$WORK/ubsan"

echo "== soak for ${SOAK_SECONDS}s"
topo_up
emu_start a 10.101.0.1 7001 --delay 5ms --rate 50mbit --queue 50ms
emu_start b 10.102.0.1 7002 --delay 15ms --rate 50mbit --queue 50ms
write_configs roundrobin roundrobin
daemons_start || { bad "daemons start"; summary; exit 1; }

# Traffic: iperf3 both ways in turns, and a steady ping.
bg "$WORK/iperf-s.log" ip netns exec "$NS_H" iperf3 -s -p 5301
bg "$WORK/ping.log" ip netns exec "$NS_C" ping -i 0.2 -W 1 10.99.0.2
traffic() {
	local end=$((SECONDS + SOAK_SECONDS)) r=""
	while [ $SECONDS -lt "$end" ]; do
		c iperf3 -c 10.99.0.2 -p 5301 -t 8 $r -b 20M >/dev/null 2>&1
		[ -z "$r" ] && r=-R || r=""
	done
}
# Flaps: emulator links down/up, then an interface down/up.
flaps() {
	local end=$((SECONDS + SOAK_SECONDS)) i=0
	while [ $SECONDS -lt "$end" ]; do
		sleep 7
		case $((i % 3)) in
		0) emu_ctl a down >/dev/null; sleep 3; emu_ctl a up >/dev/null ;;
		1) emu_ctl b down >/dev/null; sleep 3; emu_ctl b up >/dev/null ;;
		2) ip -n "$NS_C" link set cb down; sleep 3; ip -n "$NS_C" link set cb up ;;
		esac
		i=$((i + 1))
	done
}
# Garbage at the server from W: random sizes, header-shaped, HELLO-sized.
garbage() {
	ip netns exec "$NS_W" python3 - "$SOAK_SECONDS" <<'EOF'
import os, random, socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.200.0.1", 0))
end = time.time() + float(sys.argv[1]); n = 0
while time.time() < end:
    k = random.randrange(4)
    if k == 0:
        p = os.urandom(random.randrange(0, 1500))
    elif k == 1:
        p = struct.pack(">BBBBIQ", 1, random.randrange(8), random.randrange(20),
                        random.randrange(2), random.getrandbits(32),
                        random.getrandbits(64)) + os.urandom(random.randrange(200))
    elif k == 2:
        p = struct.pack(">BBBBIQ", 1, 1, 0, 0, 0, 0) + os.urandom(144)
    else:
        p = os.urandom(16)
    s.sendto(p, ("10.200.0.2", 5800)); n += 1
    time.sleep(0.002)
print("garbage datagrams sent:", n)
EOF
}
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
traffic &
T=$!
flaps &
F=$!
garbage >"$WORK/garbage.out" 2>&1 &
G=$!
: >"$WORK/rss"
end=$((SECONDS + SOAK_SECONDS))
while [ $SECONDS -lt $end ]; do
	echo "$(rss "$SERVER_PID") $(rss "$CLIENT_PID")" >>"$WORK/rss"
	sleep 5
done
wait "$T" "$F" "$G"
echo "  $(cat "$WORK/garbage.out")"
sleep 3
check "tunnel works after the soak" bash -c "ip netns exec $NS_C ping -c 3 -i 0.2 -W 2 -q 10.99.0.2 >/dev/null"
echo "  RSS samples (server client, KiB):" $(tr '\n' ';' <"$WORK/rss")
flat() { # flat COLUMN: tail max within 10% + 2 MiB of the warm-up max
	python3 - "$WORK/rss" "$1" <<'EOF'
import sys
v = [int(l.split()[int(sys.argv[2])]) for l in open(sys.argv[1]) if l.strip()]
q = max(1, len(v) // 4)
warm, tail = max(v[:q]), max(v[q:]) if v[q:] else max(v)
print("warm-up max %d KiB, later max %d KiB" % (warm, tail))
sys.exit(0 if tail <= warm * 1.10 + 2048 else 1)
EOF
}
flat_q() { flat "$1" >/dev/null; }
check "server RSS flat ($(flat 0))" flat_q 0
check "client RSS flat ($(flat 1))" flat_q 1
st=$(sstatus)
echo "  server counters: $(echo "$st" | jq_py "d['counters']")"
kill -TERM "$CLIENT_PID" "$SERVER_PID"
wait "$CLIENT_PID" "$SERVER_PID"
check "no ASan/LSan/UBSan report from either daemon" bash -c "! ls '$WORK'/asan.* '$WORK'/ubsan.* >/dev/null 2>&1 || { cat '$WORK'/asan.* '$WORK'/ubsan.* | head -40; false; }"
check "client exited cleanly" bash -c "! grep -q 'ERROR: AddressSanitizer' '$WORK/client.log'"
summary
