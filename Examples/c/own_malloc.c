/* A program that brings its own malloc, as rustc links jemalloc into its executable: the
 * allocator maps its arena while holding its (non-recursive) lock, at the first call, which comes
 * from a library constructor before the recorder has started. Then main maps and unmaps 3 anonymous
 * regions of 64 KiB and prints how many calls its allocator served.
 * Build: cc -g -o own_malloc own_malloc.c -L. -lown_malloc_library -Wl,-rpath,. -pthread */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA_SIZE (64u << 20)

extern char *own_malloc_library_greeting;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *arena;
static size_t used;
static unsigned long served;

/* Bump allocation; a 16-byte header keeps the size for realloc. Nothing is reused. */
static void *allocate(size_t size, size_t alignment) {
    if (alignment < 16) alignment = 16;
    pthread_mutex_lock(&lock);
    if (!arena) {
        void *p = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        arena = p == MAP_FAILED ? NULL : p;
    }
    uint8_t *block = NULL;
    if (arena) {
        size_t start = (used + 16 + alignment - 1) & ~(alignment - 1);
        if (start + size <= ARENA_SIZE) {
            block = arena + start;
            ((size_t *)block)[-2] = size;
            used = start + size;
            served++;
        }
    }
    pthread_mutex_unlock(&lock);
    if (!block) errno = ENOMEM;
    return block;
}

void *malloc(size_t size) { return allocate(size, 16); }
void free(void *block) { (void)block; }
void *calloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) { errno = ENOMEM; return NULL; }
    return allocate(count * size, 16); /* fresh arena memory is zero */
}
void *realloc(void *old, size_t size) {
    void *block = allocate(size, 16);
    if (block && old) {
        size_t old_size = ((size_t *)old)[-2];
        memcpy(block, old, old_size < size ? old_size : size);
    }
    return block;
}
void *memalign(size_t alignment, size_t size) { return allocate(size, alignment); }
void *aligned_alloc(size_t alignment, size_t size) { return allocate(size, alignment); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    void *block = allocate(size, alignment);
    if (!block) return ENOMEM;
    *out = block;
    return 0;
}
size_t malloc_usable_size(void *block) { return block ? ((size_t *)block)[-2] : 0; }

int main(void) {
    void *regions[3];
    for (int i = 0; i < 3; i++) {
        regions[i] = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        memset(regions[i], i + 1, 64 << 10);
    }
    for (int i = 0; i < 3; i++) munmap(regions[i], 64 << 10);
    char *copy = strdup(own_malloc_library_greeting);
    printf("%s; own malloc served %s\n", copy, served >= 2 ? "the library and main" : "too few calls");
    return 0;
}
