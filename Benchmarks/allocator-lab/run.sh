#!/bin/sh
# Allocator-lab replay speed: builds mematlas in release, makes a seeded 5M-operation workload,
# and prints each model's replay rate (operations per second, replay only, not parsing): the median
# and the best of ROUNDS runs (default 3; this machine is shared, one run can be off by half).
set -e
cd "$(dirname "$0")/../.."
swift build -c release --scratch-path .build-lab-release --product mematlas >/dev/null
workload=${TMPDIR:-/tmp}/allocator-lab-workload.rep
[ -f "$workload" ] || python3 Benchmarks/allocator-lab/make_workload.py 5000000 42 > "$workload"
python3 - "$workload" "${ALLOCATORS:-all}" "${ROUNDS:-3}" <<'PY'
import json, statistics, subprocess, sys
workload, allocators, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
rates, footprints, operations = {}, {}, 0
for _ in range(rounds):
    out = subprocess.run([".build-lab-release/release/mematlas", "simulate", workload, "--allocator", allocators, "--json"],
                         check=True, capture_output=True, text=True).stdout
    d = json.loads(out)
    operations = d["operations"]
    for m in d["models"]:
        rates.setdefault(m["allocator"], []).append(m["operationsPerSecond"])
        footprints[m["allocator"]] = m["peakFootprintBytes"]
print("operations:", operations, " rounds:", rounds)
for name, values in rates.items():
    print("%-28s median %12.0f ops/s  best %12.0f  peak footprint %d B" % (name, statistics.median(values), max(values), footprints[name]))
PY
