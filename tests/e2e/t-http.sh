#!/usr/bin/env bash
# The monitoring listener (`http:`, docs/monitoring.md) on a running pair:
# the client serves on 127.0.0.1 in its namespace without credentials, the
# server on its WAN address with a token. Checks: a non-loopback listen
# without credentials is a config error; /metrics is valid Prometheus text
# whose byte counters grow with traffic far more than in an idle control
# interval of the same length; a link killed in the emulator turns its
# ttt_link_state gauge from 2 (up) to 0 (down) and back; /status.json has
# the same fields as `tuntunctl status --json`; the token is required
# (401 without it or with a wrong one); and the live page, loaded in
# headless Chromium inside the namespaces, runs without errors, shows one
# card per link (one section per client on the server) with numbers that
# change between two loads, and leaves screenshots in build/.
. "$(dirname "$0")/lib.sh"

echo "== monitoring over HTTP"
SHOTS=$TOP/build
mkdir -p "$SHOTS"

# ---- config checks (no namespaces needed)
"$CTL" genkey "$WORK/k" >/dev/null
cfg_check() { # cfg_check HTTP_LINE -> prints the daemon's message, returns its status
	cat >"$WORK/chk.yaml" <<EOF
role: client
server: { address: 10.200.0.2 }
key: $WORK/k
tun: { address: 10.77.0.2/24 }
links: [ { name: a } ]
$1
EOF
	"$TTT" -n -c "$WORK/chk.yaml" 2>&1
}
out=$(cfg_check 'http: { listen: "0.0.0.0:9580" }')
rc=$?
check "non-loopback listen without credentials refused (exit $rc)" test "$rc" -eq 2
check "  ... naming file:line:col and http.listen" \
	grep -q 'chk.yaml:6:[0-9]*: http.listen: "0.0.0.0:9580" is not a loopback address' <<<"$out"
echo 0123456789abcdef0123 >"$WORK/tok"
chmod 600 "$WORK/tok"
out=$(cfg_check "http: { listen: \"0.0.0.0:9580\", token_file: $WORK/tok }")
check "non-loopback listen with a token accepted by the check" test $? -eq 0
out=$(cfg_check 'http: { listen: "0.0.0.0:9580", token_file: /nonexistent }')
rc=$?
check "  ... but not with a missing token file (exit $rc)" \
	bash -c "[ $rc -eq 2 ] && grep -q 'http.token_file: \"/nonexistent\": No such file' <<<'$out'"
out=$(cfg_check 'http: {}')
check "loopback listen without credentials accepted" test $? -eq 0

# ---- the pair
topo_up
emu_start a 10.101.0.1 7001 --delay 5ms --rate 100mbit --queue 50ms
emu_start b 10.102.0.1 7002 --delay 15ms --rate 100mbit --queue 50ms
TOKEN=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
echo "$TOKEN" >"$WORK/token"
chmod 600 "$WORK/token"
write_configs roundrobin roundrobin 'http: { listen: "127.0.0.1:9580" }'
PASS=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
echo "$PASS" >"$WORK/pass"
chmod 600 "$WORK/pass"
echo "http: { listen: \"10.200.0.2:9581\", token_file: $WORK/token, user: monitor, password_file: $WORK/pass }" >>"$WORK/server.yaml"
daemons_start || { bad "daemons start"; summary; exit 1; }

CURL=(curl -sS --max-time 5)
cget() { c "${CURL[@]}" "http://127.0.0.1:9580$1"; }
# metric NAME LABELS: one sample's value from the client's /metrics
metric() {
	local k=$1
	[ -n "$2" ] && k="$1{$2}"
	cget /metrics | awk -v k="$k" '$1 == k { print $2 }'
}
wait_for 5 bash -c "ip netns exec $NS_C curl -sf http://127.0.0.1:9580/metrics >/dev/null"

code=$(c "${CURL[@]}" -o "$WORK/m1" -w '%{http_code} %{content_type}' http://127.0.0.1:9580/metrics)
check "client /metrics answers 200 text/plain version 0.0.4 ($code)" \
	grep -q '^200 text/plain; version=0.0.4' <<<"$code"
# The exposition format, checked line by line by a small parser.
cat >"$WORK/promcheck.py" <<'EOF'
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
lab = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r'^(%s)(\{%s(?:,%s)*\})? (\S+)$' % (name, lab, lab))
types, seen, cur = {}, set(), None
for ln in open(sys.argv[1]):
    ln = ln.rstrip('\n')
    if ln.startswith('# HELP '):
        continue
    if ln.startswith('# TYPE '):
        _, _, n, t = ln.split(' ')
        assert n not in types, 'family twice: ' + n
        assert t in ('counter', 'gauge', 'histogram'), ln
        assert t != 'counter' or n.endswith('_total'), ln
        types[n] = t
        cur = n
        continue
    m = sample.match(ln)
    assert m, 'bad line: ' + ln
    assert m.group(1) == cur or (types[cur] == 'histogram' and m.group(1) in
        (cur + '_bucket', cur + '_sum', cur + '_count')), 'outside its family: ' + ln
    float(m.group(3).replace('+Inf', 'inf'))
    seen.add(m.group(1))
print(len(types))
EOF
nfam=$(python3 "$WORK/promcheck.py" "$WORK/m1" 2>&1)
check "client /metrics parses as Prometheus text ($nfam families)" test "$nfam" -gt 40 2>/dev/null
check "  ... with an RTT histogram per link" \
	bash -c "grep -q '^ttt_link_rtt_seconds_bucket{link=\"a\",le=\"+Inf\"}' $WORK/m1 &&
		 grep -q '^ttt_link_rtt_seconds_count{link=\"b\"}' $WORK/m1"
check "  ... and scheduler picks" grep -q '^ttt_scheduler_picks_total{direction="upstream",plugin="roundrobin"}' "$WORK/m1"

# Prometheus's own tools, when they can be had: promtool's linter on the
# text, then a real Prometheus scraping the client while the dashboard's
# queries run against it (examples/grafana-dashboard.json).
need_pkg() { # need_pkg CMD PACKAGE: installs PACKAGE for this test if missing
	command -v "$1" >/dev/null && return 0
	[ "$(id -u)" = 0 ] || return 1
	echo "  installing $2 for this test"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1
	command -v "$1" >/dev/null
}
if need_pkg promtool prometheus; then
	lint=$(promtool check metrics <"$WORK/m1" 2>&1)
	check "promtool check metrics finds nothing to say${lint:+: $lint}" test -z "$lint"
	cat >"$WORK/prom.yml" <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: ttt
    static_configs: [ { targets: ["127.0.0.1:9580"] } ]
EOF
	bg "$WORK/prom.log" ip netns exec "$NS_C" prometheus --config.file="$WORK/prom.yml" \
		--storage.tsdb.path="$WORK/prom" --web.listen-address=127.0.0.1:9090
	PROM_PID=$LAST_PID
	prom_up() { c curl -sf 'http://127.0.0.1:9090/api/v1/query?query=up' | grep -q '"value":\[[0-9.]*,"1"\]'; }
	wait_for 20 prom_up
	# a little traffic, and time for rate() to have samples
	c ping -c 20 -i 0.2 -q 10.99.0.2 >/dev/null
	cat >"$WORK/dash.py" <<'EOF'
import json, sys, urllib.parse, urllib.request
d = json.load(open(sys.argv[1]))
empty_ok = ('Quota used', 'HELLOs (server)')  # no quota; a client has no HELLOs
bad = []
for p in d['panels']:
    for t in p['targets']:
        q = (t['expr'].replace('$instance', '.*').replace('$client', '.*')
             .replace('$link', '.*').replace('$__rate_interval', '4s'))
        u = 'http://127.0.0.1:9090/api/v1/query?' + urllib.parse.urlencode({'query': q})
        try:
            r = json.load(urllib.request.urlopen(u, timeout=5))
        except Exception as e:
            bad.append('%s: %s' % (p['title'], e)); continue
        if r.get('status') != 'success':
            bad.append('%s: %s' % (p['title'], r.get('error')))
        elif not r['data']['result'] and p['title'] not in empty_ok:
            bad.append('%s: no data for %s' % (p['title'], q))
print(sum(len(p['targets']) for p in d['panels']), '; '.join(bad) or 'ok')
EOF
	res=$(ip netns exec "$NS_C" python3 "$WORK/dash.py" "$TOP/examples/grafana-dashboard.json" 2>&1)
	check "every Grafana dashboard query runs on Prometheus and has data ($res)" \
		test "${res#* }" = ok
	kill "$PROM_PID"
else
	echo "  SKIP promtool and dashboard checks: prometheus cannot be installed here"
fi

# ---- counters move with traffic, relative to an idle control interval
txsum() { cget /metrics | awk '$1 ~ /^ttt_link_tx_bytes_total\{/ { s += $2 } END { printf "%.0f\n", s }'; }
sleep 1.2
i0=$(txsum)
sleep 3
i1=$(txsum)
idle=$((i1 - i0))
head -c 8000000 /dev/urandom >"$WORK/blob"
bg "$WORK/recv.out" ip netns exec "$NS_H" python3 "$E2E_DIR/tcpxfer.py" recv 9001
rp=$LAST_PID
wait_listen "$NS_H" 9001
t0=$(txsum)
p0=$(metric ttt_tun_rx_packets_total "")
c python3 "$E2E_DIR/tcpxfer.py" send 10.99.0.2 9001 "$WORK/blob"
wait "$rp"
sleep 2.2 # one snapshot later
t1=$(txsum)
busy=$((t1 - t0))
echo "  client link tx bytes: idle 3 s +$idle, 8 MB transfer +$busy"
check "tx byte counters grew by at least the 8 MB sent" test "$busy" -ge 8000000
check "  ... and over 20x the idle interval's growth" test "$busy" -gt $((idle * 20))
p1=$(metric ttt_tun_rx_packets_total "")
mtu=$(metric ttt_tun_mtu_bytes "")
# no packet is larger than the tun MTU, so 8 MB need at least 8e6/MTU
check "tun packet counter counts the transfer (+$((p1 - p0)), at least $((8000000 / mtu)))" \
	test $((p1 - p0)) -ge $((8000000 / mtu))

# ---- a downed link's state gauge
check "link b's state gauge is 2 (up)" test "$(metric ttt_link_state 'link="b"')" = 2
emu_ctl b down >/dev/null
check "  ... turns 0 (down) when the emulator kills b" \
	wait_for 6 bash -c "[ \"\$(ip netns exec $NS_C curl -s http://127.0.0.1:9580/metrics | awk '\$1 == \"ttt_link_state{link=\\\"b\\\"}\" {print \$2}')\" = 0 ]"
check "  ... while a stays 2" test "$(metric ttt_link_state 'link="a"')" = 2
emu_ctl b up >/dev/null
check "  ... and 2 again when b returns" \
	wait_for 10 bash -c "[ \"\$(ip netns exec $NS_C curl -s http://127.0.0.1:9580/metrics | awk '\$1 == \"ttt_link_state{link=\\\"b\\\"}\" {print \$2}')\" = 2 ]"
"$CTL" -s "$WORK/client.sock" link a down >/dev/null
check "tuntunctl link a down shows as ttt_link_admin_down 1" \
	wait_for 3 bash -c "ip netns exec $NS_C curl -s http://127.0.0.1:9580/metrics | grep -qx 'ttt_link_admin_down{link=\"a\"} 1'"
"$CTL" -s "$WORK/client.sock" link a up >/dev/null

# ---- /status.json is the status document
cget /status.json >"$WORK/http-status.json"
cstatus >"$WORK/ctl-status.json"
cat >"$WORK/keys.py" <<'EOF'
import json, sys
def shape(d, p=''):
    out = set()
    if isinstance(d, dict):
        for k, v in d.items():
            if k == 'state' and p.endswith('upstream'):  # plugin's own dump
                continue
            if k == 'ok' and not p:  # the control reply's envelope
                continue
            out.add(p + '.' + k)
            out |= shape(v, p + '.' + k)
    elif isinstance(d, list) and d:
        out |= shape(d[0], p + '[]')
    return out
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
print(a.get('schema_version'), len(shape(a)), sorted(shape(a) ^ shape(b)))
EOF
read -r ver nkeys diff <<<"$(python3 "$WORK/keys.py" "$WORK/http-status.json" "$WORK/ctl-status.json")"
check "/status.json has schema_version 1 ($ver)" test "$ver" = 1
check "/status.json has the fields of tuntunctl status --json ($nkeys; differences: $diff)" test "$diff" = "[]"

# ---- /history.json: rendered from the second after someone asks
check "/history.json before anyone asked: pending" \
	bash -c "ip netns exec $NS_C curl -sf http://127.0.0.1:9580/history.json | grep -q '\"pending\":true'"
hist_ready() { c curl -sf http://127.0.0.1:9580/history.json >"$WORK/hist.json" && ! grep -q '"pending"' "$WORK/hist.json"; }
check "  ... then rendered within a couple of seconds" wait_for 4 hist_ready
hs=$(python3 -c "
import json; h = json.load(open('$WORK/hist.json'))
ls = h['sessions'][0]['links']
n = {len(l[k]) for l in ls for k in ('tx_bps', 'rx_bps', 'srtt_ms')}
busy = sum(1 for l in ls for v in l['tx_bps'] if v and v > 1e6)
print(h['schema_version'], ','.join(l['name'] for l in ls), min(n), len(n), busy)" 2>&1)
read -r hv hl hn hsame hbusy <<<"$hs"
echo "  history: $hs"
check "  ... one series per link (a,b), equal lengths, over 10 s" test "$hv $hl $hsame" = "1 a,b 1" -a "${hn:-0}" -gt 10
check "  ... that saw the transfer (seconds above 1 Mbit/s: $hbusy)" test "${hbusy:-0}" -ge 1

# ---- the token on the server's WAN listener
surl=http://10.200.0.2:9581
code=$(w "${CURL[@]}" -o /dev/null -w '%{http_code}' $surl/metrics)
check "server /metrics without the token: 401 ($code)" test "$code" = 401
code=$(w "${CURL[@]}" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer x$TOKEN" $surl/metrics)
check "  ... with a wrong token: 401 ($code)" test "$code" = 401
code=$(w "${CURL[@]}" -o /dev/null -w '%{http_code}' $surl/)
check "  ... the page without it: 401 ($code)" test "$code" = 401
code=$(w "${CURL[@]}" -o "$WORK/sm" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" $surl/metrics)
check "  ... with the token: 200 ($code)" test "$code" = 200
check "server metrics label links by client" grep -q '^ttt_link_rx_bytes_total{client="laptop",link="a"}' "$WORK/sm"
check "server metrics count accepted HELLOs" grep -q '^ttt_hello_accepted_total [1-9]' "$WORK/sm"
code=$(w "${CURL[@]}" -o /dev/null -w '%{http_code}' "$surl/status.json?token=$TOKEN")
check "  ... or as ?token= ($code)" test "$code" = 200
code=$(w "${CURL[@]}" -o /dev/null -w '%{http_code}' -u "monitor:$PASS" $surl/metrics)
check "  ... or basic auth ($code)" test "$code" = 200
code=$(w "${CURL[@]}" -o /dev/null -w '%{http_code}' -u "monitor:x$PASS" $surl/metrics)
check "  ... but not with a wrong password ($code)" test "$code" = 401
code=$(w "${CURL[@]}" -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" $surl/metrics)
check "POST refused with 405 ($code)" test "$code" = 405
sleep 1.2 # the next snapshot
n401=$(w "${CURL[@]}" -H "Authorization: Bearer $TOKEN" $surl/metrics | awk '$1 == "ttt_http_unauthorized_total" {print $2}')
check "refusals counted in ttt_http_unauthorized_total ($n401)" test "${n401:-0}" -ge 4
check "server listener is not on the tunnel's side (nothing on 127.0.0.1:9581)" \
	bash -c "! ip netns exec $NS_S curl -s --max-time 2 http://127.0.0.1:9581/ >/dev/null"

# ---- the page in headless Chromium, inside the namespaces
CHROME=$(command -v chromium || true)
if [ -z "$CHROME" ] && [ "$(id -u)" = 0 ]; then
	echo "  installing chromium for the page test"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1
	CHROME=$(command -v chromium || true)
fi
if [ -z "$CHROME" ]; then
	echo "  SKIP page test: chromium is not installed and cannot be installed here"
else
	chrome() { # chrome NS URL ARGS...: headless, no network but the URL's
		local ns=$1 url=$2
		shift 2
		local prof
		prof=$(mktemp -d "$WORK/chrome.XXXXXX")
		HOME=$prof timeout 60 ip netns exec "$ns" "$CHROME" --headless --no-sandbox \
			--disable-gpu --no-first-run --disable-background-networking \
			--disable-component-update --disable-sync --disable-extensions \
			--disable-default-apps --no-default-browser-check --hide-scrollbars \
			--user-data-dir="$prof" --enable-logging=stderr --v=0 "$@" "$url"
	}
	# Traffic in the background, so the numbers have something to show.
	bg "$WORK/iperf-s.log" ip netns exec "$NS_H" iperf3 -s -p 5201
	wait_listen "$NS_H" 5201
	bg "$WORK/iperf-c.log" ip netns exec "$NS_C" iperf3 -c 10.99.0.2 -p 5201 -t 40 -b 30M --bidir
	sleep 3
	chrome "$NS_C" http://127.0.0.1:9580/ --virtual-time-budget=6000 --dump-dom \
		>"$WORK/dom1.html" 2>"$WORK/chrome1.log"
	sleep 2
	chrome "$NS_C" http://127.0.0.1:9580/ --virtual-time-budget=6000 --dump-dom \
		>"$WORK/dom2.html" 2>"$WORK/chrome2.log"
	cat >"$WORK/dom.py" <<'EOF'
import re, sys
d = open(sys.argv[1]).read()
body = re.search(r'<body[^>]*>', d).group(0)
errs = re.search(r'data-errors="(\d+)"', body).group(1)
polls = re.search(r'data-polls="(\d+)"', body).group(1)
cards = re.findall(r'<div class="card (\w+)" data-key="([^"]*)"', d)
tx = re.findall(r'data-tx-bytes="(\d+)"', d)
sections = re.findall(r'<section data-key="([^"]*)"', d)
vals = re.findall(r'data-field="(tx|rx|rtt|loss)">([^<]*)<', d)
print(errs, polls, len(cards), ','.join(c[0] for c in cards), ','.join(tx),
      ','.join(sections), ','.join(v for _, v in vals))
EOF
	read -r e1 p1 n1 st1 tx1 sec1 v1 <<<"$(python3 "$WORK/dom.py" "$WORK/dom1.html" 2>/dev/null)"
	read -r e2 p2 n2 st2 tx2 sec2 v2 <<<"$(python3 "$WORK/dom.py" "$WORK/dom2.html" 2>/dev/null)"
	echo "  page: errors $e1/$e2, polls $p1/$p2, cards $n1 ($st1), tx bytes $tx1 -> $tx2, figures $v1"
	check "page loads with no script error" test "$e1 $e2" = "0 0"
	# The page writes nothing to the console; Chromium logs every console
	# message (errors, uncaught exceptions, failed loads) as CONSOLE lines.
	check "  ... and no console message in Chromium's log" \
		bash -c "! grep -h ':CONSOLE' $WORK/chrome1.log $WORK/chrome2.log"
	check "  ... polled status.json several times" test "${p1:-0}" -ge 2
	check "  ... one card per link (2), both up" test "$n1 $st1" = "2 up,up"
	check "  ... numbers that change between two loads" \
		bash -c "[ -n '$tx1' ] && [ '$tx1' != '$tx2' ]"
	check "  ... and live rates shown (not dashes)" bash -c "! grep -q '–' <<<'${v1%,*}'"
	check "  ... graphs filled from /history.json" grep -q 'data-history="1"' "$WORK/dom2.html"
	chrome "$NS_C" http://127.0.0.1:9580/ --virtual-time-budget=12000 --window-size=1280,800 \
		--screenshot="$SHOTS/http-page.png" >/dev/null 2>"$WORK/chrome3.log"
	check "desktop screenshot written to build/http-page.png" test -s "$SHOTS/http-page.png"
	chrome "$NS_C" http://127.0.0.1:9580/ --virtual-time-budget=12000 --window-size=390,844 \
		--force-device-scale-factor=2 --screenshot="$SHOTS/http-page-phone.png" \
		>/dev/null 2>"$WORK/chrome4.log"
	check "phone-size screenshot written to build/http-page-phone.png" test -s "$SHOTS/http-page-phone.png"
	# The server's page: one section per client, the token from the URL.
	chrome "$NS_W" "$surl/?token=$TOKEN" --virtual-time-budget=6000 --dump-dom \
		>"$WORK/dom3.html" 2>"$WORK/chrome5.log"
	read -r e3 p3 n3 st3 tx3 sec3 v3 <<<"$(python3 "$WORK/dom.py" "$WORK/dom3.html" 2>/dev/null)"
	echo "  server page: errors $e3, polls $p3, sections $sec3, cards $n3"
	check "server page: one section per client, its links as cards" \
		test "$e3 $sec3 $n3" = "0 c:laptop 2"
	check "  ... no console message" bash -c "! grep -h ':CONSOLE' $WORK/chrome5.log"
	chrome "$NS_W" "$surl/?token=$TOKEN" --virtual-time-budget=12000 --window-size=1280,700 \
		--screenshot="$SHOTS/http-page-server.png" >/dev/null 2>"$WORK/chrome6.log"
fi

summary
