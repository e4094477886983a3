#!/usr/bin/env bash
# The monitoring listener's cost (docs/monitoring.md), in its own namespaces:
#   1. daemon RSS (client and server) with `http:` on and off (the history
#      ring is allocated at the first sample, so a few seconds show it);
#   2. the idle client's CPU (all threads, ns from schedstat) with `http:`
#      off, on, and on with 10 scrapes a second: the cost of the snapshot
#      the loop renders every second, and of one scrape;
#   3. daemon CPU (client + server) during a bulk iperf3 over unimpaired
#      links, without and with a scraper that fetches /metrics,
#      /status.json and /history.json every second, in alternating rounds
#      so drift on this shared machine hits both.
# Nothing asserts: figures for reading (`make bench`).
set -u
T=${BENCH_T:-10}
ROUNDS=${BENCH_ROUNDS:-2}
cd "$(dirname "$0")/.." || exit 1

one() { # one on|off: a fresh pair; prints RSS and per-round CPU
	EMU=0 MODE=$1 T=$T ROUNDS=$ROUNDS bash -c '
	. tests/e2e/lib.sh
	cpu_ticks() { awk "{print \$14 + \$15}" "/proc/$1/stat" 2>/dev/null || echo 0; }
	rss_kb() { awk "/^VmRSS/ {print \$2}" "/proc/$1/status"; }
	topo_up
	bg "$WORK/iperf-s.log" ip netns exec "$NS_H" iperf3 -s -p 5201
	extra=""
	[ "$MODE" = on ] && extra="http: { listen: \"127.0.0.1:9580\" }"
	write_configs roundrobin roundrobin "$extra"
	[ "$MODE" = on ] && echo "http: { listen: \"127.0.0.1:9581\" }" >>"$WORK/server.yaml"
	daemons_start >/dev/null || { echo "RESULT error=start"; exit 1; }
	sleep 3
	echo "RESULT rss_client_kb=$(rss_kb $CLIENT_PID) rss_server_kb=$(rss_kb $SERVER_PID)"
	run_ns() { cat /proc/$1/task/*/schedstat | awk "{s += \$1} END {printf \"%.0f\n\", s}"; }
	idle() { # idle SCRAPES_PER_S -> client CPU in us per second over 10 s
		local a b n=0 end
		a=$(run_ns $CLIENT_PID)
		end=$((SECONDS + 10))
		while [ $SECONDS -lt $end ]; do
			if [ "$1" -gt 0 ]; then
				ip netns exec "$NS_C" curl -s -o /dev/null -o /dev/null \
					http://127.0.0.1:9580/metrics http://127.0.0.1:9580/status.json
				n=$((n + 1))
				sleep "$(python3 -c "print(1/$1)")"
			else
				sleep 1
			fi
		done
		b=$(run_ns $CLIENT_PID)
		echo "$(( (b - a) / 10000 )) $n"
	}
	read -r us _ <<<"$(idle 0)"
	echo "RESULT idle_us_per_s=$us"
	[ "$MODE" = on ] || exit 0
	read -r us n <<<"$(idle 10)"
	echo "RESULT scraped_us_per_s=$us scrapes=$n"
	[ "$MODE" = on ] || exit 0
	scrape() {
		while :; do
			ip netns exec "$NS_C" curl -s -o /dev/null http://127.0.0.1:9580/metrics
			ip netns exec "$NS_C" curl -s -o /dev/null http://127.0.0.1:9580/status.json
			ip netns exec "$NS_C" curl -s -o /dev/null http://127.0.0.1:9580/history.json
			sleep 1
		done
	}
	hz=$(getconf CLK_TCK)
	for r in $(seq "$ROUNDS"); do
		for s in 0 1; do
			[ $s = 1 ] && { scrape & sp=$!; sleep 1.5; }
			t0=$(date +%s.%N)
			c0=$(($(cpu_ticks $CLIENT_PID) + $(cpu_ticks $SERVER_PID)))
			c iperf3 -c 10.99.0.2 -p 5201 -t "$T" -J >"$WORK/ip.json" 2>&1
			c1=$(($(cpu_ticks $CLIENT_PID) + $(cpu_ticks $SERVER_PID)))
			t1=$(date +%s.%N)
			[ $s = 1 ] && { kill $sp; wait $sp 2>/dev/null; }
			mbps=$(python3 -c "import json; d=json.load(open(\"$WORK/ip.json\")); print(round(d[\"end\"][\"sum_received\"][\"bits_per_second\"]/1e6,1))" 2>/dev/null || echo 0)
			cpu=$(python3 -c "print(round(($c1-$c0)/$hz/($t1-$t0),3))")
			echo "RESULT scrape=$s mbps=$mbps cpu=$cpu"
		done
	done
	echo "RESULT rss_client_after_kb=$(rss_kb $CLIENT_PID) rss_server_after_kb=$(rss_kb $SERVER_PID)"
	'
}

val() { echo "$1" | grep "^RESULT" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
off=$(one off)
on=$(one on)
printf '%-44s %10s %10s\n' "daemon RSS (kB)" client server
printf '%-44s %10s %10s\n' "without http:" "$(val "$off" rss_client_kb)" "$(val "$off" rss_server_kb)"
printf '%-44s %10s %10s\n' "with http: (listening, 3 s of history)" "$(val "$on" rss_client_kb)" "$(val "$on" rss_server_kb)"
printf '%-44s %10s %10s\n' "with http:, after the scraped runs" "$(val "$on" rss_client_after_kb)" "$(val "$on" rss_server_after_kb)"
ioff=$(val "$off" idle_us_per_s) ion=$(val "$on" idle_us_per_s)
isc=$(val "$on" scraped_us_per_s) nsc=$(val "$on" scrapes)
printf '\n%-44s %12s\n' "idle client daemon, CPU" "us per s"
printf '%-44s %12s\n' "without http:" "$ioff" "with http: (snapshot every second)" "$ion" \
	"with http:, /metrics + /status.json 10x/s" "$isc"
python3 -c "
off, on, sc, n = $ioff, $ion, $isc, $nsc
print(f'{\"snapshot (status tree, in the loop), per s\":44} {on - off:>9} us')
print(f'{\"one scrape of /metrics + /status.json\":44} {(sc - on) * 10 / max(n, 1):>9.0f} us')"
printf '\n%-44s %10s %8s %14s\n' "bulk iperf3 -t $T, client+server CPU" Mbit/s cores "cores/Gbit/s"
echo "$on" | grep '^RESULT scrape=' | while read -r _ s m c; do
	m=${m#mbps=} c=${c#cpu=}
	printf '%-44s %10s %8s %14s\n' "$([ "${s#scrape=}" = 1 ] && echo "scraped every second" || echo "not scraped")" "$m" "$c" \
		"$(python3 -c "print(round($c / ($m / 1000), 3) if $m else '-')")"
done
