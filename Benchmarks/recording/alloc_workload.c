/* The allocation-heavy workload of the recording benchmark: about 10 million malloc, free,
 * realloc and calloc calls from call stacks 5 to 15 frames deep, through 2^depth distinct paths
 * of small functions. As in real programs, each call path has its own typical size (a type, a
 * string length) with some spread, most blocks die young (freed soon, mostly last-in first-out)
 * and some live long: about a hundred thousand distinct (size, stack) pairs. Each block is
 * written, as real code would. Deterministic (seeded).
 * Usage: alloc_workload [CALLS_IN_MILLIONS]  (default 10) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096
#define YOUNG 64
static void *slots[SLOTS];          /* long-lived blocks, replaced at random */
static void *young[YOUNG];          /* short-lived blocks, freed last-in first-out */
static int young_count;
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static long calls, target;

static inline uint64_t next_random(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A path's typical size: fixed per path (its "type"), with a small spread for strings/arrays. */
static size_t path_size(uint64_t path, uint64_t r) {
    uint64_t h = path * 0x9E3779B97F4A7C15ull;
    size_t base = 16 + (size_t)(h >> 58) * 16;     /* 16 .. 1024 bytes */
    if ((h >> 40 & 3) == 0) base *= 8;             /* some paths allocate buffers */
    return base + (size_t)(r & 3) * 8;             /* up to 4 sizes per path */
}

/* The leaf: one allocator call and a write to the new block. */
__attribute__((noinline)) static void leaf(uint64_t path, uint64_t r) {
    uint64_t kind = r >> 60;
    if (young_count > 0 && (kind < 7 || young_count == YOUNG)) {
        void *p = young[--young_count];                /* most blocks die young */
        free(p);
    } else if (kind < 13) {
        size_t size = path_size(path, r);
        void *p = (r & 15) == 1 ? calloc(1, size) : malloc(size);
        memset(p, (int)r, size < 64 ? size : 64);
        young[young_count++] = p;
    } else if (kind == 13) {
        unsigned slot = (unsigned)(r >> 20) % SLOTS;  /* a long-lived block grows */
        size_t size = path_size(path, r) * 2;
        slots[slot] = realloc(slots[slot], size);
        memset(slots[slot], (int)r, size < 64 ? size : 64);
    } else {
        unsigned slot = (unsigned)(r >> 20) % SLOTS;  /* a long-lived block is replaced */
        free(slots[slot]);
        slots[slot] = malloc(path_size(path, r));
        memset(slots[slot], (int)r, 16);
    }
    calls++;
}

/* Two functions per level: the path taken spells a distinct call stack. */
#define LEVEL(n, next)                                                                 \
    __attribute__((noinline)) static void level##n##a(int depth, uint64_t path, uint64_t r); \
    __attribute__((noinline)) static void level##n##b(int depth, uint64_t path, uint64_t r); \
    static void level##n##a(int depth, uint64_t path, uint64_t r) {                   \
        if (depth <= n) leaf(path, r); else if (path >> n & 1) next##a(depth, path, r); else next##b(depth, path, r); \
        __asm__ volatile("" ::: "memory");                                             \
    }                                                                                  \
    static void level##n##b(int depth, uint64_t path, uint64_t r) {                   \
        if (depth <= n) leaf(path, r); else if (path >> n & 1) next##a(depth, path, r); else next##b(depth, path, r); \
        __asm__ volatile("" ::: "memory");                                             \
    }
__attribute__((noinline)) static void level15a(int depth, uint64_t path, uint64_t r) { (void)depth; leaf(path, r); __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) static void level15b(int depth, uint64_t path, uint64_t r) { (void)depth; leaf(path ^ 1, r); __asm__ volatile("" ::: "memory"); }
LEVEL(14, level15)
LEVEL(13, level14)
LEVEL(12, level13)
LEVEL(11, level12)
LEVEL(10, level11)
LEVEL(9, level10)
LEVEL(8, level9)
LEVEL(7, level8)
LEVEL(6, level7)
LEVEL(5, level6)
LEVEL(4, level5)
LEVEL(3, level4)
LEVEL(2, level3)
LEVEL(1, level2)

int main(int argc, char **argv) {
    target = (argc > 1 ? atol(argv[1]) : 10) * 1000000L;
    uint64_t path = 0;
    int depth = 2;
    while (calls < target) {
        uint64_t r = next_random();
        /* A phase of work runs along one call path for a while, then moves to another. */
        if ((r & 63) == 0) {
            path = next_random() & 0x3fff;
            depth = 2 + (int)(next_random() >> 60) % 11; /* leaf at level 2..12: 5 to 15 frames */
        }
        if (path & 1) level1a(depth, path, r); else level1b(depth, path, r);
    }
    size_t live = 0;
    for (int i = 0; i < SLOTS; i++) {
        if (slots[i]) live++;
        free(slots[i]);
    }
    while (young_count > 0) free(young[--young_count]);
    printf("%ld calls, %zu blocks live at the end\n", calls, live);
    return 0;
}
