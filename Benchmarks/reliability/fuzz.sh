#!/usr/bin/env bash
# Mutation run of the trace reader: records seed traces of three programs (compressed and not),
# then feeds trace-fuzz INPUTS mutated and truncated traces made from them (release build).
# Usage: Benchmarks/reliability/fuzz.sh [INPUTS] [SEED]     (defaults: 100000, 1)
# Prints trace-fuzz's JSON line (outcomes, violations, slowest input, peak RSS) and the wall time.
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch=${SCRATCH:-.build}  # SwiftPM scratch path (--scratch-path)
inputs=${1:-100000}
seed=${2:-1}
out=${TMPDIR:-/tmp}/mematlas-fuzz
rm -rf "$out"
mkdir -p "$out"
for product in mematlas trace-fuzz; do
  swift build -c release --scratch-path "$scratch" --product $product >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
done
bin=$scratch/release
cc -O1 -g -fno-omit-frame-pointer -pthread -o "$out/exact_counts" Examples/c/exact_counts.c
cc -O1 -g -fno-omit-frame-pointer -pthread -o "$out/odd_calls" Examples/c/odd_calls.c -ldl
for mode in zstd raw; do
  flag=$([ $mode = raw ] && echo --no-compress || true)
  suffix=$([ $mode = raw ] && echo -raw || true)
  "$bin/mematlas" record $flag -o "$out/exact4$suffix.trace" -- "$out/exact_counts" 4 >/dev/null 2>&1
  "$bin/mematlas" record $flag -o "$out/odd$suffix.trace" -- "$out/odd_calls" >/dev/null 2>&1
  "$bin/mematlas" record $flag -o "$out/python$suffix.trace" -- /usr/bin/python3 -c "import json; json.dumps({'a': [1, 2]})" >/dev/null 2>&1
done
ls -l "$out"/*.trace
start=$(date +%s.%N)
"$bin/trace-fuzz" --inputs "$inputs" --seed "$seed" --work "$out/work" "$out"/*.trace
echo "wall: $(echo "$(date +%s.%N) - $start" | bc) s"
