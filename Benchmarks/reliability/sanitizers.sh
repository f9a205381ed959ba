#!/usr/bin/env bash
# Runs the recorder under AddressSanitizer and ThreadSanitizer on real workloads, and checks that
# the sanitizers report nothing and that the traces' figures equal those of the normal recorder.
#
# Builds three recorders from Sources/CMemAtlasRecorder with the flags of RecorderLibrary.compile():
#   normal  cc, exactly as mematlas builds it
#   asan    clang -fsanitize=address -shared-libsan -DMA_START_IN_CONSTRUCTOR
#   tsan    clang -fsanitize=thread  -shared-libsan -DMA_START_IN_CONSTRUCTOR, hooks.c uninstrumented
#           (the hooks run inside the runtime's own start of a thread, where TSan's function-entry
#           instrumentation faults; everything they call into, the writer, stack tables, module
#           maps, residency snapshots, is instrumented)
# MA_START_IN_CONSTRUCTOR makes hooks pass calls through where the runtime cannot follow the
# recorder's code (before its constructors, inside the runtime's thread start and after a thread's
# end): see hooks.c.
# Each workload is recorded with `MEMATLAS_RECORDER_LIB=<recorder> mematlas record`, twice with
# the normal recorder. The sanitizer runtime goes in LD_PRELOAD behind the recorder (mematlas puts
# the recorder first): the program's malloc reaches the recorder, whose dlsym(RTLD_NEXT) finds the
# runtime's. ASan is told not to insist on coming first (verify_asan_link_order=0). mematlas itself
# runs with the runtime preloaded too (it inherits LD_PRELOAD): its findings would be counted.
#
# Checked per workload: no sanitizer finding (a report file with a SUMMARY line), the same exit
# status and stdout, the same number of traces, and per trace (paired as sorted multisets, so pids
# and fork order do not matter): end, complete, unmatched frees, failed calls, and per call site
# (named by the first frame outside libc, the loader, the recorder and the sanitizer runtime)
# allocations, leaked blocks, bytes and leaked bytes, plus allocations and leaked blocks summed
# over all sites. Not compared, and printed: call sites whose figures differ between the two normal
# runs or depend on timing by design (TIMED below); the bytes of thread creation (the TLS vector
# counts the loaded TLS modules, one more with the runtime); calls the sanitizer's allocator
# answers differently from glibc's (DIFFERENT below). Events differ by design: after a thread's
# end (glibc's last free(NULL) calls) sanitizer builds record nothing.
# Usage: Benchmarks/reliability/sanitizers.sh            (exit 0 when every check passes)
# Environment: SCRATCH (SwiftPM scratch path, default .build), CLANG (default: the Swift
# toolchain's clang, else clang on PATH), TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
scratch=${SCRATCH:-.build}
out=${TMPDIR:-/tmp}/mematlas-sanitizers
rm -rf "$out"
mkdir -p "$out/bin"

clang=${CLANG:-}
if [ -z "$clang" ]; then
  for candidate in /opt/swift/usr/bin/clang clang; do
    if command -v "$candidate" >/dev/null; then clang=$(command -v "$candidate"); break; fi
  done
fi
[ -n "$clang" ] || { echo "sanitizers.sh: no clang (set CLANG)" >&2; exit 1; }
asan_rt=$("$clang" -print-file-name=libclang_rt.asan-x86_64.so)
tsan_rt=$("$clang" -print-file-name=libclang_rt.tsan-x86_64.so)
[ -f "$asan_rt" ] && [ -f "$tsan_rt" ] || { echo "sanitizers.sh: $clang has no shared sanitizer runtimes" >&2; exit 1; }
# The Swift toolchain's TSan runtime needs libdispatch and BlocksRuntime (it refers to their symbols).
tsan_extra=""
if nm -D "$tsan_rt" 2>/dev/null | grep ' U _dispatch_data_destructor_free' >/dev/null; then
  swift_lib=$(cd "$(dirname "$clang")/../lib/swift/linux" && pwd)
  tsan_extra=":$swift_lib/libdispatch.so:$swift_lib/libBlocksRuntime.so"
fi
echo "clang: $("$clang" --version | head -1)"

swift build -c release --scratch-path "$scratch" --product mematlas >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
mematlas=$root/$scratch/release/mematlas

# The recorders: RecorderLibrary.compile()'s flags.
flags=(-O2 -g -fPIC -fvisibility=hidden -fno-omit-frame-pointer -D_GNU_SOURCE -I Sources/MemAtlasTraceSchema/include)
sources=(Sources/CMemAtlasRecorder/*.c)
others=()
for file in "${sources[@]}"; do [ "$(basename "$file")" = hooks.c ] || others+=("$file"); done
cc "${flags[@]}" -shared -o "$out/recorder-normal.so" "${sources[@]}" -lpthread -ldl
"$clang" "${flags[@]}" -DMA_START_IN_CONSTRUCTOR -fsanitize=address -shared-libsan -shared \
  -o "$out/recorder-asan.so" "${sources[@]}" -lpthread -ldl
"$clang" "${flags[@]}" -DMA_START_IN_CONSTRUCTOR -c -o "$out/hooks-tsan.o" Sources/CMemAtlasRecorder/hooks.c
"$clang" "${flags[@]}" -DMA_START_IN_CONSTRUCTOR -fsanitize=thread -shared-libsan -shared \
  -o "$out/recorder-tsan.so" "$out/hooks-tsan.o" "${others[@]}" -lpthread -ldl

# The runtimes do not symbolize (their symbolizer would run with the recorder and the runtime
# preloaded, and a report from it would start another); report files are symbolized afterwards.
symbolizer=$(command -v llvm-symbolizer || echo "$(dirname "$clang")/llvm-symbolizer")
symbolize() {  # REPORT: writes REPORT.txt with each "(module+0xoffset)" frame resolved
  local line module offset path
  while IFS= read -r line; do
    if [[ $line =~ \(([^+\ ]+)\+(0x[0-9a-f]+)\) ]]; then
      module=${BASH_REMATCH[1]} offset=${BASH_REMATCH[2]}
      path=$module
      [ -f "$path" ] || path=$(ls "$out/$module" "$out/bin/$module" 2>/dev/null | head -1 || true)
      if [ -n "$path" ]; then line="$line  $("$symbolizer" --obj="$path" $((offset - 1)) 2>/dev/null | head -2 | tr '\n' ' ' || true)"; fi
    fi
    echo "$line"
  done <"$1" >"$1.txt"
}

for program in exact_counts odd_calls fork_storm fork_exec thread_stack_query; do
  cc -O1 -g -fno-omit-frame-pointer -o "$out/bin/$program" "Examples/c/$program.c" -pthread -ldl
done
cat >"$out/bin/threads.py" <<'PY'
import json, threading, collections, re, hashlib
def work(n):
    d = {str(i): [i] * (i % 7) for i in range(n)}
    return len(json.dumps(d))
results = []
threads = [threading.Thread(target=lambda: results.append(work(5000))) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(sorted(results), hashlib.sha256(b"x").hexdigest()[:8], re.sub("a", "b", "banana"))
PY
python=/usr/bin/python3  # not a pyenv shim: a shell script whose processes would be traced too
[ -x "$python" ] || python=$(command -v python3)

workloads=(exact_counts_0 exact_counts_4 odd_calls fork_storm fork_exec thread_stack_query python_threads)
command_of() {
  case $1 in
    exact_counts_0) echo "$out/bin/exact_counts 0" ;;
    exact_counts_4) echo "$out/bin/exact_counts 4" ;;
    python_threads) echo "$python $out/bin/threads.py" ;;
    *) echo "$out/bin/$1" ;;
  esac
}

record() {  # VARIANT WORKLOAD
  local variant=$1 workload=$2
  local dir=$out/$variant/$workload
  mkdir -p "$dir"
  local -a environment=("MEMATLAS_RECORDER_LIB=$out/recorder-${variant%2}.so")
  local common="log_path=$dir/report:symbolize=0"
  case $variant in
    # allocator_may_return_null=1: odd_calls asks for SIZE_MAX - 4096 bytes, which must fail with
    # ENOMEM as glibc's malloc does, not abort the program (the sanitizer's default).
    asan) environment+=("LD_PRELOAD=$asan_rt" "ASAN_OPTIONS=$common:verify_asan_link_order=0:detect_leaks=0:allocator_may_return_null=1") ;;
    # report_signal_unsafe=0: odd_calls allocates in a signal handler on purpose (the program's
    # doing, not the recorder's); die_after_fork=0: a forked child's recorder starts its flusher thread.
    tsan) environment+=("LD_PRELOAD=$tsan_rt$tsan_extra" "TSAN_OPTIONS=$common:report_signal_unsafe=0:die_after_fork=0:allocator_may_return_null=1") ;;
  esac
  local start status=0
  start=$(date +%s.%N)
  # shellcheck disable=SC2046
  (cd "$dir" && env "${environment[@]}" timeout -s KILL 300 "$mematlas" record -o "$dir/trace" -- $(command_of "$workload") \
    >"$dir/stdout" 2>"$dir/stderr") || status=$?
  echo "$status" >"$dir/status"
  for report in "$dir"/report.*; do [ -f "$report" ] && symbolize "$report"; done
  echo "$(echo "$(date +%s.%N) - $start" | bc)" >"$dir/seconds"
  for trace in "$dir"/trace*; do
    case $trace in *.json | *.pending) continue ;; esac  # a pending file is not a trace (the reader appends it)
    [ -f "$trace" ] && "$mematlas" summary --json --top 100000 "$trace" >"$trace.json" 2>>"$dir/summary-errors" || true
  done
}

for variant in normal normal2 asan tsan; do
  for workload in "${workloads[@]}"; do
    record "$variant" "$workload"
  done
done

python3 - "$out" "${workloads[@]}" <<'PY'
import glob, json, os, sys
from collections import defaultdict

out, workloads = sys.argv[1], sys.argv[2:]

# Frames skipped when looking for the code that asked for a block: libc, the loader, the recorder,
# and the sanitizer runtime (its interceptors of printf, dlopen, setlocale... call libc's).
PASSING = ("libc.so", "ld-linux", "recorder-", "libclang_rt.")
# Call sites whose counts depend on timing, not on the recorder (besides those found differing
# between the two normal runs): fork_storm's threads churn until the main thread has forked its
# 100 children; a Python thread's creation allocates a TLS vector only when glibc has no exited
# thread's stack to reuse, and Python starts its threads one after another.
TIMED = {"fork_storm": ("churn",), "python_threads": ("PyThread_start_new_thread",)}
# What the sanitizer's allocator does differently from glibc's, whatever the recorder: it refuses
# aligned_alloc(3, 64) with EINVAL, which glibc serves (odd_calls prints the outcome).
DIFFERENT = {"odd_calls": {"stdout": "aligned_alloc(alignment 3)", "failed": "aligned_alloc", "site": "main odd_calls.c:93"}}

def module(frame):
    return os.path.basename(frame.get("module") or "?")

def profile(path, workload):
    """The figures of one trace that must not depend on the recorder build."""
    s = json.load(open(path))
    different = DIFFERENT.get(workload, {})
    # per call site: allocations, leaked blocks, bytes, leaked bytes (bytes None: not comparable)
    sites, runtime, timed, merged = {}, defaultdict(lambda: [0, 0]), 0, {}
    for site in s["topByAllocations"]:
        stack = site.get("stack") or []
        asker = next((f for f in stack if not module(f).startswith(PASSING)), None)
        if asker is None and any(module(f).startswith("libclang_rt.") for f in stack):
            inner = next(f for f in stack if module(f).startswith("libclang_rt."))
            key = f"{inner.get('function')} ({module(inner)})"
            runtime[key][0] += site["allocations"]; runtime[key][1] += site["allocatedBytes"]
            continue
        asker = asker or (stack[0] if stack else {})
        creation = any("pthread_create" in (f.get("function") or "") for f in stack)
        key = f"{asker.get('function')} {os.path.basename(asker.get('file') or module(asker))}:{asker.get('line')}"
        if key == different.get("site"):
            continue
        if any(key.startswith(t + " ") for t in TIMED.get(workload, ())):
            timed += site["allocations"]
            continue
        if stack and module(stack[0]).startswith("libclang_rt.") and "interceptor" in (stack[0].get("function") or ""):
            # The summary groups call sites by their innermost frame, here the runtime's wrapper
            # of a libc function (fopen, opendir...): different callers share one site, shown
            # with one caller's stack. Only the sum over such sites can be compared.
            bucket = merged.setdefault(stack[0].get("function"), [0, 0])
            bucket[0] += site["allocations"]; bucket[1] += site["leakedBlocks"]
            continue
        figures = sites.setdefault(key, [0, 0, 0, 0])
        figures[0] += site["allocations"]; figures[1] += site["leakedBlocks"]
        if creation or figures[2] is None:
            # a new thread's TLS vector: its size counts the loaded TLS modules (the runtime is one)
            figures[2] = figures[3] = None
        else:
            figures[2] += site["allocatedBytes"]; figures[3] += site["leakedBytes"]
    failed = {k: v for k, v in (s.get("failedCalls") or {}).items() if k != different.get("failed")}
    program = {"end": s.get("end"), "complete": s.get("complete"), "unmatchedFrees": s.get("unmatchedFrees"),
               "failedCalls": failed, "executable": os.path.basename(s.get("executable") or ""),
               "sites": dict(sorted(sites.items())), "merged": merged}
    return program, dict(runtime), s, timed

def same(normal, sanitized):
    """Compares two traces' program figures: per call site (bytes only where both sides have
    them), and the allocation and leak counts over all sites, those merged under a wrapper too."""
    diff = {k: (normal[k], sanitized[k]) for k in normal if k not in ("sites", "merged") and normal[k] != sanitized[k]}
    a, b = normal["sites"], sanitized["sites"]
    loose = bool(normal["merged"] or sanitized["merged"])
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if (x is None or y is None) and loose:
            continue  # may be inside a merged site: the totals below decide
        if x is None or y is None or x[:2] != y[:2] or (None not in (x[2], y[2]) and x[2:] != y[2:]):
            diff[f"site {key}"] = (x, y)
    totals = [[sum(v[i] for v in list(p["sites"].values()) + list(p["merged"].values())) for i in (0, 1)] for p in (normal, sanitized)]
    if totals[0] != totals[1]:
        diff["allocations and leaked blocks over all sites"] = tuple(totals)
    return diff

def load(variant, workload):
    d = os.path.join(out, variant, workload)
    traces = sorted(glob.glob(os.path.join(d, "trace*.json")))
    profiles, unreadable = [], []
    for t in traces:
        try:
            profiles.append(profile(t, workload))
        except ValueError:  # the summary failed: its message is in summary-errors
            unreadable.append(t)
    # A finding ends with a SUMMARY line; "failed to allocate" notices (allocator_may_return_null) do not.
    reports = sorted(r for r in glob.glob(os.path.join(d, "report.*[0-9]")) if "SUMMARY:" in open(r, errors="replace").read())
    return {
        "status": open(os.path.join(d, "status")).read().strip(),
        "stdout": [l for l in open(os.path.join(d, "stdout")).read().splitlines()
                   if not l.startswith(DIFFERENT.get(workload, {}).get("stdout", "\0"))],
        "seconds": float(open(os.path.join(d, "seconds")).read()),
        "programs": [p[0] for p in sorted(profiles, key=lambda p: json.dumps(p[0], sort_keys=True))],
        "timed": sum(p[3] for p in profiles),
        "runtime": [p[1] for p in profiles],
        "events": sum(p[2]["events"] for p in profiles),
        "allocations": sum(p[2]["allocations"] for p in profiles),
        "reports": reports,
        "unreadable": unreadable,
    }

def timing_dependent(workload):
    """Call sites whose figures differ between two recordings with the normal recorder."""
    runs = [load(v, workload) for v in ("normal", "normal2")]
    totals = []
    for run in runs:
        t = defaultdict(lambda: [0, 0])
        for p in run["programs"]:
            for k, v in p["sites"].items(): t[k][0] += v[0]; t[k][1] += v[1]
        totals.append(t)
    return {k for k in set(totals[0]) | set(totals[1]) if totals[0].get(k) != totals[1].get(k)}

def drop(programs, keys):
    return [{**p, "sites": {k: v for k, v in p["sites"].items() if k not in keys}} for p in programs]

failures = 0
print(f"{'workload':20} {'variant':7} {'status':>6} {'traces':>6} {'events':>9} {'allocs':>8} {'seconds':>8}  result")
for workload in workloads:
    normal = load("normal", workload)
    varying = timing_dependent(workload)
    normal["programs"] = drop(normal["programs"], varying)
    print(f"{workload:20} {'normal':7} {normal['status']:>6} {len(normal['programs']):>6} {normal['events']:>9,} {normal['allocations']:>8,} {normal['seconds']:>8.2f}")
    for variant in ("asan", "tsan"):
        run = load(variant, workload)
        run["programs"] = drop(run["programs"], varying)
        problems = []
        if run["reports"]:
            problems.append(f"{len(run['reports'])} sanitizer report file(s): {', '.join(run['reports'])}")
        for name in run["unreadable"]:
            problems.append(f"no summary of {name}: " + open(os.path.join(os.path.dirname(name), "summary-errors")).read().strip()[:300])
        if run["status"] != normal["status"]:
            problems.append(f"exit status {run['status']} (normal {normal['status']})")
        if run["stdout"] != normal["stdout"]:
            problems.append("stdout differs")
        if len(run["programs"]) != len(normal["programs"]):
            problems.append(f"{len(run['programs'])} traces (normal {len(normal['programs'])})")
        else:
            # Pairs the traces by their figures (sorted), so pids and fork order do not matter;
            # bytes are left out of the pairing key, they are compared afterwards.
            key = lambda p: json.dumps({**p, "sites": {k: v[:2] for k, v in p["sites"].items()}, "merged": {}}, sort_keys=True)
            for a, b in zip(sorted(normal["programs"], key=key), sorted(run["programs"], key=key)):
                diff = same(a, b)
                if diff:
                    problems.append("figures differ (normal, sanitized): " + json.dumps(diff)[:1500])
                    break
        runtime = defaultdict(lambda: [0, 0])
        for r in run["runtime"]:
            for k, v in r.items(): runtime[k][0] += v[0]; runtime[k][1] += v[1]
        extra = "; runtime's own: " + ", ".join(f"{v[0]} allocs {v[1]} B at {k}" for k, v in runtime.items()) if runtime else ""
        if run["timed"] or normal["timed"]:
            extra += f"; timing-dependent allocations not compared: {normal['timed']:,} normal, {run['timed']:,} sanitized"
        if varying:
            extra += f"; sites differing between two normal runs, not compared: {', '.join(sorted(varying))}"
        result = "same figures, no reports" if not problems else "FAIL: " + " | ".join(problems)
        failures += bool(problems)
        print(f"{'':20} {variant:7} {run['status']:>6} {len(run['programs']):>6} {run['events']:>9,} {run['allocations']:>8,} {run['seconds']:>8.2f}  {result}{extra}")
print(f"{failures} failing sanitizer run(s)")
sys.exit(1 if failures else 0)
PY
