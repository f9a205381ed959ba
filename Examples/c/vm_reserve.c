/* vm_reserve: reserves 10 GiB of address space with PROT_NONE + MAP_NORESERVE (no RAM, no swap
 * promised), makes 64 MiB of it usable and touches 1,000 pages spread across it, then waits.
 * Shows that virtual size says little about memory use; used to time `mematlas vm` on a large
 * address space. Prints "reserved 0xADDR SIZE touched N" and waits for a line on stdin. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
    const size_t size = 10ul << 30;
    const size_t usable = 64ul << 20;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *base = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) { perror("mmap"); return 1; }
    if (mprotect(base, usable, PROT_READ | PROT_WRITE) != 0) { perror("mprotect"); return 1; }
    madvise(base, usable, MADV_NOHUGEPAGE);
    size_t touched = 0;
    for (size_t offset = 0; offset < usable && touched < 1000; offset += (usable / 1000 / page) * page) {
        base[offset] = 1;
        touched++;
    }
    printf("reserved %p %zu touched %zu\n", (void *)base, size, touched);
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return 0;
    return 0;
}
