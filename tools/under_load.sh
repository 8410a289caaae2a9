#!/usr/bin/env bash
# Runs a command while CPU-bound processes compete for every core (two by
# default, THEATER_HOGS to change), the way a shared machine does: the suite
# must pass on a busy machine, not only on an idle one. The hogs are started
# here and ended here, by pid, however the command ends.
set -uo pipefail
hogs=()
stop_hogs() {
  for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${hogs[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_hogs EXIT
for _ in $(seq 1 "${THEATER_HOGS:-2}"); do
  sh -c 'while :; do :; done' &
  hogs+=("$!")
done
echo "under_load: ${#hogs[@]} CPU hogs (pids ${hogs[*]}) while: $*" >&2
"$@"
