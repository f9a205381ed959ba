/* A workload with exactly known allocator calls, for MemAtlas's exact-count tests.
 * Usage: exact_counts [THREADS]  (0, the default, runs the workload once on the main thread)
 * It prints nothing through stdio (whose buffers would be allocations of their own).
 *
 * One workload() makes, per run:
 *   malloc 100 (sizes 32..131, 8,150 bytes), of which 10 are leaked (sizes 32..41, 365 bytes)
 *   calloc 50 (10 x 8 = 80 bytes each), each freed at once (temporary)
 *   realloc 20 (NULL, then 100, 200, ... 2,000 bytes: 21,000 bytes in all)
 *   posix_memalign 5, aligned_alloc 5, memalign 5, valloc 3, pvalloc 2, reallocarray 2
 *   free 90 + 50 + 1 + 20 + 1 + 7 free(NULL) = 169
 *   mmap 3 anonymous (16 KiB, 32 KiB, 8 KiB), munmap 2, mremap 1 (32 -> 64 KiB); 8 KiB left mapped
 * The single-threaded peak is the 100 live mallocs: 8,150 bytes in 100 blocks. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096

/* Keeps the compiler from removing allocations whose results look unused. */
static void *volatile sink;

static void group_free(void **blocks, int count) {
    for (int i = 0; i < count; i++) free(blocks[i]);
}

static void workload(void) {
    void *keep[100];
    for (int i = 0; i < 100; i++) keep[i] = malloc(32 + (size_t)i);
    for (int i = 10; i < 100; i++) free(keep[i]);
    sink = keep[0];

    for (int i = 0; i < 50; i++) {
        void *p = calloc(10, 8);
        sink = p;
        free(p);
    }

    void *grown = NULL;
    for (int i = 1; i <= 20; i++) grown = realloc(grown, (size_t)i * 100);
    free(grown);

    void *blocks[5];
    for (int i = 0; i < 5; i++) posix_memalign(&blocks[i], 64, 100);
    group_free(blocks, 5);
    for (int i = 0; i < 5; i++) blocks[i] = aligned_alloc(128, 256);
    group_free(blocks, 5);
    for (int i = 0; i < 5; i++) blocks[i] = memalign(32, 48);
    group_free(blocks, 5);
    for (int i = 0; i < 3; i++) blocks[i] = valloc(100);
    group_free(blocks, 3);
    for (int i = 0; i < 2; i++) blocks[i] = pvalloc(100);
    group_free(blocks, 2);

    void *array = reallocarray(NULL, 10, 16);
    array = reallocarray(array, 20, 16);
    sink = array;
    free(array);

    for (int i = 0; i < 7; i++) free(sink == (void *)1 ? sink : NULL);

    char *m1 = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *m2 = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *m3 = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m1[0] = m2[0] = m3[0] = 1;
    munmap(m1, 4 * PAGE);
    m2 = mremap(m2, 8 * PAGE, 16 * PAGE, MREMAP_MAYMOVE);
    munmap(m2, 16 * PAGE);
    sink = m3;
}

static void *worker(void *unused) {
    (void)unused;
    workload();
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    if (threads <= 0) {
        workload();
    } else {
        pthread_t ids[64];
        if (threads > 64) threads = 64;
        for (int i = 0; i < threads; i++) pthread_create(&ids[i], NULL, worker, NULL);
        for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
    }
    write(1, "done\n", 5);
    return 0;
}
