#!/usr/bin/env bash
# The daemon as tuntuntun@.service runs it (topology in lib.sh):
#  - confined like the unit: capability bounding set CAP_NET_ADMIN and
#    CAP_NET_RAW only, no new privileges (setpriv), as root; the tunnel
#    still comes up and carries a ping, and /proc shows nothing else kept;
#  - sd_notify: each daemon talks to its own $NOTIFY_SOCKET (a datagram
#    listener here standing in for systemd): READY=1 once set up with a
#    STATUS= line (server: listening; client: handshake, links opened),
#    STATUS= updated when the session comes up and when a link goes down,
#    RELOADING=1 then READY=1 around SIGHUP, STOPPING=1 on SIGTERM;
#  - the bash completion offers the live daemons' link and plugin names.
# Skipped (visibly) when the build has no libsystemd.
. "$(dirname "$0")/lib.sh"

if ! ldd "$TTT" 2>/dev/null | grep -q libsystemd; then
	echo "  SKIP t-systemd: tuntuntun built without libsystemd (SYSTEMD=0 or no libsystemd-dev)"
	summary
	exit 0
fi

cat >"$WORK/notify.py" <<'PY'
# Stand-in for systemd's notify socket: one line per datagram, newlines
# inside shown as "|".
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode(errors="replace").replace("\n", "|") + "\n")
PY
bg /dev/null python3 "$WORK/notify.py" "$WORK/notify-s.sock" "$WORK/notify-s.log"
bg /dev/null python3 "$WORK/notify.py" "$WORK/notify-c.sock" "$WORK/notify-c.log"
wait_for 5 test -S "$WORK/notify-s.sock" && wait_for 5 test -S "$WORK/notify-c.sock" ||
	bad "notify listeners started"

topo_up
emu_start a 10.101.0.1 7001 --delay 5ms
emu_start b 10.102.0.1 7002 --delay 5ms
write_configs roundrobin roundrobin
# The unit's confinement (see scripts/systemd/tuntuntun@.service.in).
UNIT=(setpriv --bounding-set=-all,+net_admin,+net_raw --inh-caps=-all --no-new-privs)
bg "$WORK/server.log" env NOTIFY_SOCKET="$WORK/notify-s.sock" \
	ip netns exec "$NS_S" "${UNIT[@]}" "$TTT" -c "$WORK/server.yaml"
SERVER_PID=$LAST_PID
check "server reports READY=1 with a status line" \
	wait_for 10 grep -q '^READY=1|STATUS=listening on 0.0.0.0:5800, 0 sessions, 0/0 links up$' "$WORK/notify-s.log"
check "... and by then it listens (control socket there)" test -S "$WORK/server.sock"
bg "$WORK/client.log" env NOTIFY_SOCKET="$WORK/notify-c.sock" \
	ip netns exec "$NS_C" "${UNIT[@]}" "$TTT" -c "$WORK/client.yaml"
CLIENT_PID=$LAST_PID
check "client reports READY=1: handshake, both links opened" \
	wait_for 10 grep -Eq '^READY=1\|STATUS=(handshake with|connected to) 10.200.0.2:5800, ./2 links up: a [a-z-]+, b [a-z-]+$' "$WORK/notify-c.log"
ip -n "$NS_C" route add 10.99.0.0/24 dev ttt0
ip -n "$NS_H" route add 10.77.0.0/24 via 10.99.0.1 2>/dev/null || true
check "the confined tunnel carries a ping" wait_for 15 c ping -c1 -W1 10.99.0.2

# What the confined daemons kept: CAP_NET_ADMIN (12) and CAP_NET_RAW (13).
# (ip netns exec, env and setpriv all exec: the pid is the daemon's.)
dpid() { echo "$1"; }
for who in server client; do
	pid=$([ $who = server ] && echo $SERVER_PID || echo $CLIENT_PID)
	bnd=$(awk '/^CapBnd/ {print $2}' "/proc/$(dpid "$pid")/status" 2>/dev/null)
	eff=$(awk '/^CapEff/ {print $2}' "/proc/$(dpid "$pid")/status" 2>/dev/null)
	nnp=$(awk '/^NoNewPrivs/ {print $2}' "/proc/$(dpid "$pid")/status" 2>/dev/null)
	check "$who: bounding set is CAP_NET_ADMIN+CAP_NET_RAW only ($bnd)" [ "$bnd" = 0000000000003000 ]
	check "$who: effective set the same ($eff)" [ "$eff" = 0000000000003000 ]
	check "$who: no new privileges ($nnp)" [ "$nnp" = 1 ]
done

check "client STATUS: connected, 2/2 links up" \
	wait_for 10 grep -q '^STATUS=connected to 10.200.0.2:5800, 2/2 links up: a up, b up$' "$WORK/notify-c.log"
check "server STATUS: 1 session, 2/2 links up" \
	wait_for 10 grep -q '^STATUS=listening on 0.0.0.0:5800, 1 session, 2/2 links up$' "$WORK/notify-s.log"
# The status is recomputed every second; it must go out only when it
# changed: no line may repeat the one before it (READY= carries one too).
sleep 3
reps=$(sed -n 's/^\(READY=1|\)\{0,1\}STATUS=//p' "$WORK/notify-c.log" | uniq -d | wc -l)
lines=$(grep -c 'STATUS=' "$WORK/notify-c.log")
check "STATUS= is sent on changes only ($lines lines in $((SECONDS)) s, $reps repeated)" [ "$reps" = 0 ]
mark=$(wc -l <"$WORK/notify-c.log")
emu_ctl b down >/dev/null
check "client STATUS follows link b going down" \
	wait_for 10 bash -c "tail -n +$((mark + 1)) '$WORK/notify-c.log' |
		grep -q '^STATUS=connected to 10.200.0.2:5800, 1/2 links up: a up, b down$'"
emu_ctl b up >/dev/null
check "... and coming back" \
	wait_for 10 bash -c "tail -n +$((mark + 1)) '$WORK/notify-c.log' |
		grep -q '^STATUS=connected to 10.200.0.2:5800, 2/2 links up: a up, b up$'"

# Bash completion against these live daemons (scripts/completions).
comp() { # comp WORDS...: what completing the last word offers
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tuntunctl; echo "${COMPREPLY[*]}"' \
		_ "$TOP/scripts/completions/tuntunctl.bash" "$@"
}
check "completion: the client's link names, from status --json" \
	[ "$(comp "$CTL" -s "$WORK/client.sock" link "")" = "a b" ]
check "completion: the server's link names (its sessions' links)" \
	[ "$(comp "$CTL" --socket="$WORK/server.sock" link "")" = "a b" ]
want=$(cd "$TOP/plugins.d" && ls *.so | sed 's/\.so$//' | { cat; echo builtin-rr; } | sort | tr '\n' ' ')
check "completion: plugin names, from plugins --json ($want)" \
	[ "$(comp "$CTL" -s "$WORK/client.sock" scheduler set upstream "") " = "$want" ]

mark=$(wc -l <"$WORK/notify-c.log")
kill -HUP "$CLIENT_PID"
check "SIGHUP: RELOADING=1 (with MONOTONIC_USEC=) ..." \
	wait_for 5 bash -c "tail -n +$((mark + 1)) '$WORK/notify-c.log' | head -1 |
		grep -q '^RELOADING=1|MONOTONIC_USEC=[0-9][0-9]*$'"
check "... then READY=1 with the status line" \
	wait_for 5 bash -c "tail -n +$((mark + 2)) '$WORK/notify-c.log' | head -1 |
		grep -q '^READY=1|STATUS=connected to '"
kill -TERM "$CLIENT_PID"
check "SIGTERM: STOPPING=1" wait_for 5 grep -qx 'STOPPING=1' "$WORK/notify-c.log"
check "the client exited cleanly" wait_for 5 bash -c "! kill -0 $CLIENT_PID 2>/dev/null"
wait "$CLIENT_PID"
check "... with status 0" [ $? -eq 0 ]
summary
