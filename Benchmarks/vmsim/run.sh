#!/bin/sh
# The vmsim benchmark: 100 million accesses through the cache and TLB models, and a parse of a
# 20-million-line lackey trace, in release mode. Run from the repository root:
#   sh Benchmarks/vmsim/run.sh
set -e
swift build -c release --scratch-path .build-vmsim --product mematlas
MEMATLAS=.build-vmsim/release/mematlas

echo "== cache (L1 32k:8:64 + L2 256k:4:64), 100M accesses"
$MEMATLAS vmsim cache --synthetic random:64m:100000000 --timing >/dev/null
$MEMATLAS vmsim cache --synthetic sequential:800m:1 --timing >/dev/null
$MEMATLAS vmsim cache --synthetic stride:4096:16:6250000 --timing >/dev/null

echo "== TLB (64 entries, 4-way) + 4-level page table, 100M accesses"
$MEMATLAS vmsim translate --synthetic random:64m:100000000 --timing >/dev/null
$MEMATLAS vmsim translate --synthetic sequential:800m:1 --timing >/dev/null

echo "== parse + cache, 20M-line lackey trace"
TRACE=${TMPDIR:-/tmp}/vmsim-bench.lackey
[ -f "$TRACE" ] || python3 Benchmarks/vmsim/make_lackey_trace.py "$TRACE" 20000000
ls -l "$TRACE"
$MEMATLAS vmsim cache "$TRACE" --timing >/dev/null
$MEMATLAS vmsim translate "$TRACE" --timing >/dev/null
