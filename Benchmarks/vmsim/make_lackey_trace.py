#!/usr/bin/env python3
"""Writes a synthetic lackey trace (seeded) for the vmsim parsing benchmark.

usage: make_lackey_trace.py OUTPUT LINES
Lines look like valgrind's: 'I  0401ab70,3', ' L 1ffefff8a8,8', ' S ...', ' M ...'.
"""
import random
import sys

out_path, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(1)
kinds = ["I ", " L", " S", " M"]
block = 100_000
with open(out_path, "w") as out:
    out.write("==1== Lackey, an example Valgrind tool\n")
    written = 0
    while written < count:
        n = min(block, count - written)
        out.write("".join(
            f"{kinds[rng.randrange(4)]} {0x400000 + rng.randrange(1 << 26):08x},{rng.choice((1, 2, 4, 8))}\n"
            for _ in range(n)))
        written += n
