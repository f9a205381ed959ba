#!/usr/bin/env bash
# HTML-report benchmark: records the recording benchmark's workload (50 million calls) and the
# flame-graph benchmark's deep workload (644k distinct stacks), then times `mematlas report`
# (release build) and prints the page's size and how long headless Chromium takes to draw it.
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch=.build-report
out=${TMPDIR:-/tmp}/mematlas-report-bench
mkdir -p "$out"
swift build -c release --scratch-path "$scratch" >/dev/null
mematlas=$scratch/release/mematlas
cc -O2 -g Benchmarks/recording/alloc_workload.c -o "$out/aw"
cc -O1 -g -fno-omit-frame-pointer Benchmarks/flamegraph/flame_workload.c -o "$out/fw"
[ -e "$out/big.trace" ] || "$mematlas" record --force -o "$out/big.trace" -- "$out/aw" 50 >/dev/null 2>&1
[ -e "$out/d10.trace" ] || "$mematlas" record --force -o "$out/d10.trace" -- "$out/fw" 1000000 10 >/dev/null 2>&1
for t in big d10; do
  events=$("$mematlas" summary --json "$out/$t.trace" | sed -n 's/^  "events" : \([0-9]*\),/\1/p')
  echo "== $t.trace: $events events, $(stat -c %s "$out/$t.trace") bytes"
  /usr/bin/time -f "report: %e s wall, %M KiB max RSS" "$mematlas" report "$out/$t.trace" -o "$out/$t.html"
  /usr/bin/time -f "report --no-heap-map: %e s wall, %M KiB max RSS" "$mematlas" report --no-heap-map "$out/$t.trace" -o "$out/$t-nohm.html"
  if command -v chromium >/dev/null; then
    chromium --headless=new --no-sandbox --disable-gpu --dump-dom "file://$out/$t.html" 2>/dev/null \
      | grep -o 'data-ready-ms="[0-9]*"' | sed 's/^/page drawn: /'
  fi
done
