#!/usr/bin/env bash
# Hostile input on the wire, end to end (topology in lib.sh, plus ns C2 for
# a second client, "phone", with its own key and inner address):
#   - a client with a key the server does not know gets no tunnel and the
#     server keeps no state for it (sessions unchanged, rx_bad rises);
#   - DATA captured on the WAN (tcpdump in W) and replayed to the server is
#     dropped: rx_replay rises, nothing reaches the host behind the server;
#   - forged packets with a valid header (right session id, fresh seq,
#     random body) are dropped: rx_auth_fail rises;
#   - the phone sending with the laptop's inner address is dropped:
#     rx_spoofed rises, the host sees nothing from it;
#   - a HELLO captured before a client restart and replayed afterwards does
#     not replace the new session (timestamp rule);
#   - the HELLOs of the two attempts carry unrelated key ids (identity
#     hiding: an observer cannot link them);
#   - on the server a link is CLIENT/LINK: `link a down` is refused when
#     two clients both have an "a", `link phone/a down` takes down only the
#     phone's;
#   - a known payload is not on the wire with crypto: encrypt, and is with
#     crypto: auth.
. "$(dirname "$0")/lib.sh"

NS_C2=ttt-c2-$ID
trap 'cleanup; ip netns pids "$NS_C2" 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del "$NS_C2" 2>/dev/null' EXIT
c2() { ip netns exec "$NS_C2" "$@"; }

# --- helpers (python: pcap reading and raw UDP sends) ---
cat >"$WORK/pcap.py" <<'EOF'
"""pcap.py FILE TYPE [SID_HEX|SRC_IP]: prints the hex of each captured
tuntuntun datagram sent to the server (udp dst 5800) whose type byte is TYPE
(and session id SID_HEX, or IP source SRC_IP, when given), one per line."""
import struct, sys
f = open(sys.argv[1], "rb").read()
want = int(sys.argv[2]); sid = sys.argv[3] if len(sys.argv) > 3 else None
src = None
if sid and "." in sid:
    src = bytes(int(x) for x in sid.split(".")); sid = None
magic = struct.unpack("<I", f[:4])[0]
end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
link = struct.unpack(end + "I", f[20:24])[0]
off = 24
while off + 16 <= len(f):
    _, _, incl, _ = struct.unpack(end + "IIII", f[off:off + 16])
    pkt = f[off + 16:off + 16 + incl]
    off += 16 + incl
    if link == 1:
        if len(pkt) < 14 or pkt[12:14] != b"\x08\x00":
            continue
        pkt = pkt[14:]
    elif link == 113:  # Linux cooked
        pkt = pkt[16:]
    if len(pkt) < 28 or pkt[0] >> 4 != 4 or pkt[9] != 17:
        continue
    if src and pkt[12:16] != src:
        continue
    ihl = (pkt[0] & 15) * 4
    udp = pkt[ihl:]
    if struct.unpack(">H", udp[2:4])[0] != 5800:
        continue
    pay = udp[8:]
    if len(pay) < 16 or pay[1] != want:
        continue
    if sid and pay[4:8].hex() != sid:
        continue
    print(pay.hex())
EOF
cat >"$WORK/udp.py" <<'EOF'
"""udp.py send SRC DST PORT HEXFILE   sends each hex line as one datagram
   udp.py text SRC DST PORT COUNT TEXT sends TEXT-i, COUNT times
   udp.py count PORT SECONDS READY     counts datagrams per source until
                                       SECONDS of silence after the last
                                       one (2 x SECONDS if none comes),
                                       prints "src count" lines; touches
                                       READY once listening"""
import socket, sys, time
m = sys.argv[1]
if m == "count":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    s.settimeout(0.2)
    idle = float(sys.argv[3]); end = time.time() + 2 * idle; n = {}
    open(sys.argv[4], "w").close()
    while time.time() < end:
        try:
            _, a = s.recvfrom(65535)
            n[a[0]] = n.get(a[0], 0) + 1
            end = time.time() + idle
        except socket.timeout:
            pass
    for k, v in n.items():
        print(k, v)
    sys.exit(0)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND: spoofing needs no address
s.bind((sys.argv[2], 0))
dst = (sys.argv[3], int(sys.argv[4]))
if m == "send":
    for line in open(sys.argv[5]):
        if line.strip():
            s.sendto(bytes.fromhex(line.strip()), dst)
            time.sleep(0.002)
else:
    for i in range(int(sys.argv[5])):
        s.sendto(("%s-%d" % (sys.argv[6], i)).encode(), dst)
        time.sleep(0.01)
EOF
# count_at_host PORT SECONDS: starts a counter in H, sets CNT_PID / CNT_OUT.
count_at_host() {
	CNT_OUT=$WORK/count-$1.out
	bg "$CNT_OUT" ip netns exec "$NS_H" python3 "$WORK/udp.py" count "$1" "$2" "$WORK/count-$1.ready"
	CNT_PID=$LAST_PID
	rm -f "$WORK/count-$1.ready"
	wait_for 30 test -e "$WORK/count-$1.ready" || echo "  (counter on port $1 did not start)"
}
from_src() { awk -v a="$1" '$1==a {print $2} END {}' "$CNT_OUT" | head -1 | grep . || echo 0; }
# scount CLIENT FIELD: a counter of that client's session on the server.
scount() { sstatus | jq_py "[x['counters']['$2'] for x in d['sessions'] if x.get('client')=='$1'][0]"; }
sid_of() { sstatus | jq_py "[x['id'] for x in d['sessions'] if x.get('client')=='$1'][0]"; }
nsessions() { sstatus | jq_py "len(d['sessions'])"; }
srv_rx_bad() { sstatus | jq_py "d['counters']['rx_bad']"; }
rx_bad_ge() { [ "$(srv_rx_bad)" -ge "$1" ]; }
established() { [ "$(cstatus | jq_py "d['session']['state']")" = established ]; }
quiet() { "$@" >/dev/null 2>&1; }

echo "== security: hostile input on the wire"
topo_up
# Second client namespace: C2 -- W, routed to the server (no emulator).
ip netns add "$NS_C2"
ip -n "$NS_C2" link set lo up
veth "$NS_C2" da 10.103.0.2/24 "$NS_W" wd 10.103.0.1/24
ip -n "$NS_C2" route add 10.200.0.0/24 via 10.103.0.1
ip -n "$NS_S" route add 10.103.0.0/24 via 10.200.0.1

# Everything towards the server, captured in W on its last hop.
bg "$WORK/tcpdump.log" ip netns exec "$NS_W" tcpdump -n -U -i ws -s 0 -w "$WORK/wan.pcap" udp port 5800
wait_for 5 grep -q "listening on" "$WORK/tcpdump.log" || { bad "tcpdump starts in W"; summary; exit 1; }
TCPDUMP_PID=$LAST_PID

emu_start a 10.101.0.1 7001 --delay 2ms
emu_start b 10.102.0.1 7002 --delay 4ms
write_configs roundrobin roundrobin
"$CTL" genkey "$WORK/phone.key" >/dev/null
cp "$WORK/phone.key" "$WORK/server-phone.key"
sed -i "/^clients:/a\\  - { name: phone, key: $WORK/server-phone.key, address: 10.77.0.3 }" "$WORK/server.yaml"
daemons_start || { bad "daemons start"; summary; exit 1; }
check "laptop reaches the host through the tunnel" quiet c ping -c 2 -i 0.2 -W 2 10.99.0.2
laptop_sid=$(sid_of laptop)

# --- 1. replayed DATA ---
count_at_host 9100 4
c python3 "$WORK/udp.py" text 10.77.0.2 10.99.0.2 9100 40 stream
wait "$CNT_PID"
check "40 datagrams laptop->host arrive ($(from_src 10.77.0.2))" test "$(from_src 10.77.0.2)" -eq 40
sleep 0.5
python3 "$WORK/pcap.py" "$WORK/wan.pcap" 3 "$laptop_sid" >"$WORK/data.hex"
n_data=$(wc -l <"$WORK/data.hex")
check "captured the laptop's DATA packets on the WAN ($n_data)" test "$n_data" -ge 40
r0=$(scount laptop rx_replay)
count_at_host 9100 3
w python3 "$WORK/udp.py" send 10.200.0.1 10.200.0.2 5800 "$WORK/data.hex"
wait "$CNT_PID"
r1=$(scount laptop rx_replay)
check "replayed DATA dropped: rx_replay $r0 -> $r1 (+$n_data expected)" test $((r1 - r0)) -ge "$n_data"
check "replayed DATA: nothing reached the host ($(from_src 10.77.0.2))" test "$(from_src 10.77.0.2)" -eq 0

# --- 2. forged packets: right header, fresh seq, random body ---
python3 - "$WORK/data.hex" >"$WORK/forged.hex" <<'EOF'
import os, sys
last = [l.strip() for l in open(sys.argv[1]) if l.strip()][-1]
h = bytearray(bytes.fromhex(last)[:16])
seq = int.from_bytes(h[8:16], "big")
for i in range(20):
    h[8:16] = (seq + 1000 + i).to_bytes(8, "big")
    print((bytes(h) + os.urandom(120)).hex())
EOF
a0=$(scount laptop rx_auth_fail)
w python3 "$WORK/udp.py" send 10.200.0.1 10.200.0.2 5800 "$WORK/forged.hex"
sleep 0.5
a1=$(scount laptop rx_auth_fail)
check "forged packets dropped: rx_auth_fail $a0 -> $a1 (+20)" test $((a1 - a0)) -ge 20
check "session survives forged packets" quiet c ping -c 2 -i 0.2 -W 2 10.99.0.2

# A second client's config, $WORK/NAME.yaml with key $WORK/NAME.key and
# control socket $WORK/NAME.sock: one link on IFACE from SOURCE.
one_link_client() { # NAME TUN_NAME TUN_ADDRESS IFACE SOURCE
	cat >"$WORK/$1.yaml" <<EOF
role: client
server: { address: 10.200.0.2, port: 5800 }
key: $WORK/$1.key
crypto: $CRYPTO
tun: { name: $2, address: $3 }
links:
  - { name: a, interface: $4, source: $5, peer: "10.200.0.2:5800" }
plugin_dir: $TOP/plugins.d
control: { socket: $WORK/$1.sock }
EOF
}

# --- 3. wrong key: no tunnel, no server state ---
n0=$(nsessions)
b0=$(srv_rx_bad)
"$CTL" genkey "$WORK/stranger.key" >/dev/null
one_link_client stranger ttt9 10.78.0.9/24 ca 10.101.0.2
bg "$WORK/stranger.log" ip netns exec "$NS_C" "$TTT" -c "$WORK/stranger.yaml"
STRANGER=$LAST_PID
wait_for 5 test -S "$WORK/stranger.sock"
wait_for 10 rx_bad_ge $((b0 + 3))
sleep 2
b1=$(srv_rx_bad)
st=$("$CTL" -s "$WORK/stranger.sock" status --json | jq_py "d['session']['state']")
check "wrong-key client stays in handshake ($st)" test "$st" = handshake
check "wrong-key client: server sessions unchanged ($n0 -> $(nsessions))" test "$(nsessions)" -eq "$n0"
check "wrong-key client: server rx_bad rises ($b0 -> $b1)" test "$b1" -ge $((b0 + 3))
check "server never answered the stranger" bash -c "! grep -q 'connected from 10.101.0.2' <(grep -v laptop '$WORK/server.log')"
kill "$STRANGER"; wait "$STRANGER" 2>/dev/null

# --- 4. the phone spoofing the laptop's inner address ---
one_link_client phone ttt0 10.77.0.3/24 da 10.103.0.2
bg "$WORK/phone.log" ip netns exec "$NS_C2" "$TTT" -c "$WORK/phone.yaml"
wait_for 5 test -S "$WORK/phone.sock"
ip -n "$NS_C2" route add 10.99.0.0/24 dev ttt0
# The phone's host may hold the laptop's address too: only the server's
# allowlist stands between it and impersonation.
ip -n "$NS_C2" addr add 10.77.0.2/32 dev ttt0
check "phone gets its own session" wait_for 10 c2 ping -c1 -W1 10.99.0.2
s0=$(scount phone rx_spoofed)
count_at_host 9200 3
c2 python3 "$WORK/udp.py" text 10.77.0.3 10.99.0.2 9200 10 phone
c2 python3 "$WORK/udp.py" text 10.77.0.2 10.99.0.2 9200 10 spoof
wait "$CNT_PID"
s1=$(scount phone rx_spoofed)
check "phone's own address passes ($(from_src 10.77.0.3) of 10)" test "$(from_src 10.77.0.3)" -eq 10
check "phone as the laptop: nothing reaches the host ($(from_src 10.77.0.2))" test "$(from_src 10.77.0.2)" -eq 0
check "phone as the laptop: rx_spoofed $s0 -> $s1 (+10)" test $((s1 - s0)) -ge 10

# --- 4b. link names are the client's: scoped per client on the server ---
# Both the laptop and the phone call a link "a".
sstate() { sstatus | jq_py "[l['state'] for x in d['sessions'] if x.get('client')=='$1' for l in x['links'] if l['name']=='$2'][0]"; }
sstate_is() { [ "$(sstate "$1" "$2")" = "$3" ]; }
out=$("$CTL" -s "$WORK/server.sock" link a down 2>&1)
check "server: a bare link name is refused, asking for CLIENT/LINK ($out)" \
	bash -c 'echo "$1" | grep -q "CLIENT/LINK"' _ "$out"
check "... and neither client's a went down" \
	bash -c "[ '$(sstate laptop a)' = up ] && [ '$(sstate phone a)' = up ]"
check "server: link phone/a down accepted" "$CTL" -s "$WORK/server.sock" link phone/a down
check "... the phone's a is down on the server" wait_for 5 sstate_is phone a down
check "... the laptop's a is still up" sstate_is laptop a up
check "... the laptop still reaches the host" quiet c ping -c 2 -i 0.2 -W 2 10.99.0.2
check "server: link nobody/a is unknown" bash -c "! '$CTL' -s '$WORK/server.sock' link nobody/a down 2>/dev/null"
check "server: link phone/a up accepted" "$CTL" -s "$WORK/server.sock" link phone/a up
check "... the phone's a is back" wait_for 10 sstate_is phone a up

# --- 5. plaintext on the wire with encryption ---
mark="TTT-KNOWN-PAYLOAD-$ID"
count_at_host 9300 3
c python3 "$WORK/udp.py" text 10.77.0.2 10.99.0.2 9300 5 "$mark"
wait "$CNT_PID"
sleep 0.3
check "marker datagrams went through the tunnel ($(from_src 10.77.0.2))" test "$(from_src 10.77.0.2)" -eq 5
check "crypto $CRYPTO: the payload is not on the WAN" bash -c "! grep -aq '$mark' '$WORK/wan.pcap'"

# --- 6. a HELLO replayed after the client restarted ---
# the laptop's HELLOs (they come through the emulators, from W's address)
python3 "$WORK/pcap.py" "$WORK/wan.pcap" 1 10.200.0.1 >"$WORK/hello-old.hex"
n_hello=$(wc -l <"$WORK/hello-old.hex")
kill "$CLIENT_PID"; wait "$CLIENT_PID" 2>/dev/null
bg "$WORK/client2.log" ip netns exec "$NS_C" "$TTT" -c "$WORK/client.yaml"
CLIENT_PID=$LAST_PID
wait_for 5 test -S "$WORK/client.sock"
wait_for 10 established
ip -n "$NS_C" route add 10.99.0.0/24 dev ttt0
new_sid=$(sid_of laptop)
check "restarted laptop got a new session ($laptop_sid -> $new_sid)" test "$new_sid" != "$laptop_sid"
b0=$(srv_rx_bad)
w python3 "$WORK/udp.py" send 10.200.0.1 10.200.0.2 5800 "$WORK/hello-old.hex"
sleep 0.5
b1=$(srv_rx_bad)
check "old HELLOs ($n_hello) replayed: session kept ($(sid_of laptop))" test "$(sid_of laptop)" = "$new_sid"
check "old HELLOs counted as bad ($b0 -> $b1)" test "$b1" -ge $((b0 + n_hello))
check "laptop still reaches the host" quiet c ping -c 2 -i 0.2 -W 2 10.99.0.2

# --- 7. identity hiding: HELLOs of two attempts are not linkable ---
# Key id (bytes 16..23) per ephemeral key (bytes 32..63) over every HELLO
# the laptop sent, before and after its restart: one id per attempt, and no
# two attempts share one (version 1 sent the same id every time).
python3 "$WORK/pcap.py" "$WORK/wan.pcap" 1 10.200.0.1 >"$WORK/hello-all.hex"
ids=$(python3 -c '
import sys
att = {}
for l in open(sys.argv[1]):
    b = bytes.fromhex(l.strip())
    att.setdefault(b[32:64], set()).add(b[16:24])
ids = [i for s in att.values() for i in s]
print(len(att), len(ids), len(set(ids)))' "$WORK/hello-all.hex")
read -r n_att n_ids n_distinct <<<"$ids"
check "HELLOs of $n_att attempts captured" test "$n_att" -ge 2
check "one key id per attempt ($n_ids ids for $n_att attempts)" test "$n_ids" -eq "$n_att"
check "no key id shared by two attempts ($n_distinct distinct)" test "$n_distinct" -eq "$n_ids"

# --- 7. the same payload with crypto: auth is visible ---
kill "$CLIENT_PID" "$SERVER_PID"; wait "$CLIENT_PID" "$SERVER_PID" 2>/dev/null
sed -i 's/^crypto: .*/crypto: auth/' "$WORK/server.yaml" "$WORK/client.yaml"
rm -f "$WORK/server.sock" "$WORK/client.sock"
daemons_start || { bad "daemons restart with crypto: auth"; summary; exit 1; }
count_at_host 9300 3
c python3 "$WORK/udp.py" text 10.77.0.2 10.99.0.2 9300 5 "$mark-auth"
wait "$CNT_PID"
sleep 0.3
check "crypto auth: marker datagrams went through ($(from_src 10.77.0.2))" test "$(from_src 10.77.0.2)" -eq 5
check "crypto auth: the payload is visible on the WAN" grep -aq "$mark-auth" "$WORK/wan.pcap"
kill "$TCPDUMP_PID" 2>/dev/null

summary
