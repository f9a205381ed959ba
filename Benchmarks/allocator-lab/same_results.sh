#!/bin/sh
# Checks that two builds of mematlas make the same placement decisions: simulate output (JSON without
# timings) and peak heap-map SVGs for the BlockHeap models, on the given traces, with and without a
# heap limit, compared byte for byte. same_results.sh BEFORE_MEMATLAS AFTER_MEMATLAS LIMIT TRACE...
# (LIMIT: a --heap-limit low enough that some requests fail, e.g. 6M.)
set -e
before=$1 after=$2 limit=$3
shift 3
models=first-fit,first-fit-lifo,next-fit,next-fit-lifo,best-fit,best-fit-lifo,worst-fit,worst-fit-lifo,segregated,tlsf
out=$(mktemp -d)
for build in before after; do
    eval binary=\$$build
    for trace in "$@"; do
        name=$(basename "$trace")
        for lim in "" "--heap-limit $limit"; do
            dir="$out/$build/$name${lim:+-limited}"
            mkdir -p "$dir"
            "$binary" simulate "$trace" --allocator $models $lim --json -o "$dir" |
                python3 -c 'import json, sys
d = json.load(sys.stdin)
for m in d["models"]:
    m.pop("seconds", None)
    m.pop("operationsPerSecond", None)
json.dump(d, sys.stdout, indent=1, sort_keys=True)' > "$dir/simulate.json"
        done
    done
done
diff -r "$out/before" "$out/after" && echo "same results on $# traces ($out)"
