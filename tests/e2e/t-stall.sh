#!/usr/bin/env bash
# Stalls of the daemon's own event loop lose no data (topology in lib.sh,
# clean links as in sched_setup, issue #10.5). While a sequence-numbered
# stream runs each way at 1000 packets/s:
#   - a control client pipelines 3000 `plugins` requests to the client
#     daemon and another 3000 to the server daemon (each request used to
#     dlopen every plugin file, all of them in one loop iteration);
#   - the client gets 10 SIGHUPs of a refused 50 000-key YAML;
# and every packet of both streams arrives, and both daemons answered every
# request and refused every reload. (Before the fix: 22% and 15% lost.)
. "$(dirname "$0")/lib.sh"

echo "== loop stalls: pipelined control requests and refused reloads lose nothing"
sched_setup || { bad "daemons start"; summary; exit 1; }

cat >"$WORK/flood.py" <<'EOF'
"""flood.py SOCK N OUT: pipelines N `plugins` requests on one connection
(written as fast as the socket takes them, replies read meanwhile) and
writes the number of replies to OUT."""
import socket, sys
path, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
req = b'{"cmd":"plugins"}\n' * n
sent, got, buf = 0, 0, b""
s.setblocking(False)
import select
while got < n:
    w = [s] if sent < len(req) else []
    r, wr, _ = select.select([s], w, [], 20)
    if not r and not wr:
        break
    if wr:
        try:
            sent += s.send(req[sent:sent + 65536])
        except BlockingIOError:
            pass
    if r:
        d = s.recv(1 << 20)
        if not d:
            break
        buf += d
        got += buf.count(b"\n")
        buf = buf[buf.rfind(b"\n") + 1:]
open(out, "w").write(str(got))
EOF
python3 - "$WORK/big.yaml" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("role: client\nbogus:\n")
    for i in range(50000):
        f.write("  k%d: v\n" % i)
EOF

COUNT=10000 RATE=1000
bg "$WORK/up.json" ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" recv 9500 3
rup=$LAST_PID
bg "$WORK/down.json" ip netns exec "$NS_C" python3 "$E2E_DIR/udpseq.py" recv 9501 3
rdown=$LAST_PID
wait_udp "$NS_H" 9500
wait_udp "$NS_C" 9501
bg "$WORK/send-up.log" ip netns exec "$NS_C" python3 "$E2E_DIR/udpseq.py" send 10.99.0.2 9500 $RATE $COUNT
sup=$LAST_PID
bg "$WORK/send-down.log" ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" send 10.77.0.2 9501 $RATE $COUNT
sdown=$LAST_PID
sleep 1

bg "$WORK/flood-c.log" python3 "$WORK/flood.py" "$WORK/client.sock" 3000 "$WORK/flood-c.n"
fc=$LAST_PID
bg "$WORK/flood-s.log" python3 "$WORK/flood.py" "$WORK/server.sock" 3000 "$WORK/flood-s.n"
fs=$LAST_PID
cp "$WORK/client.yaml" "$WORK/client.yaml.good"
cp "$WORK/big.yaml" "$WORK/client.yaml"
for i in $(seq 10); do
	kill -HUP "$CLIENT_PID"
	sleep 0.3
done
wait "$fc" "$fs"
cp "$WORK/client.yaml.good" "$WORK/client.yaml"
running=0
kill -0 "$sup" 2>/dev/null && kill -0 "$sdown" 2>/dev/null && running=1
wait "$sup" "$sdown" "$rup" "$rdown"

check "the floods and reloads happened while both streams ran" test "$running" -eq 1
check "client answered 3000 pipelined plugins requests ($(cat "$WORK/flood-c.n" 2>/dev/null))" \
	test "$(cat "$WORK/flood-c.n" 2>/dev/null)" = 3000
check "server answered 3000 pipelined plugins requests ($(cat "$WORK/flood-s.n" 2>/dev/null))" \
	test "$(cat "$WORK/flood-s.n" 2>/dev/null)" = 3000
nref=$(grep -c "reload refused" "$WORK/client.log")
check "the client refused the 50 000-key YAML 10 times ($nref)" test "$nref" -eq 10
check "... for its size, before building the document" grep -q "more than 16384 YAML nodes" "$WORK/client.log"
for d in up down; do
	echo "  $d: $(cat "$WORK/$d.json")"
	u=$(jq_py "d['unique']" <"$WORK/$d.json" 2>/dev/null || echo 0)
	check "stream $d: all $COUNT packets arrived ($u)" test "$u" -eq "$COUNT"
done
# Not asserted: on this shared machine a daemon is sometimes descheduled
# for longer than the early-DOWN floor, which no code of ours can prevent;
# what matters is that such a moment costs no packet.
nd=$(cat "$WORK/client.log" "$WORK/server.log" | grep -c -- "-> down")
echo "  link state changes to down meanwhile (both sides): $nd"

summary
