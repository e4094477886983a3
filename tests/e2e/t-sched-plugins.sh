#!/usr/bin/env bash
# Scheduler plugins that are not the shipped four (topology in lib.sh):
#  - a plugin only the client has is refused by the server (the client hears
#    only "not available", the server's log names the file) and the
#    downstream plugin keeps running; a plugin with a wrong ABI is refused
#    by `scheduler set` both ways, old one still active;
#  - the example plugin built out of tree against a staged `make install`,
#    dropped into the plugin dirs and swapped in both ways, carries traffic.
# Each daemon gets its own plugin dir (copies), so drop-ins never touch the
# tree's plugins.d/ and the client can have a plugin the server lacks.
. "$(dirname "$0")/lib.sh"

echo "== scheduler plugins: refused ones, a third-party one built out of tree"
sched_setup || { bad "daemons start"; summary; exit 1; }

"${CC_[@]}" scheduler set upstream weighted >/dev/null
"${CC_[@]}" scheduler set downstream weighted >/dev/null
# ---- a plugin the server lacks, and a broken one ----
tmp=$WORK/stage
mkdir -p "$tmp"
make -C "$TOP" install DESTDIR="$tmp" PREFIX=/usr >"$WORK/install.log" 2>&1
check "make install DESTDIR=\$tmp PREFIX=/usr succeeds" test -f "$tmp/usr/lib/pkgconfig/tuntuntun.pc" ||
	tail -5 "$WORK/install.log"
check "... and its tuntuntun.pc carries the VERSION file's version" \
	test "$(PKG_CONFIG_PATH=$tmp/usr/lib/pkgconfig pkg-config --modversion tuntuntun)" = "$(cat "$TOP/VERSION")"
cp -r "$TOP/examples/plugin" "$WORK/example"
PKG_CONFIG_PATH=$tmp/usr/lib/pkgconfig make -C "$WORK/example" >"$WORK/example.log" 2>&1
check "example plugin builds out of tree against the staged install" test -f "$WORK/example/fastest-first.so"
check "... with the staged header (-I$tmp/usr/include)" grep -q -- "-I$tmp/usr/include" "$WORK/example.log"
cp "$WORK/example/fastest-first.so" "$WORK/cplug/"

before=$(down_plugin_server)
"${CC_[@]}" scheduler set downstream fastest-first >"$WORK/lack.out" 2>&1
rc=$?
cat "$WORK/lack.out" | sed 's/^/  | /'
check "downstream swap to a plugin the server lacks exits 1 (got $rc)" test "$rc" -eq 1
check "... and says the server refused it, without the server's details" \
	grep -q "refused downstream fastest-first: downstream plugin not available" "$WORK/lack.out"
check "... the server's log names the file" \
	grep -q "downstream swap to \"fastest-first\" refused: .*splug/fastest-first.so: no such plugin file" "$WORK/server.log"
check "... the server still runs $before" test "$(down_plugin_server)" = "$before"
check "... client status still names $before" test "$(down_plugin_client)" = "$before"
check "... downstream traffic still flows" h ping -q -c 3 -i 0.2 -W 2 10.77.0.2

cc -std=gnu11 -I"$TOP/include" -fPIC -shared -o "$WORK/broken.so" "$TOP/tests/unit/plugins/bad_abi.c"
cp "$WORK/broken.so" "$WORK/cplug/broken.so"
cp "$WORK/broken.so" "$WORK/splug/broken.so"
"${CC_[@]}" scheduler set upstream broken >"$WORK/broken-up.out" 2>&1
rc=$?
sed 's/^/  | /' "$WORK/broken-up.out"
check "upstream swap to a wrong-ABI plugin exits 1 (got $rc)" test "$rc" -eq 1
check "... with the loader's message (ABI version)" grep -q "broken.so: .*ABI" "$WORK/broken-up.out"
check "... upstream still weighted" test "$(up_plugin)" = weighted
"${CC_[@]}" scheduler set downstream broken >"$WORK/broken-down.out" 2>&1
rc=$?
sed 's/^/  | /' "$WORK/broken-down.out"
check "downstream swap to a wrong-ABI plugin exits 1 (got $rc)" test "$rc" -eq 1
check "... the client hears not available" grep -q "refused downstream broken: downstream plugin not available" "$WORK/broken-down.out"
check "... the server logs the loader message" grep -q "downstream swap to \"broken\" refused: .*broken.so: ABI" "$WORK/server.log"
check "... the server still runs weighted" test "$(down_plugin_server)" = weighted
"$CTL" -s "$WORK/client.sock" plugins >"$WORK/plugins.out" 2>&1
sed 's/^/  | /' "$WORK/plugins.out"
check "tuntunctl plugins lists fastest-first with version and description" \
	grep -Eq "^fastest-first +[0-9]+\.[0-9]+.*highest-rate link" "$WORK/plugins.out"
check "tuntunctl plugins shows why broken is refused" grep -q "^broken .*REFUSED: .*ABI" "$WORK/plugins.out"
rm -f "$WORK/cplug/broken.so" "$WORK/splug/broken.so"

# ---- the out-of-tree example plugin, swapped in both ways ----
cp "$WORK/example/fastest-first.so" "$WORK/splug/"
"${CC_[@]}" scheduler set upstream fastest-first >"$WORK/ff.out" 2>&1
check "upstream swap to the example plugin fastest-first" test $? -eq 0
"${CC_[@]}" scheduler set downstream fastest-first >>"$WORK/ff.out" 2>&1
check "downstream swap to fastest-first accepted by the server" test $? -eq 0
sed 's/^/  | /' "$WORK/ff.out"
check "client status names fastest-first upstream" test "$(up_plugin)" = fastest-first
check "server session runs fastest-first" test "$(down_plugin_server)" = fastest-first
read -r ca0 cb0 <<<"$(tx_pair client)"
read -r sa0 sb0 <<<"$(tx_pair server)"
bg "$WORK/ff-up.json" ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" recv 9104 2
r1=$LAST_PID
bg "$WORK/ff-down.json" ip netns exec "$NS_C" python3 "$E2E_DIR/udpseq.py" recv 9105 2
r2=$LAST_PID
wait_udp "$NS_H" 9104
wait_udp "$NS_C" 9105
bg /dev/null ip netns exec "$NS_H" python3 "$E2E_DIR/udpseq.py" send 10.77.0.2 9105 2000 4000
s2=$LAST_PID
c python3 "$E2E_DIR/udpseq.py" send 10.99.0.2 9104 2000 4000
wait "$s2" "$r1" "$r2"
read -r ca1 cb1 <<<"$(tx_pair client)"
read -r sa1 sb1 <<<"$(tx_pair server)"
u1=$(jq_py "d['unique']" <"$WORK/ff-up.json" 2>/dev/null || echo 0)
u2=$(jq_py "d['unique']" <"$WORK/ff-down.json" 2>/dev/null || echo 0)
echo "  fastest-first: client reorder $(cstatus | jq_py "d['reorder']")"
if [ "$u1" -ne 4000 ] || [ "$u2" -ne 4000 ]; then # where did it go
	echo "  client: $(cstatus | jq_py "d['counters'], d['session']['counters']")"
	echo "  server: $(sstatus | jq_py "d['counters'], d['sessions'][0]['counters'], d['sessions'][0]['reorder']")"
	c netstat -su | grep -i error
	h netstat -su | grep -i error
fi
check "traffic flows upstream through fastest-first ($u1 of 4000)" test "$u1" -eq 4000
check "traffic flows downstream through fastest-first ($u2 of 4000)" test "$u2" -eq 4000
check "client links sent the upstream stream" test $((ca1 - ca0 + cb1 - cb0)) -ge 4000
check "server links sent the downstream stream" test $((sa1 - sa0 + sb1 - sb0)) -ge 4000
st=$(sstatus)
check "server status shows fastest-first's picks" \
	python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['sessions'][0]['scheduler']['picks']>=4000 else 1)" "$st"

summary
