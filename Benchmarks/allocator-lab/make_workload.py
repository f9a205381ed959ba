#!/usr/bin/env python3
"""Writes a seeded malloc-lab text trace for the allocator-lab replay benchmark.

The workload looks like a typical program: sizes mostly small (16 B to 1 KiB, a few up to 64 KiB),
most blocks short-lived (freed within a few operations), about 50,000 blocks live at a time,
20,000 of them long-lived, and 5% reallocs. Usage: make_workload.py OPERATIONS SEED > workload.rep
"""
import random
import sys

operations = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 42)
out = sys.stdout
live_short, live_long, free_ids = [], [], []
next_id = 0
written = 0
lines = []


def size():
    r = rng.random()
    if r < 0.80:
        return rng.randint(16, 128)
    if r < 0.97:
        return rng.randint(129, 1024)
    return rng.randint(1025, 65536)


while written < operations:
    r = rng.random()
    # Grow to about 50,000 live blocks, then hold steady (allocations and frees balance).
    if r < (0.50 if len(live_short) + len(live_long) < 50000 else 0.45) or not (live_short or live_long):
        block = free_ids.pop() if free_ids else next_id
        if block == next_id:
            next_id += 1
        (live_long if len(live_long) < 20000 and rng.random() < 0.1 else live_short).append(block)
        lines.append("a %d %d" % (block, size()))
    elif r < 0.55:
        pool = live_short or live_long
        lines.append("r %d %d" % (pool[rng.randrange(len(pool))], size()))
    else:
        if live_short and (rng.random() < 0.95 or not live_long):
            # Short-lived blocks die young: pick among the most recent ones.
            index = len(live_short) - 1 - min(len(live_short) - 1, int(rng.expovariate(0.2)))
            block = live_short.pop(index)
        else:
            block = live_long.pop(rng.randrange(len(live_long)))
        free_ids.append(block)
        lines.append("f %d" % block)
    written += 1
    if len(lines) >= 100000:
        out.write("\n".join(lines) + "\n")
        lines = []
out.write("\n".join(lines) + "\n")
