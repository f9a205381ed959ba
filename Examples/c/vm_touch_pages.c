/* vm_touch_pages: maps 64 MiB of anonymous memory and touches every 4th page, so that a quarter of
 * the region is resident ("virtual memory is an illusion: most of it is not backed by RAM").
 * Then, on a line from stdin, gives the first half back with madvise(MADV_DONTNEED).
 *
 * Protocol (for tests and for `mematlas vm PID`):
 *   prints "region 0xADDR SIZE touched N" and waits for a line on stdin;
 *   drops the first half, prints "dropped M present N" and waits for a line;
 *   exits. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
    const size_t size = 64u << 20;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) { perror("mmap"); return 1; }
    /* Without this, a transparent huge page would make 512 pages resident on the first touch. */
    madvise(region, size, MADV_NOHUGEPAGE);
    size_t touched = 0;
    for (size_t offset = 0; offset < size; offset += 4 * page) {
        region[offset] = 1;
        touched++;
    }
    printf("region %p %zu touched %zu\n", (void *)region, size, touched);
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return 0;
    madvise(region, size / 2, MADV_DONTNEED);
    printf("dropped %zu present %zu\n", touched / 2, touched - touched / 2);
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) return 0;
    return 0;
}
