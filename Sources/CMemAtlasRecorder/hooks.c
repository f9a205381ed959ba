/* The interposed functions. Each one calls the real function and hands the event to the writer,
 * under a thread-local re-entry guard so that whatever the recorder itself allocates (libunwind's
 * caches, dlopen, thread start) passes straight through. errno is what the real call left. */
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

struct ma_real_functions ma_real;
MA_TLS int ma_hook_busy;
MA_TLS int ma_in_recorder;
MA_TLS int ma_in_getattr;

/* dlsym may allocate before the real allocator is known: serve those requests from here. */
static uint8_t g_bootstrap_arena[64 * 1024] __attribute__((aligned(64)));
static size_t g_bootstrap_used;
static int g_resolving;

static int in_bootstrap_arena(const void *p) {
    return (const uint8_t *)p >= g_bootstrap_arena && (const uint8_t *)p < g_bootstrap_arena + sizeof g_bootstrap_arena;
}

static void *bootstrap_alloc(size_t size, size_t alignment) {
    if (alignment < 16) alignment = 16;
    size_t start = (g_bootstrap_used + alignment - 1) & ~(alignment - 1);
    if (start + size > sizeof g_bootstrap_arena) return NULL;
    g_bootstrap_used = start + size;
    return g_bootstrap_arena + start; /* static storage: already zero, as calloc needs */
}

#define MA_RESOLVE(name) ma_real.name = (__typeof__(ma_real.name))dlsym(RTLD_NEXT, #name)

static void resolve_real_functions(void) {
    if (g_resolving) return;
    g_resolving = 1;
    MA_RESOLVE(malloc);
    MA_RESOLVE(free);
    MA_RESOLVE(calloc);
    MA_RESOLVE(realloc);
    MA_RESOLVE(reallocarray);
    MA_RESOLVE(posix_memalign);
    MA_RESOLVE(aligned_alloc);
    MA_RESOLVE(memalign);
    MA_RESOLVE(valloc);
    MA_RESOLVE(pvalloc);
    MA_RESOLVE(mmap);
    MA_RESOLVE(mmap64);
    MA_RESOLVE(munmap);
    MA_RESOLVE(mremap);
    ma_real.exit_ = (void (*)(int))dlsym(RTLD_NEXT, "_exit");
    ma_real.Exit_ = (void (*)(int))dlsym(RTLD_NEXT, "_Exit");
    MA_RESOLVE(abort);
    MA_RESOLVE(execve);
    MA_RESOLVE(execvpe);
    MA_RESOLVE(fexecve);
    MA_RESOLVE(execveat);
    ma_real.pthread_setname_np = (int (*)(pthread_t, const char *))dlsym(RTLD_NEXT, "pthread_setname_np");
    ma_real.pthread_getattr_np = (int (*)(pthread_t, pthread_attr_t *))dlsym(RTLD_NEXT, "pthread_getattr_np");
    MA_RESOLVE(pthread_create);
    g_resolving = 0;
}

static inline int ready(void) {
    if (MA_UNLIKELY(!ma_real.free)) resolve_real_functions();
    return ma_real.free != NULL;
}

/* ---- The recorder's own heap blocks ----
 * Blocks allocated while the guard is set belong to the recorder (libunwind's per-thread data,
 * dlopen's bookkeeping), not to the program. Some are freed later from an unguarded path (glibc
 * frees a thread's dynamic TLS when it exits): their frees must not reach the trace either. They
 * are few, so a small set with tombstones, written under a spinlock and read without one, holds
 * them. When it is full, frees of further internal blocks show up as unmatched frees. Every free
 * asks, so a bit per slot (set for every home slot ever used, 512 bytes that stay in the cache)
 * answers "not internal" for almost all of them without touching the set (32 KiB). */
#define MA_INTERNAL_SLOTS 4096
#define MA_TOMBSTONE ((uintptr_t)1)
static uintptr_t g_internal[MA_INTERNAL_SLOTS];
static uint64_t g_internal_homes[MA_INTERNAL_SLOTS / 64];
static int g_internal_used;
static int g_internal_lock;

static inline size_t internal_home(uintptr_t p) { return (size_t)((p >> 4) * 0x9E3779B97F4A7C15ull >> 52) & (MA_INTERNAL_SLOTS - 1); }

static void remember_internal(void *block) {
    if (!block) return;
    uintptr_t p = (uintptr_t)block;
    while (__atomic_exchange_n(&g_internal_lock, 1, __ATOMIC_ACQUIRE)) {}
    if (g_internal_used < MA_INTERNAL_SLOTS * 3 / 4) {
        size_t i = internal_home(p);
        __atomic_fetch_or(&g_internal_homes[i / 64], 1ull << (i % 64), __ATOMIC_RELEASE);
        while (g_internal[i] > MA_TOMBSTONE && g_internal[i] != p) i = (i + 1) & (MA_INTERNAL_SLOTS - 1);
        if (g_internal[i] == 0) g_internal_used++;
        __atomic_store_n(&g_internal[i], p, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&g_internal_lock, 0, __ATOMIC_RELEASE);
}

/* 1 (and forgets it) when block is one of the recorder's own. */
static int forget_internal(void *block) {
    uintptr_t p = (uintptr_t)block;
    if (!p) return 0;
    size_t i = internal_home(p);
    if (!(__atomic_load_n(&g_internal_homes[i / 64], __ATOMIC_ACQUIRE) & (1ull << (i % 64)))) return 0;
    for (size_t probes = 0; probes < MA_INTERNAL_SLOTS; probes++) {
        uintptr_t v = __atomic_load_n(&g_internal[i], __ATOMIC_ACQUIRE);
        if (v == 0) return 0;
        if (v == p) {
            while (__atomic_exchange_n(&g_internal_lock, 1, __ATOMIC_ACQUIRE)) {}
            int found = g_internal[i] == p;
            if (found) __atomic_store_n(&g_internal[i], MA_TOMBSTONE, __ATOMIC_RELEASE);
            __atomic_store_n(&g_internal_lock, 0, __ATOMIC_RELEASE);
            return found;
        }
        i = (i + 1) & (MA_INTERNAL_SLOTS - 1);
    }
    return 0;
}

#ifdef MA_START_IN_CONSTRUCTOR
/* Sanitizer builds (Benchmarks/reliability/sanitizers.sh). The recorder's instrumented code (the
 * writer, the stack tables; under ThreadSanitizer hooks.c itself is built uninstrumented) must
 * not run where the sanitizer's runtime cannot follow it, so hooks there only pass calls through:
 *  - before the recorder's constructors: the runtime calls malloc (through dlsym) before it has
 *    mapped its shadow memory; even reading a thread-local is instrumented under ASan;
 *  - inside the runtime's pthread_getattr_np call at a thread's start, before the runtime knows
 *    the thread (see pthread_getattr_np);
 *  - at a thread's end, after the runtime has torn down its state for the thread: ThreadSanitizer
 *    does so in a thread-specific destructor that waits for the last destructor round; the
 *    recorder's own destructor, created after it, waits as long and then marks the thread gone
 *    (glibc's __libc_thread_freeres and later destructors still call free).
 * Normal builds start at the first hook, to see allocations made earlier, and record to the end. */
static volatile int g_constructed; /* volatile: the compiler must not fold the constructor away */
static uintptr_t g_runtime_start, g_runtime_end; /* the sanitizer runtime's code */
static pthread_key_t g_thread_end_key;
static MA_TLS int t_end_armed, t_gone;

static int find_sanitizer_runtime(struct dl_phdr_info *info, size_t size, void *unused) {
    (void)size;
    (void)unused;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "libclang_rt.")) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_LOAD || !(segment->p_flags & PF_X)) continue;
        uintptr_t start = info->dlpi_addr + segment->p_vaddr;
        if (!g_runtime_start || start < g_runtime_start) g_runtime_start = start;
        if (start + segment->p_memsz > g_runtime_end) g_runtime_end = start + segment->p_memsz;
    }
    return 1;
}

static void thread_end(void *rounds) {
    if ((uintptr_t)rounds > 1) {
        pthread_setspecific(g_thread_end_key, (void *)((uintptr_t)rounds - 1));
        return;
    }
    t_gone = 1;
}

__attribute__((constructor(101))) static void ma_hooks_constructed(void) {
    dl_iterate_phdr(find_sanitizer_runtime, NULL);
    pthread_key_create(&g_thread_end_key, thread_end);
    g_constructed = 1;
}

/* 1 when this hook must only pass the call through (see above). */
static inline int sanitizer_pass(void) {
    if (MA_UNLIKELY(!g_constructed)) return 1;
    if (MA_UNLIKELY(!t_end_armed)) {
        t_end_armed = 1;
        pthread_setspecific(g_thread_end_key, (void *)(uintptr_t)PTHREAD_DESTRUCTOR_ITERATIONS);
    }
    return t_gone;
}

#define MA_PASS_UNTIL_CONSTRUCTED(call) \
    do {                                 \
        if (MA_UNLIKELY(!g_constructed)) return call; \
    } while (0)
#else
static inline int sanitizer_pass(void) { return 0; }
#define MA_PASS_UNTIL_CONSTRUCTED(call) do {} while (0)
#endif

/* Enter a hook: 1 when this call is to be recorded (sets the guard). */
static inline int enter(void) {
    if (sanitizer_pass()) return 0;
    if (ma_hook_busy) return 0;
    ma_hook_busy = 1;
    if (MA_LIKELY(ma_is_recording())) return 1;
    ma_hook_busy = 0;
    return 0;
}

/* Enter a mapping hook: like enter(), but never starts the recorder. A program with its own
 * malloc (rustc links jemalloc into its executable) maps memory while holding its allocator's
 * lock; starting here would call dlopen, whose malloc is that allocator: a deadlock. The
 * recorder then starts at its constructor or the first malloc-family hook instead. */
static inline int enter_running(void) {
    if (sanitizer_pass()) return 0;
    if (ma_hook_busy || !ma_is_running()) return 0;
    ma_hook_busy = 1;
    return 1;
}

static inline void leave(void) { ma_hook_busy = 0; }

/* ---- malloc family ---- */

MA_EXPORT void *malloc(size_t size) {
    if (MA_UNLIKELY(!ready() || !ma_real.malloc)) return bootstrap_alloc(size, 16);
    MA_PASS_UNTIL_CONSTRUCTED(ma_real.malloc(size));
    if (!enter()) {
        void *internal = ma_real.malloc(size);
        if (ma_in_recorder) remember_internal(internal);
        return internal;
    }
    void *p = ma_real.malloc(size);
    int saved = errno;
    ma_record_alloc(MA_REC_MALLOC, size, 0, p);
    leave();
    errno = saved;
    return p;
}

MA_EXPORT void free(void *block) {
    if (MA_UNLIKELY(in_bootstrap_arena(block))) return;
    if (MA_UNLIKELY(!ready())) return;
#ifdef MA_START_IN_CONSTRUCTOR
    if (MA_UNLIKELY(!g_constructed)) {
        ma_real.free(block);
        return;
    }
#endif
    /* Also under the guard: an internal block the recorder frees (libunwind, the sanitizer
     * runtime's thread start) must leave the set, or a program block given the same address
     * later would have its free dropped as the recorder's. */
    if (forget_internal(block)) {
        ma_real.free(block);
        return;
    }
    if (enter()) {
        int saved = errno;
        ma_record_free(block); /* before the real free: the address may be reused at once */
        leave();
        errno = saved;
    }
    ma_real.free(block);
}

MA_EXPORT void *calloc(size_t count, size_t size) {
    if (MA_UNLIKELY(!ready() || !ma_real.calloc)) {
        size_t total;
        if (__builtin_mul_overflow(count, size, &total)) return NULL;
        return bootstrap_alloc(total, 16);
    }
    MA_PASS_UNTIL_CONSTRUCTED(ma_real.calloc(count, size));
    if (!enter()) {
        void *internal = ma_real.calloc(count, size);
        if (ma_in_recorder) remember_internal(internal);
        return internal;
    }
    void *p = ma_real.calloc(count, size);
    int saved = errno;
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) total = SIZE_MAX;
    ma_record_alloc(MA_REC_CALLOC, total, 0, p);
    leave();
    errno = saved;
    return p;
}

MA_EXPORT void *realloc(void *old, size_t size) {
    if (MA_UNLIKELY(in_bootstrap_arena(old))) {
        /* A bootstrap block never moves into the real heap: copy it (rare, only during start). */
        void *p = malloc(size);
        if (p) memcpy(p, old, size < 256 ? size : 256);
        return p;
    }
    if (MA_UNLIKELY(!ready())) return NULL;
    MA_PASS_UNTIL_CONSTRUCTED(ma_real.realloc(old, size));
    if (forget_internal(old)) { /* under the guard too, as in free */
        void *moved = ma_real.realloc(old, size);
        remember_internal(moved ? moved : (size ? old : NULL));
        return moved;
    }
    if (!enter()) {
        void *internal = ma_real.realloc(old, size);
        if (ma_in_recorder) remember_internal(internal);
        return internal;
    }
    void *p = ma_record_realloc(MA_REC_REALLOC, old, 1, size);
    leave();
    return p;
}

MA_EXPORT void *reallocarray(void *old, size_t count, size_t size) {
    if (MA_UNLIKELY(!ready() || !ma_real.reallocarray)) return NULL;
    if (!enter()) return ma_real.reallocarray(old, count, size);
    void *p = ma_record_realloc(MA_REC_REALLOCARRAY, old, count, size);
    leave();
    return p;
}

MA_EXPORT int posix_memalign(void **out, size_t alignment, size_t size) {
    if (MA_UNLIKELY(!ready())) return ENOMEM;
    if (!enter()) return ma_real.posix_memalign(out, alignment, size);
    int result = ma_real.posix_memalign(out, alignment, size);
    int saved = errno;
    ma_record_alloc(MA_REC_POSIX_MEMALIGN, size, alignment, result == 0 ? *out : NULL);
    leave();
    errno = saved;
    return result;
}

#define MA_ALIGNED_HOOK(name, tag)                                     \
    MA_EXPORT void *name(size_t alignment, size_t size) {              \
        if (MA_UNLIKELY(!ready())) return bootstrap_alloc(size, alignment); \
        if (!enter()) return ma_real.name(alignment, size);            \
        void *p = ma_real.name(alignment, size);                       \
        int saved = errno;                                             \
        ma_record_alloc(tag, size, alignment, p);                      \
        leave();                                                       \
        errno = saved;                                                 \
        return p;                                                      \
    }
MA_ALIGNED_HOOK(aligned_alloc, MA_REC_ALIGNED_ALLOC)
MA_ALIGNED_HOOK(memalign, MA_REC_MEMALIGN)

#define MA_PAGE_HOOK(name, tag)                                        \
    MA_EXPORT void *name(size_t size) {                                \
        if (MA_UNLIKELY(!ready())) return NULL;                        \
        if (!enter()) return ma_real.name(size);                       \
        void *p = ma_real.name(size);                                  \
        int saved = errno;                                             \
        ma_record_alloc(tag, size, 0, p);                              \
        leave();                                                       \
        errno = saved;                                                 \
        return p;                                                      \
    }
MA_PAGE_HOOK(valloc, MA_REC_VALLOC)
MA_PAGE_HOOK(pvalloc, MA_REC_PVALLOC)

/* ---- Anonymous mappings ---- */

static void *mmap_hook(void *(*real)(void *, size_t, int, int, int, off_t), void *address, size_t length, int prot,
                       int flags, int fd, off_t offset) {
    if (!(flags & MAP_ANONYMOUS) || !enter_running()) return real(address, length, prot, flags, fd, offset);
    void *p = real(address, length, prot, flags, fd, offset);
    int saved = errno;
    ma_record_mmap(length, prot, flags, p);
    leave();
    errno = saved;
    return p;
}

MA_EXPORT void *mmap(void *address, size_t length, int prot, int flags, int fd, off_t offset) {
    if (MA_UNLIKELY(!ready())) return MAP_FAILED;
    return mmap_hook(ma_real.mmap, address, length, prot, flags, fd, offset);
}

MA_EXPORT void *mmap64(void *address, size_t length, int prot, int flags, int fd, off_t offset) {
    if (MA_UNLIKELY(!ready())) return MAP_FAILED;
    return mmap_hook(ma_real.mmap64 ? ma_real.mmap64 : ma_real.mmap, address, length, prot, flags, fd, offset);
}

MA_EXPORT int munmap(void *start, size_t length) {
    if (MA_UNLIKELY(!ready())) return -1;
    if (enter_running()) {
        int saved = errno;
        ma_record_munmap(start, length);
        leave();
        errno = saved;
    }
    return ma_real.munmap(start, length);
}

MA_EXPORT void *mremap(void *old, size_t old_length, size_t new_length, int flags, ...) {
    void *new_address = NULL;
    if (flags & MREMAP_FIXED) {
        va_list args;
        va_start(args, flags);
        new_address = va_arg(args, void *);
        va_end(args);
    }
    if (MA_UNLIKELY(!ready())) return MAP_FAILED;
    if (!enter_running()) return ma_real.mremap(old, old_length, new_length, flags, new_address);
    void *p = ma_record_mremap(old, old_length, new_length, flags, new_address);
    leave();
    return p;
}

/* ---- Process end and exec: write out what is buffered first ---- */

MA_EXPORT void _exit(int status) {
    ready();
    if (enter()) {
        ma_record_exit(MA_EXIT_UNDERSCORE);
        leave();
    }
    ma_real.exit_(status);
    __builtin_unreachable();
}

MA_EXPORT void _Exit(int status) {
    ready();
    if (enter()) {
        ma_record_exit(MA_EXIT_UNDERSCORE);
        leave();
    }
    ma_real.Exit_(status);
    __builtin_unreachable();
}

MA_EXPORT void abort(void) {
    ready();
    if (enter()) {
        ma_record_exit(MA_EXIT_ABORT);
        leave();
    }
    ma_real.abort();
    __builtin_unreachable();
}

static void before_exec(const char *path) {
    int saved = errno;
    if (enter()) {
        ma_record_exec(path);
        leave();
    }
    errno = saved;
}

MA_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    ready();
    before_exec(path);
    return ma_real.execve(path, argv, envp);
}

MA_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    ready();
    before_exec(file);
    return ma_real.execvpe(file, argv, envp);
}

extern char **environ;

MA_EXPORT int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }

MA_EXPORT int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

MA_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    ready();
    before_exec("");
    return ma_real.fexecve(fd, argv, envp);
}

MA_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags) {
    ready();
    before_exec(path);
    return ma_real.execveat(dirfd, path, argv, envp, flags);
}

/* execl, execle and execlp: gather the variadic arguments (on the stack, as glibc does). */
#define MA_COLLECT_ARGS(first, argv_name)                          \
    size_t count_ = 1;                                             \
    va_list args_;                                                 \
    va_start(args_, first);                                        \
    while (va_arg(args_, const char *)) count_++;                  \
    va_end(args_);                                                 \
    const char *argv_name[count_ + 1];                             \
    argv_name[0] = first;                                          \
    va_start(args_, first);                                        \
    for (size_t i_ = 1; i_ <= count_; i_++) argv_name[i_] = va_arg(args_, const char *);

MA_EXPORT int execl(const char *path, const char *arg, ...) {
    MA_COLLECT_ARGS(arg, argv)
    va_end(args_);
    return execve(path, (char *const *)argv, environ);
}

MA_EXPORT int execlp(const char *file, const char *arg, ...) {
    MA_COLLECT_ARGS(arg, argv)
    va_end(args_);
    return execvpe(file, (char *const *)argv, environ);
}

MA_EXPORT int execle(const char *path, const char *arg, ...) {
    MA_COLLECT_ARGS(arg, argv)
    char *const *envp = va_arg(args_, char *const *);
    va_end(args_);
    return execve(path, (char *const *)argv, envp);
}

/* ---- Threads ---- */

MA_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
    ready();
    if (!ma_hook_busy && !ma_in_recorder) ma_program_starts_thread();
    return ma_real.pthread_create(thread, attr, start, arg);
}

MA_EXPORT int pthread_setname_np(pthread_t thread, const char *name) {
    ready();
    int result = ma_real.pthread_setname_np(thread, name);
    if (result == 0 && pthread_equal(thread, pthread_self()) && enter()) {
        ma_record_thread_name(name);
        leave();
    }
    return result;
}

/* glibc's pthread_getattr_np holds the thread's lock while it calls realloc. When that realloc is
 * the thread's first recorded call (Rust's std does this at every thread start, ASan too), the
 * frame walk must not call pthread_getattr_np for the thread's stack bounds: it would wait for the
 * lock its own thread holds. The flag tells it so. */
MA_EXPORT int pthread_getattr_np(pthread_t thread, pthread_attr_t *attr) {
    ready();
    MA_PASS_UNTIL_CONSTRUCTED(ma_real.pthread_getattr_np(thread, attr));
    ma_in_getattr++;
#ifdef MA_START_IN_CONSTRUCTOR
    /* The sanitizer runtime asks for a new thread's stack before the thread is known to it: its
     * instrumentation cannot run yet (ThreadSanitizer faults or reports races against the thread
     * that created it), so the block that call allocates is the recorder's own: unrecorded, as is
     * its free by pthread_attr_destroy. A program's own calls are recorded as in normal builds. */
    uintptr_t caller = (uintptr_t)__builtin_return_address(0);
    if (caller >= g_runtime_start && caller < g_runtime_end && !ma_hook_busy) {
        int was_in_recorder = ma_in_recorder;
        ma_hook_busy = 1;
        ma_in_recorder = 1;
        int result = ma_real.pthread_getattr_np(thread, attr);
        ma_in_recorder = was_in_recorder;
        ma_hook_busy = 0;
        ma_in_getattr--;
        return result;
    }
#endif
    int result = ma_real.pthread_getattr_np(thread, attr);
    ma_in_getattr--;
    return result;
}
