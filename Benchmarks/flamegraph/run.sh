#!/usr/bin/env bash
# Flame-graph benchmark: records the synthetic workload (1M allocations) with 4,096 and with up to
# 1M distinct stacks, then times `mematlas flamegraph --timings` (read, symbolize, build+render).
# Usage: Benchmarks/flamegraph/run.sh [debug|release]   (from the package root)
set -euo pipefail
cd "$(dirname "$0")/../.."
config=${1:-release}
scratch=.build-flame
swift build -c "$config" --scratch-path "$scratch" --product mematlas >/dev/null
mematlas=$scratch/$config/mematlas
out=$(mktemp -d)
cc -O1 -g -fno-omit-frame-pointer -o "$out/flame_workload" Benchmarks/flamegraph/flame_workload.c
for depth in 6 10; do
  "$mematlas" record --force -o "$out/d$depth.trace" -- "$out/flame_workload" 1000000 "$depth" 2>/dev/null
  for kind in allocated peak; do
    echo "depth $depth, --kind $kind:"
    "$mematlas" flamegraph "$out/d$depth.trace" --kind "$kind" -o "$out/d$depth-$kind.svg" --timings
  done
  "$mematlas" flamegraph "$out/d$depth.trace" -o "$out/d$depth.pb.gz" --timings
done
ls -la "$out"/*.svg "$out"/*.pb.gz
echo "outputs in $out"
