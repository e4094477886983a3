#!/usr/bin/env bash
# make fuzz: builds every libFuzzer harness in tests/fuzz/ against the real
# parsers (all of core/ compiled with the fuzzer's coverage and ASan+UBSan,
# so each harness exercises exactly the code that ships), runs each for
# FUZZ_SECONDS (default 30) starting from the seed corpus in
# tests/fuzz/corpus/NAME/, and prints executions and crashes per harness.
# New interesting inputs go to build/fuzz/corpus/NAME (not the tree); a
# crash leaves build/fuzz/NAME-crash-* to turn into a unit test.
# FUZZ_ONLY="rx reorder" runs only those harnesses (names without fuzz_).
# `make fuzz-long` is this with FUZZ_SECONDS=300 (not in CI).
# The summary gives executions, edge coverage (cov) and features (ft) from
# libFuzzer's final stats.
# Exit status: 0 when no harness crashed.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
SECS=${FUZZ_SECONDS:-30}
FCC=${FUZZ_CC:-clang}
OUT=build/fuzz
PKGS="yaml-0.1 libsodium jansson libmnl libcap libmicrohttpd"
mkdir -p "$OUT/obj"

if ! command -v "$FCC" >/dev/null; then
	echo "fuzz: $FCC not found (libFuzzer needs clang)" >&2
	exit 2
fi
CFLAGS="-std=gnu11 -g -O1 -D_GNU_SOURCE -Iinclude -Icore -Ireorder -Ibuild/gen \
 -DTTT_PLUGINDIR=\"/nonexistent\" -DTTT_VERSION=\"$(cat VERSION)\" \
 $(pkg-config --cflags $PKGS) \
 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
 -fno-omit-frame-pointer"
LIBS="$(pkg-config --libs $PKGS) -lev -ldl -lm"

# The core once, instrumented for coverage but without libFuzzer's main.
objs=()
for src in core/*.c core/*/*.c reorder/*.c; do
	case $src in core/main.c | core/ctl/tuntunctl.c) continue ;; esac
	obj=$OUT/obj/$(echo "$src" | tr / _).o
	if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find core reorder include -name '*.h' -newer "$obj" -print -quit)" ]; then
		# shellcheck disable=SC2086
		"$FCC" $CFLAGS -fsanitize=fuzzer-no-link -c -o "$obj" "$src" || exit 1
	fi
	objs+=("$obj")
done

total_crash=0
summary=""
for h in tests/fuzz/fuzz_*.c; do
	name=$(basename "$h" .c)
	if [ -n "${FUZZ_ONLY:-}" ] && ! printf ' %s ' "$FUZZ_ONLY" | grep -q " ${name#fuzz_} "; then
		continue
	fi
	bin=$OUT/$name
	# shellcheck disable=SC2086
	"$FCC" $CFLAGS -fsanitize=fuzzer -o "$bin" "$h" "${objs[@]}" $LIBS || exit 1
	seeds=tests/fuzz/corpus/${name#fuzz_}
	work=$OUT/corpus/${name#fuzz_}
	mkdir -p "$work" "$seeds"
	rm -f "$OUT/$name"-crash-* "$OUT/$name"-leak-* "$OUT/$name"-timeout-*
	echo "== $name: ${SECS}s from $(find "$seeds" -type f | wc -l) seeds"
	"$bin" -max_total_time="$SECS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$OUT/$name-" \
		"$work" "$seeds" >"$OUT/$name.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$name.log" | tail -1)
	[ -z "$execs" ] && execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$OUT/$name.log" | tail -1)
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$OUT/$name.log" | tail -1)
	crashes=$(find "$OUT" -maxdepth 1 -name "$name-*" -type f | wc -l)
	if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
	if [ "$crashes" -ne 0 ]; then
		echo "   crashed (exit $rc); last lines of $OUT/$name.log:"
		tail -25 "$OUT/$name.log" | sed 's/^/   /'
	fi
	total_crash=$((total_crash + crashes))
	line=$(printf '%-16s execs %10s  %-22s crashes %d' "$name" "${execs:-0}" "${cov:-cov: ?}" "$crashes")
	echo "   $line"
	summary="$summary$line"$'\n'
done
echo "== fuzz summary (${SECS}s per harness)"
printf '%s' "$summary"
[ "$total_crash" -eq 0 ]
