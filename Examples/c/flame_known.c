/* A workload with known call stacks and sizes, for MemAtlas's flame-graph tests.
 * It prints nothing through stdio (whose buffers would be allocations of their own).
 *
 * Call paths and figures (one run):
 *   main -> run_a -> alloc_a:                        100 x malloc(64), each freed at once
 *       allocated 6,400 B, 100 allocations, 100 temporary, nothing at the peak, nothing leaked
 *   main -> run_b -> alloc_b:                        50 x malloc(1000), 40 freed after the peak
 *       allocated 50,000 B, 50 allocations, peak 50,000 B (50 blocks), leaked 10,000 B (10 blocks)
 *   main -> run_c -> middle_c -> alloc_c -> make_page (inlined into alloc_c): 20 x malloc(4096),
 *       all freed after the peak, the last one before anything else is allocated (1 temporary)
 *       allocated 81,920 B, 20 allocations, peak 81,920 B (20 blocks), nothing leaked
 * The peak is 131,920 B in 70 blocks, reached by the last alloc_c allocation. */
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

/* Keeps the compiler from removing allocations whose results look unused. */
static void *volatile sink;
static void *b_blocks[50];
static void *c_blocks[20];

NOINLINE static void alloc_a(void) {
    for (int i = 0; i < 100; i++) {
        void *p = malloc(64);
        sink = p;
        free(p);
    }
}

NOINLINE static void run_a(void) { alloc_a(); sink = 0; }

NOINLINE static void alloc_b(void) {
    for (int i = 0; i < 50; i++) b_blocks[i] = malloc(1000);
}

NOINLINE static void run_b(void) { alloc_b(); sink = 0; }

static inline __attribute__((always_inline)) void *make_page(void) { return malloc(4096); }

NOINLINE static void alloc_c(void) {
    for (int i = 0; i < 20; i++) c_blocks[i] = make_page();
}

NOINLINE static void middle_c(void) { alloc_c(); sink = 0; }

NOINLINE static void run_c(void) { middle_c(); sink = 0; }

int main(void) {
    run_a();
    run_b();
    run_c();
    for (int i = 0; i < 20; i++) free(c_blocks[i]);
    for (int i = 10; i < 50; i++) free(b_blocks[i]);
    sink = b_blocks[0];
    return 0;
}
