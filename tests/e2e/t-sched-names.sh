#!/usr/bin/env bash
# A client never chooses the server's code (topology in lib.sh; each daemon
# has its own copy of plugins.d, see sched_setup):
#   - `scheduler set downstream` relays whatever the client's user typed; an
#     absolute path, a relative path out of the server's plugin directory,
#     and a plugin name that exists only outside it are each refused with
#     the generic "downstream plugin not available", no constructor of the
#     file runs in the server (marker.so's constructor writes
#     $TTT_MARKER_FILE), and the session keeps its plugin;
#   - the server's log has the detail, with peer-supplied control bytes
#     escaped (no raw ESC reaches the log);
#   - control run: the same marker.so dropped into the server's plugin
#     directory and asked for by name loads, and the marker appears;
#   - a HELLO asking for a plugin the server cannot load: the session runs
#     the server's default instead and both logs name the plugin (issue
#     15); the outside file is still never loaded.
. "$(dirname "$0")/lib.sh"

echo "== plugin names from the network: a name in the server's plugins.d, never a path"
# Outside both plugin directories, root-owned and trusted (so only the name
# rule can refuse it), and short enough for a 31-byte plugin name.
OUT=$(mktemp -d /tmp/tttm.XXXXXX)
chmod 0755 "$OUT"
trap 'cleanup; rm -rf "$OUT"' EXIT
export TTT_MARKER_FILE=$WORK/marker-ran
cc -std=gnu11 -I"$TOP/include" -fPIC -shared -o "$OUT/marker.so" "$TOP/tests/unit/plugins/marker.c"
check "marker.so builds" test -f "$OUT/marker.so"

sched_setup || { bad "daemons start"; summary; exit 1; }
"${CC_[@]}" scheduler set downstream weighted >/dev/null
check "the server runs weighted downstream" test "$(down_plugin_server)" = weighted

rel="../../$(basename "$OUT")/marker" # from $WORK/splug to $OUT/marker(.so)
n=0
for req in "$OUT/marker.so" "$rel" "$rel.so" marker; do
	n=$((n + 1))
	"${CC_[@]}" scheduler set downstream "$req" >"$WORK/req$n.out" 2>&1
	rc=$?
	sed 's/^/  | /' "$WORK/req$n.out"
	check "downstream \"$req\" refused (exit $rc)" test "$rc" -ne 0
	check "... the client hears only \"not available\"" \
		grep -q "refused downstream .*: downstream plugin not available" "$WORK/req$n.out"
	check "... nothing of the server's file system in the answer" \
		bash -c "! grep -Eq 'no such|ELF|ermission|cannot load|ABI|never a path|expected' '$WORK/req$n.out'"
	check "... no constructor ran in the server" test ! -e "$TTT_MARKER_FILE"
	check "... the session keeps weighted" test "$(down_plugin_server)" = weighted
done
check "the server log says a path is never taken from the peer" \
	grep -q "downstream swap to \"$OUT/marker.so\" refused: .*never a path" "$WORK/server.log"
check "the server log names the missing file for a bare name" \
	grep -q "downstream swap to \"marker\" refused: .*splug/marker.so: no such plugin file" "$WORK/server.log"

# Control bytes in a peer's name reach the log escaped.
"${CC_[@]}" scheduler set downstream $'ev\x1b[31mil' >/dev/null 2>&1
check "an escape sequence from the peer is logged as \\x1b" \
	wait_for 5 grep -qF 'downstream swap to "ev\x1b[31mil" refused' "$WORK/server.log"
check "... and no raw ESC byte is in the server log" bash -c "! grep -q $'\x1b' '$WORK/server.log'"

# Control run: the same file, installed in the server's plugin directory.
cp "$OUT/marker.so" "$WORK/splug/marker.so"
"${CC_[@]}" scheduler set downstream marker >"$WORK/ok.out" 2>&1
rc=$?
check "marker from the server's own plugins.d is accepted (exit $rc)" test "$(down_plugin_server)" = marker
check "... and its constructor ran: the marker mechanism sees a load" test -s "$TTT_MARKER_FILE"
loads=$(wc -l <"$TTT_MARKER_FILE")
"${CC_[@]}" scheduler set downstream weighted >/dev/null
rm -f "$WORK/splug/marker.so"

# A HELLO for a plugin the server lacks: the client restarts asking for it.
kill "$CLIENT_PID"
wait_for 5 bash -c "! kill -0 $CLIENT_PID"
sed -i "s|downstream: { plugin: .* }|downstream: { plugin: marker }|" "$WORK/client.yaml"
grep -q "downstream: { plugin: marker }" "$WORK/client.yaml" || sed -i "s|^scheduler:|scheduler:\n  downstream: { plugin: marker }|" "$WORK/client.yaml"
: >"$WORK/client.log"
bg "$WORK/client.log" ip netns exec "$NS_C" "$TTT" -c "$WORK/client.yaml"
CLIENT_PID=$LAST_PID
# Issue 15: a valid name the server lacks is no refusal; the session runs
# the server's default and both ends say so.
check "the client is told the server runs its default instead of marker" \
	wait_for 10 grep -q 'the server has no downstream plugin "marker" .*; it runs its default' "$WORK/client.log"
check "the server warns, naming marker and its own default" \
	grep -q 'laptop: the client asks for downstream plugin "marker", which this server cannot run (.*splug/marker.so: no such plugin file); using this server' "$WORK/server.log"
sleep 2
check "no HELLO made the server load the outside marker.so ($(wc -l <"$TTT_MARKER_FILE") loads)" \
	test "$(wc -l <"$TTT_MARKER_FILE")" -eq "$loads"

summary
