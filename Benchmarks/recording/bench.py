#!/usr/bin/env python3
"""Recording benchmark: native vs MemAtlas (libunwind and frame-pointer stacks) vs heaptrack 1.4,
side by side in one run, reported as ratios (this machine is shared and noisy).

    python3 Benchmarks/recording/bench.py [--calls MILLIONS] [--runs N]

Measures: recording slowdown (wall time / native: the median of each run's ratio to the geometric
mean of the native runs just before and just after it), trace bytes per event, and summary time per
million calls (mematlas summary vs heaptrack_print, symbolization included). Says so when the
peer fails (heaptrack's interpreter can drop events or run out of memory on many stacks).
"""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(cmd, **kw):
    start = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    return time.perf_counter() - start, p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=10, help="millions of allocator calls")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="mematlas-bench-")
    print("building mematlas (release) and the workload ...", file=sys.stderr)
    subprocess.run(["swift", "build", "-c", "release", "--product", "mematlas"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    mematlas = os.path.join(ROOT, ".build/release/mematlas")
    workload = os.path.join(work, "alloc_workload")
    subprocess.run(["cc", "-O2", "-g", "-fno-omit-frame-pointer", "-o", workload,
                    os.path.join(ROOT, "Benchmarks/recording/alloc_workload.c")], check=True)
    calls = str(args.calls)
    have_heaptrack = shutil.which("heaptrack") is not None

    times = {"native": [], "mematlas libunwind": [], "mematlas fp": [], "mematlas --writer-thread": [], "heaptrack": []}
    # Each tool's run is bracketed by native runs, one just before and one just after it, and its
    # slowdown is the median of the ratios of its time to the geometric mean of those two: the
    # host's speed drifts by tens of percent within minutes (a ratio of two medians taken minutes
    # apart moves with it), and a native run on one side only leaves a drift during the pair in
    # the ratio. A native run between two tools' runs brackets both.
    ratios = {name: [] for name in times}
    sizes = {}

    def native_run():
        t, _ = run([workload, calls])
        times["native"].append(t)
        return t

    before = [native_run()]

    def timed(name, cmd):
        t, p = run(cmd)
        after = native_run()
        times[name].append(t)
        ratios[name].append(t / (before[0] * after) ** 0.5)
        before[0] = after
        return p

    for r in range(args.runs):
        for unwind in ["libunwind", "fp"]:
            out = os.path.join(work, f"trace-{unwind}-{r}")
            p = timed(f"mematlas {unwind}", [mematlas, "record", "--unwind", unwind, "-o", out, "--", workload, calls])
            if p.returncode != 0:
                sys.exit(f"mematlas record failed: {p.stderr}")
            sizes[unwind] = (out, os.path.getsize(out))
        # The writer thread at once (libunwind stacks): compression off the program's thread.
        out = os.path.join(work, f"trace-writer-thread-{r}")
        p = timed("mematlas --writer-thread", [mematlas, "record", "--writer-thread", "-o", out, "--", workload, calls])
        if p.returncode != 0:
            sys.exit(f"mematlas record --writer-thread failed: {p.stderr}")
        sizes["writer-thread"] = (out, os.path.getsize(out))
        if have_heaptrack:
            out = os.path.join(work, f"heaptrack-{r}")
            timed("heaptrack", ["heaptrack", "-o", out, workload, calls])
            sizes["heaptrack"] = (out + ".zst", os.path.getsize(out + ".zst") if os.path.exists(out + ".zst") else 0)

    native = statistics.median(times["native"])
    trace, trace_bytes = sizes["libunwind"]
    t_summary = []
    for _ in range(args.runs):
        t, p = run([mematlas, "summary", "--json", trace])
        t_summary.append(t)
    summary = json.loads(p.stdout)
    events = summary["events"]
    call_total = sum(summary["calls"].values())
    allocations = summary["allocations"]

    print(f"\nworkload: {call_total:,} allocator calls ({events:,} events), {allocations:,} allocations")
    print(f"{'tool':<26}{'wall s':>9}{'slowdown':>10}{'trace MiB':>11}{'bytes/event':>13}   bracketed ratios")
    for name, values in times.items():
        if not values:
            continue
        wall = statistics.median(values)
        key = {"mematlas libunwind": "libunwind", "mematlas fp": "fp", "mematlas --writer-thread": "writer-thread",
               "heaptrack": "heaptrack"}.get(name)
        size = sizes.get(key, (None, 0))[1] if key else 0
        per_event = f"{size / events:.2f}" if size else "-"
        slowdown = statistics.median(ratios[name]) if ratios[name] else 1.0
        pairs = " ".join(f"{x:.2f}" for x in ratios[name])
        print(f"{name:<26}{wall:>9.3f}{slowdown:>9.2f}x{size / 1048576:>11.1f}{per_event:>13}   {pairs}")

    ms = statistics.median(t_summary)
    print(f"\nmematlas summary: {ms:.3f} s = {ms / (call_total / 1e6):.3f} s per million calls")
    if have_heaptrack:
        path = sizes["heaptrack"][0]
        t_print = []
        for _ in range(args.runs):
            t, p = run(["heaptrack_print", path])
            t_print.append(t)
        hp = statistics.median(t_print)
        m = re.search(r"calls to allocation functions: (\d+)", p.stdout)
        seen = int(m.group(1)) if m else 0
        print(f"heaptrack_print:  {hp:.3f} s = {hp / (call_total / 1e6):.3f} s per million calls; "
              f"mematlas summary is {hp / ms:.1f}x faster")
        if seen < 0.9 * allocations:
            print(f"NOTE: heaptrack failed on this workload: its trace holds {seen:,} allocation calls "
                  f"of {allocations:,} (its interpreter dropped events or died)")
        else:
            print(f"heaptrack saw {seen:,} allocation calls (mematlas: {allocations:,})")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
