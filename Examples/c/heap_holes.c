/* Heap holes: why RSS stays high while the live heap shrinks.
   1. 100,000 blocks of 200 bytes (glibc chunks of 208 bytes) fill the brk heap back to back.
   2. Of every five blocks, blocks 1, 2 and 4 are freed: 60% of the heap is free again, but as
      holes of 416 and 208 bytes between live blocks, in pages that stay resident.
   3. 2,000 blocks of 1,000 bytes (chunks of 1,008) fit in none of the holes: the heap grows at
      its end; two 1 MiB blocks get their own mmaps.
   After each phase the program reads its own VmRSS from /proc/self/status, then marks the moment
   in the trace with an mmap of (6 + phase) pages (munmapped at once), and sleeps 300 ms so that
   RSS samples and residency snapshots see a quiet heap. Nothing is freed at the end, so
   `mematlas heapmap TRACE --at end` shows the holes. stdio is used only at the very end (its
   buffer would be a heap block of its own). With a path argument, the VmRSS figures are also
   written to that file (for tests).
       mematlas record -o holes.trace -- ./heap_holes
       mematlas heapmap holes.trace --at end -o holes.svg */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SMALL 100000
#define LARGE 2000

static long rss_kb[4];

static long read_vmrss_kb(void) {
    char text[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = 0;
    char *p = strstr(text, "VmRSS:");
    return p ? strtol(p + 6, NULL, 10) : -1;
}

static void phase_done(int phase) {
    struct timespec pause = {0, 150 * 1000 * 1000};
    nanosleep(&pause, NULL);  /* let the heap settle in the samples */
    rss_kb[phase] = read_vmrss_kb();
    size_t length = (size_t)(6 + phase) * 4096;
    void *marker = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (marker != MAP_FAILED) munmap(marker, length);
    pause.tv_nsec = 300 * 1000 * 1000;
    nanosleep(&pause, NULL);
}

int main(int argc, char **argv) {
    static char *small[SMALL], *large[LARGE];
    for (int i = 0; i < SMALL; i++) {
        small[i] = malloc(200);
        memset(small[i], 1, 200);
    }
    phase_done(1);
    for (int i = 0; i < SMALL; i++) {
        int k = i % 5;
        if (k == 1 || k == 2 || k == 4) {
            free(small[i]);
            small[i] = NULL;
        }
    }
    phase_done(2);
    for (int i = 0; i < LARGE; i++) {
        large[i] = malloc(1000);
        memset(large[i], 2, 1000);
    }
    char *huge1 = malloc(1 << 20), *huge2 = malloc(1 << 20);
    memset(huge1, 3, 1 << 20);
    memset(huge2, 4, 1 << 20);
    phase_done(3);
    printf("vmrss_kb %ld %ld %ld\n", rss_kb[1], rss_kb[2], rss_kb[3]);
    if (argc > 1) {  /* the figures for a test, in a file */
        FILE *report = fopen(argv[1], "w");
        if (report) {
            fprintf(report, "vmrss_kb %ld %ld %ld\n", rss_kb[1], rss_kb[2], rss_kb[3]);
            fclose(report);
        }
    }
    printf("small %p large %p huge %p %p\n", (void *)small[0], (void *)large[0], (void *)huge1, (void *)huge2);
    return 0;
}
