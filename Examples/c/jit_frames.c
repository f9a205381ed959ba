/* Allocations whose call stacks pass through code that no module holds, as a JIT's do (Java,
 * node): a small stub copied into an anonymous executable mapping calls back into C. Each of
 * the 200 recursion depths below the stub is a new stack with a frame outside every module.
 * Expected: 200 mallocs and 200 frees, and no new module map for any of those stacks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void *volatile sink;

__attribute__((noinline)) static void allocate_at_depth(long depth) {
    if (depth > 0) {
        allocate_at_depth(depth - 1);
        __asm__ volatile("" ::: "memory"); /* not a tail call: each depth keeps its frame */
        return;
    }
    sink = malloc(32);
    free(sink);
}

int main(void) {
#if defined(__x86_64__)
    /* push rbp; mov rbp, rsp; mov rax, imm64; call rax; pop rbp; ret (rdi passes through) */
    uint8_t stub[] = {0x55, 0x48, 0x89, 0xe5, 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xd0, 0x5d, 0xc3};
    uint64_t target = (uint64_t)(uintptr_t)&allocate_at_depth;
    memcpy(stub + 6, &target, sizeof target);
    void *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED) return 1;
    memcpy(code, stub, sizeof stub);
    if (mprotect(code, 4096, PROT_READ | PROT_EXEC) != 0) return 1;
    void (*through_stub)(long) = (void (*)(long))code;
    for (long depth = 0; depth < 200; depth++) through_stub(depth);
    printf("200 allocations through generated code\n");
    return 0;
#else
    printf("not x86-64: nothing to do\n");
    return 0;
#endif
}
