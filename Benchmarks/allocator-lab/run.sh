#!/bin/sh
# Allocator-lab replay speed: builds mematlas in release, makes a seeded 5M-operation workload,
# and prints each model's replay rate (operations per second, replay only, not parsing).
set -e
cd "$(dirname "$0")/../.."
swift build -c release --scratch-path .build-lab-release --product mematlas >/dev/null
workload=${TMPDIR:-/tmp}/allocator-lab-workload.rep
[ -f "$workload" ] || python3 Benchmarks/allocator-lab/make_workload.py 5000000 42 > "$workload"
.build-lab-release/release/mematlas simulate "$workload" --allocator "${ALLOCATORS:-all}" --json |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("operations:", d["operations"]); [print("%-28s %12.0f ops/s  peak footprint %d B" % (m["allocator"], m["operationsPerSecond"], m["peakFootprintBytes"])) for m in d["models"]]'
