#!/bin/sh
# Replay rates of two builds of mematlas, model by model, one right after the other (so that both see
# about the same load on a shared machine): before_after.sh BEFORE_MEMATLAS AFTER_MEMATLAS [MODELS...]
# A model that takes more than 150 s prints "timeout". Uses the 5M workload of run.sh.
set -e
cd "$(dirname "$0")/../.."
before=$1 after=$2
shift 2
workload=${TMPDIR:-/tmp}/allocator-lab-workload.rep
[ -f "$workload" ] || python3 Benchmarks/allocator-lab/make_workload.py 5000000 42 > "$workload"
rate() {
    timeout 150 "$1" simulate "$workload" --allocator "$2" --json 2>/dev/null | python3 -c 'import json, sys
try:
    m = json.load(sys.stdin)["models"][0]
    print("%12d ops/s  peak %d B  failed %d" % (m["operationsPerSecond"], m["peakFootprintBytes"], m["failedRequests"]))
except Exception:
    print("timeout")'
}
for model in ${@:-first-fit first-fit-lifo next-fit next-fit-lifo best-fit best-fit-lifo worst-fit worst-fit-lifo segregated tlsf buddy slab pymalloc compacting-gc}; do
    echo "$model | before $(rate "$before" "$model") | after $(rate "$after" "$model") | load $(cut -d' ' -f1 /proc/loadavg)"
done
