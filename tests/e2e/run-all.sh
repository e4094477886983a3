#!/usr/bin/env bash
# Runs every end-to-end test (tests/e2e/t-*.sh; root needed for namespaces),
# keeps going past a failure, and ends with one "N passed, N failed" line
# counting the individual checks.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "e2e: needs root (network namespaces); skipped"
	exit 1
fi
total_pass=0 total_fail=0 failed=()
for t in "$dir"/t-*.sh; do
	out=$(bash "$t" 2>&1)
	rc=$?
	echo "$out"
	line=$(echo "$out" | grep -E '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed$' | tail -1)
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
	[ -n "$line" ] || { p=0; f=1; }
	[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	[ "$f" -gt 0 ] && failed+=("$(basename "$t")")
done
echo "e2e checks: $total_pass passed, $total_fail failed"
[ $total_fail -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
