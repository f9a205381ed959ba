/* Synthetic workload for the flame-graph benchmark: ALLOCATIONS (default 1,000,000) mallocs from
 * up to 4^DEPTH distinct call stacks (default DEPTH 6: 4,096 stacks; 10 gives up to a million),
 * through four functions that call each other in every order. A ring of 10,000 blocks stays live
 * (the peak); every 1,000th block leaks.
 * Usage: flame_workload [ALLOCATIONS [DEPTH]] */
#include <stdint.h>
#include <stdlib.h>

#define RING 10000

static void *ring[RING];
static uint64_t counter;
static void *volatile sink;

static void step(int depth, unsigned path);

static void leaf(unsigned path) {
    size_t size = 16 + (path * 37u + (unsigned)(counter % 7)) % 2048;
    void *p = malloc(size);
    uint64_t slot = counter % RING;
    if (counter % 1000 != 0) free(ring[slot]);  /* every 1,000th block is left behind: a leak */
    ring[slot] = p;
    counter++;
}

#define LEVEL(name) \
    __attribute__((noinline)) static void name(int depth, unsigned path) { \
        if (depth == 0) leaf(path); else step(depth - 1, path >> 2); \
        sink = 0; \
    }
LEVEL(parse_header)
LEVEL(build_index)
LEVEL(load_records)
LEVEL(render_page)

__attribute__((noinline)) static void step(int depth, unsigned path) {
    switch (path & 3) {
    case 0: parse_header(depth, path); break;
    case 1: build_index(depth, path); break;
    case 2: load_records(depth, path); break;
    default: render_page(depth, path); break;
    }
    sink = 0;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int depth = argc > 2 ? atoi(argv[2]) : 6;
    if (depth < 1 || depth > 15) depth = 6;
    uint64_t x = 88172645463325252ull;
    for (long i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        step(depth, (unsigned)(x % (1u << (2 * depth))) << 2);
    }
    for (int i = 0; i < RING; i++) free(ring[i]);
    return 0;
}
