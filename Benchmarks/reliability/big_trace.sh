#!/usr/bin/env bash
# Summarizes a trace of hundreds of millions of events in bounded memory: records the recording
# benchmark's workload (Benchmarks/recording/alloc_workload.c, CALLS million calls, about 1.125
# events a call) with the release build, then runs `mematlas summary` on it twice: plainly, with
# its peak resident memory measured, and under an address-space limit of LIMIT_MIB (prlimit --as).
# Usage: Benchmarks/reliability/big_trace.sh [CALLS_IN_MILLIONS] [LIMIT_MIB]   (defaults: 200, 1024)
# The trace (about 3.6 bytes an event: 730 MB for 200) is deleted at the end unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch=${SCRATCH:-.build}  # SwiftPM scratch path (--scratch-path)
calls=${1:-200}
limit_mib=${2:-1024}
out=${TMPDIR:-/tmp}/mematlas-big-trace
mkdir -p "$out"
need_kib=$((calls * 5 * 1024))  # 5 MB a million calls, with room to spare
free_kib=$(df -Pk "$out" | awk 'NR == 2 { print $4 }')
if [ "$free_kib" -lt "$need_kib" ]; then
  echo "big_trace.sh: $out has $((free_kib / 1024)) MiB free, the trace needs about $((need_kib / 1024)) MiB" >&2
  exit 1
fi
swift build -c release --scratch-path "$scratch" --product mematlas >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
mematlas=$scratch/release/mematlas
cc -O2 -g -o "$out/alloc_workload" Benchmarks/recording/alloc_workload.c
trace="$out/big.trace"
rm -f "$trace"

# Peak resident memory of a command: /usr/bin/time when present, else VmHWM polled from /proc.
measure() {
  local label=$1
  shift
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "$label: %e s wall, %U s user, peak RSS %M KiB, exit %x" "$@"
  else
    local start hwm=0 status=0
    start=$(date +%s.%N)
    "$@" &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo "$hwm")
      sleep 0.1
    done
    wait "$pid" || status=$?
    echo "$label: $(echo "$(date +%s.%N) - $start" | bc) s wall, peak RSS at least $hwm KiB (polled), exit $status" >&2
  fi
}

measure "record" "$mematlas" record -o "$trace" -- "$out/alloc_workload" "$calls" >/dev/null
ls -l "$trace"
measure "summary" "$mematlas" summary --json "$trace" >"$out/summary.json"
measure "summary under prlimit --as=${limit_mib}MiB" prlimit --as=$((limit_mib << 20)) "$mematlas" summary --json "$trace" >"$out/summary-limited.json"
cmp -s "$out/summary.json" "$out/summary-limited.json" && echo "the limited run's summary is the same"
python3 - "$out/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"{s['events']:,} events, complete {s['complete']}, {s['allocations']:,} allocations, "
      f"{s['unmatchedFrees']} unmatched frees, {s['leakedBlocks']} blocks leaked, {s['durationSeconds']:.1f} s recorded")
PY
[ "${KEEP:-0}" = 1 ] || rm -f "$trace"
