"""Allocator-lab example: many small Python objects of mixed sizes, some freed, then a marker.

Run it in default mode with the argument `stats` to print CPython's own pymalloc statistics
(`sys._debugmallocstats()`, to stderr) at the marker; record it with PYTHONMALLOC=malloc so that every
object allocation reaches malloc, and replay the trace through MemAtlas's pymalloc model up to the
marker (the first request of 7,777,777 bytes or a few more) to compare arenas, pools and blocks.
"""
import sys

kept = []
for i in range(20000):
    kept.append((i, str(i) * (i % 7 + 1), [i] * (i % 5), {"k": i} if i % 3 == 0 else None))
# Free every other entry: pools become partly empty, and some arenas may go back.
del kept[::2]
words = [("w%d" % i) * (i % 40 + 1) for i in range(5000)]
marker = bytearray(7_777_777)
if len(sys.argv) > 1 and sys.argv[1] == "stats":
    sys._debugmallocstats()
