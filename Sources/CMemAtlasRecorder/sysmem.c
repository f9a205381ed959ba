/* The recorder's own memory and small system helpers. Nothing here calls malloc: the recorder
 * must not disturb the heap it is watching. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

void *ma_sys_alloc(size_t bytes) {
    void *p = (void *)syscall(SYS_mmap, NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1L, 0L); /* longs: syscall() is variadic */
    return (uintptr_t)p >= (uintptr_t)-4095 ? NULL : p;
}

void ma_sys_release(void *memory, size_t bytes) {
    if (memory) syscall(SYS_munmap, memory, bytes);
}

void *ma_sys_grow(void *memory, size_t old_bytes, size_t new_bytes) {
    if (!memory) return ma_sys_alloc(new_bytes);
    void *p = (void *)syscall(SYS_mremap, memory, old_bytes, new_bytes, (long)MREMAP_MAYMOVE);
    return (uintptr_t)p >= (uintptr_t)-4095 ? NULL : p;
}

pid_t ma_gettid(void) { return (pid_t)syscall(SYS_gettid); }

uint64_t ma_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ma_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int ma_write_all(int fd, const void *data, size_t size) {
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

ssize_t ma_read_small_file(const char *path, char *buf, size_t size) {
    int saved = errno;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errno = saved;
        return -1;
    }
    size_t used = 0;
    while (used + 1 < size) {
        ssize_t n = read(fd, buf + used, size - 1 - used);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        used += (size_t)n;
    }
    buf[used] = 0;
    close(fd);
    errno = saved;
    return (ssize_t)used;
}
