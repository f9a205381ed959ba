#!/usr/bin/env python3
"""How predictable a trace's returned addresses are from the blocks freed before them, per glibc
chunk size (the analysis behind "Where the bytes of an event go" in README.md).

    mematlas dump TRACE > DUMP && python3 Benchmarks/recording/free_block_model.py DUMP

For each returned address (malloc family; realloc when the block moved) it says whether it is the
block freed last among the free blocks of the same chunk size, another free block of that size,
the start of a free block of another size, or fresh memory, and the entropy of that outcome.
"""
import collections, math, sys


def chunk(size):  # glibc's chunk size for a request (64-bit)
    return max(32, (size + 8 + 15) & ~15)


def main(path):
    free_by_size = collections.defaultdict(list)  # chunk size -> free addresses, oldest first
    free_size = {}  # free address -> its chunk size
    live = {}  # live address -> requested size
    outcomes = collections.Counter()

    def release(address):
        if address in live:
            size = chunk(live.pop(address))
            free_by_size[size].append(address)
            free_size[address] = size

    for line in open(path):
        f = line.split()
        if len(f) < 3:
            continue
        function = f[2]
        if function == "free":
            release(int(f[3], 16))
            continue
        if function in ("realloc", "reallocarray"):
            old, size, new = int(f[3], 16), int(f[4]), int(f[6], 16)
            if old and old == new and old in live:
                live[old] = size
                outcomes["in place (not counted)"] += 1
                continue
            release(old)
        elif function in ("malloc", "calloc", "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc"):
            size, new = int(f[3]), int(f[5], 16)
        else:
            continue
        if new == 0:
            continue
        same = free_by_size[chunk(size)]
        if same and same[-1] == new:
            outcomes["last freed of its size"] += 1
        elif new in free_size and free_size[new] == chunk(size):
            outcomes["another free block of its size"] += 1
        elif new in free_size:
            outcomes["a free block of another size"] += 1
        else:
            outcomes["fresh memory"] += 1
        if new in free_size:
            free_by_size[free_size.pop(new)].remove(new)
        live[new] = size

    counted = {k: v for k, v in outcomes.items() if not k.startswith("in place")}
    total = sum(counted.values())
    for name, n in outcomes.most_common():
        print("%-34s %10d" % (name, n) + ("  %5.1f%%" % (100 * n / total) if name in counted else ""))
    entropy = -sum(n / total * math.log2(n / total) for n in counted.values())
    print("returned addresses: %d; entropy of the outcome: %.2f bits" % (total, entropy))


if __name__ == "__main__":
    main(sys.argv[1])
