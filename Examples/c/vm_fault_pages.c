/* vm_fault_pages: touches N pages (default 16384 = 64 MiB) of fresh anonymous memory from one
 * function, `touch_pages`, so every one of those first touches is a page fault there.
 * `mematlas faults -- vm_fault_pages` should attribute nearly all faults to `touch_pages`. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

__attribute__((noinline)) static size_t touch_pages(unsigned char *memory, size_t pages, size_t page) {
    size_t sum = 0;
    for (size_t i = 0; i < pages; i++) {
        memory[i * page] = (unsigned char)i;
        sum += memory[i * page];
    }
    return sum;
}

int main(int argc, char **argv) {
    size_t pages = argc > 1 ? strtoul(argv[1], NULL, 10) : 16384;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *memory = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) { perror("mmap"); return 1; }
    madvise(memory, pages * page, MADV_NOHUGEPAGE);
    size_t sum = touch_pages(memory, pages, page);
    printf("touched %zu pages (checksum %zu)\n", pages, sum);
    return 0;
}
