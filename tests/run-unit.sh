#!/usr/bin/env bash
# Runs every unit-test binary given (cmocka, built with ASan+UBSan), keeps
# going past a failure so one broken module does not hide the others, and
# ends with one "N passed, N failed" line.
set -u
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
pass=0 fail=0 failed=()
for t in "$@"; do
  name=$(basename "$t")
  if out=$("$t" 2>&1); then
    pass=$((pass + 1))
  else
    fail=$((fail + 1)); failed+=("$name")
  fi
  printf '%s\n' "$out" | grep -E '^\[  (PASSED|FAILED)|^\[  ERROR|^\[ +FAILED|ERROR:|runtime error' | sed "s/^/$name: /"
done
echo "unit test programs: $pass passed, $fail failed"
[ $fail -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
