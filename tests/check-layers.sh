#!/usr/bin/env bash
# The layering rule of README.md ("Layout"), checked on every `make check`:
# the modules under core/*/ never include the daemon's spine headers
# (core/*.h), and reorder/ and schedulers/ include nothing from core/ at all
# (the plugins see only the public header, as a third party does).
set -u
cd "$(dirname "$0")/.." || exit 1
spine=$(cd core && ls *.h | paste -sd'|')
bad=$(grep -nE "#include \"($spine)\"" core/*/*.[ch];
      grep -nE '#include "(core/|\.\./|base/|conf/|ctl/|link/|os/|sched/|wire/)' reorder/*.[ch] schedulers/*.[ch])
if [ -n "$bad" ]; then
	printf 'layers: include across the layering rule:\n%s\n' "$bad"
	echo "layers: 0 passed, 1 failed"
	exit 1
fi
echo "layers: 1 passed, 0 failed"
