/*
 * Internal interface of the MemAtlas recorder, the LD_PRELOAD library that runs inside the
 * profiled process. Everything here is hidden; only the hooked libc functions are exported.
 *
 *   hooks.c    the interposed functions: re-entry guard, then hand the event to the writer
 *   writer.c   the event stream: lock, encoding, buffers, flusher thread, zstd, files, fork
 *   stacks.c   call stacks: libunwind / frame-pointer walking and in-process deduplication
 *   modules.c  loaded modules (dl_iterate_phdr), encoded as MA_REC_MODULES records
 *   sysmem.c   the recorder's own memory (mmap, never the program's heap) and small syscalls
 */
#ifndef MEMATLAS_RECORDER_INTERNAL_H
#define MEMATLAS_RECORDER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <sys/types.h>

#include "mematlas_trace_schema.h"

#define MA_HIDDEN __attribute__((visibility("hidden")))
#define MA_EXPORT __attribute__((visibility("default")))
#define MA_TLS __thread __attribute__((tls_model("initial-exec")))
#define MA_LIKELY(x) __builtin_expect(!!(x), 1)
#define MA_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Deepest stack the recorder keeps (the --depth option is capped here). */
#define MA_MAX_FRAMES 256

/* ---- The real functions, found with dlsym(RTLD_NEXT) (hooks.c) ---- */
struct ma_real_functions {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*reallocarray)(void *, size_t, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    void *(*mmap)(void *, size_t, int, int, int, off_t);
    void *(*mmap64)(void *, size_t, int, int, int, off_t);
    int (*munmap)(void *, size_t);
    void *(*mremap)(void *, size_t, size_t, int, ...);
    void (*exit_)(int);
    void (*Exit_)(int);
    void (*abort)(void);
    int (*execve)(const char *, char *const[], char *const[]);
    int (*execvpe)(const char *, char *const[], char *const[]);
    int (*fexecve)(int, char *const[], char *const[]);
    int (*execveat)(int, const char *, char *const[], char *const[], int);
    int (*pthread_setname_np)(pthread_t, const char *);
    int (*pthread_getattr_np)(pthread_t, pthread_attr_t *);
    int (*pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
};
extern struct ma_real_functions ma_real MA_HIDDEN;

/* The re-entry guard: set while a hooked call is in progress on this thread. */
extern MA_TLS int ma_hook_busy MA_HIDDEN;
/* Set while the recorder's own code runs (unwinding, writing, starting): what it allocates is
 * the recorder's, unlike what a real allocator function allocates through a nested public call
 * (glibc's reallocarray calls realloc). */
extern MA_TLS int ma_in_recorder MA_HIDDEN;
/* Set while this thread is inside pthread_getattr_np, which holds the thread's lock while it calls
 * realloc: the frame walk must not ask for this thread's stack bounds then (it would deadlock). */
extern MA_TLS int ma_in_getattr MA_HIDDEN;

/* ---- Writer (writer.c) ---- */

/* Starts recording (idempotent, thread safe); called from the constructor or the first hook. */
void ma_init(void) MA_HIDDEN;
/* The recorder's state (writer.c). */
enum {
    MA_STATE_OFF = 0,   /* not started yet */
    MA_STATE_STARTING,  /* one thread is starting the recorder: others pass through */
    MA_STATE_ON,        /* recording */
    MA_STATE_FORKED,    /* a forked child: starts its own trace at its first event */
    MA_STATE_DISABLED,  /* off for good (no output possible, or write failed) */
};
extern int ma_state MA_HIDDEN;
int ma_is_recording_slow(void) MA_HIDDEN;
/* 1 while events are being recorded (starting the recorder first when it has not started); inline,
 * since every hook asks. */
static inline int ma_is_recording(void) {
    return MA_LIKELY(__atomic_load_n(&ma_state, __ATOMIC_ACQUIRE) == MA_STATE_ON) || ma_is_recording_slow();
}
/* The program is about to start a thread of its own: the recorder may start its writer thread
 * now (never while the program is single-threaded: see start_writer_thread in writer.c). */
void ma_program_starts_thread(void) MA_HIDDEN;
/* 1 when the recorder is already on; never starts it (see enter_running in hooks.c). */
int ma_is_running(void) MA_HIDDEN;

/* The hot-path entry points. Each captures the stack (where the event has one) outside the lock,
 * then appends one record under the lock. */
void ma_record_alloc(int tag, size_t size, size_t alignment, void *result) MA_HIDDEN;
void ma_record_free(void *block) MA_HIDDEN;
/* realloc needs the lock held across the real call, so that no other thread can be handed the
 * old block's address before the move is recorded. */
void *ma_record_realloc(int tag, void *old, size_t nmemb, size_t size) MA_HIDDEN;
void ma_record_mmap(size_t length, int prot, int flags, void *result) MA_HIDDEN;
void ma_record_munmap(void *start, size_t length) MA_HIDDEN;
void *ma_record_mremap(void *old, size_t old_length, size_t new_length, int flags, void *new_address) MA_HIDDEN;
void ma_record_thread_name(const char *name) MA_HIDDEN;
/* Flushes everything written so far to the file (exec, _exit, abort); how = MA_EXIT_* or 0. */
void ma_record_exit(int how) MA_HIDDEN;
void ma_record_exec(const char *path) MA_HIDDEN;

/* ---- Stacks (stacks.c) ---- */

/* Loads the configured unwinder; returns the MA_UNWIND_* value actually in use. */
int ma_stacks_init(int requested_unwinder, int max_depth) MA_HIDDEN;
/* Captures the caller's stack (innermost first), skipping the recorder's own frames. */
int ma_capture_stack(uintptr_t *frames) MA_HIDDEN;
/* Looks a stack up in the in-process table (the writer lock is held). Returns its id (from 1);
 * *is_new is set when the stack was not seen before and must be written out. */
uint32_t ma_intern_stack(const uintptr_t *frames, int count, int *is_new) MA_HIDDEN;
/* Forgets every stack (a forked child starts a new trace). */
void ma_stacks_reset(void) MA_HIDDEN;

/* A frame sequence's fingerprint (see stacks.c): a 64-bit hash (never 0) and an independent
 * 32-bit one. */
struct ma_print {
    uint64_t hash;
    uint32_t check;
};

/* The frame-pointer fast path of the unwinders (see stacks.c). ma_capture_key walks frame pointers
 * from `frame` (the caller's frame: __builtin_frame_address(0), so that the walk does not step
 * through the recorder's frames below it) into key (return addresses, then where the chain ended),
 * fingerprints it on the way (the arithmetic hides in the walk's load latency) and returns the
 * key's length, or 0 without stacks. The others need the writer lock. */
int ma_capture_key(const void *frame, uintptr_t *key, struct ma_print *print) MA_HIDDEN;
uint32_t ma_fast_lookup(struct ma_print print, int *known) MA_HIDDEN;
void ma_fast_remember(const uintptr_t *key, int length, struct ma_print print, const uintptr_t *frames, int depth,
                      uint32_t stack) MA_HIDDEN;

/* Whether two frame sequences of `count` frames are equal. Stacks are short: an inline loop beats
 * a call to memcmp. */
static inline int ma_same_frames(const uintptr_t *a, const uintptr_t *b, int count) {
    int i = 0;
    for (; i + 1 < count; i += 2)
        if ((a[i] ^ b[i]) | (a[i + 1] ^ b[i + 1])) return 0;
    return i == count || a[i] == b[i];
}

/* Copies count frames in 32-byte blocks, the last one ending at count (overlapping the one
 * before): a copy loop, or memcpy of a variable size, compiles to a call to memmove, which cost
 * more than the copy for the 5 to 20 frames of a key. */
static inline void ma_copy_frames(uintptr_t *to, const uintptr_t *from, int count) {
    if (count < 4) {
        for (int i = 0; i < 3; i++)
            if (i < count) to[i] = from[i];
        return;
    }
    for (int i = 0; i + 4 < count; i += 4) memcpy(to + i, from + i, 4 * sizeof *to);
    memcpy(to + count - 4, from + count - 4, 4 * sizeof *to);
}

/* A set of frame sequences by fingerprint, with a 32-bit value each (stacks.c). */
struct ma_key_slot {
    uint64_t hash; /* 0 = empty */
    uint32_t check;
    uint32_t value;
};
struct ma_key_table {
    struct ma_key_slot *slots;
    size_t slot_count, used;
};
int ma_keys_find(struct ma_key_table *t, struct ma_print print, uint32_t *value) MA_HIDDEN;
int ma_keys_insert(struct ma_key_table *t, struct ma_print print, uint32_t value) MA_HIDDEN;
void ma_keys_reset(struct ma_key_table *t) MA_HIDDEN;
/* Stops using libunwind in this process (a forked child whose parent had a thread inside it). */
void ma_stacks_use_frame_pointers(void) MA_HIDDEN;
/* Forgets the calling thread's cached stack bounds (after fork). */
void ma_stacks_thread_reset(void) MA_HIDDEN;

/* ---- Modules (modules.c) ---- */

/* Encodes a complete MA_REC_MODULES record of the currently loaded modules into a buffer owned by
 * modules.c; returns its length. Must be called without the writer lock (it takes the loader's). */
size_t ma_modules_snapshot(const uint8_t **record) MA_HIDDEN;
/* 1 when dlopen/dlclose happened since the last snapshot (cheap check through dl_iterate_phdr). */
int ma_modules_changed(void) MA_HIDDEN;
/* 1 when ip lies in an executable segment of the last snapshot. */
int ma_modules_contains(uintptr_t ip) MA_HIDDEN;
/* The recorder library's own text range, so its frames can be skipped. */
void ma_modules_self_range(uintptr_t *start, uintptr_t *end) MA_HIDDEN;

/* ---- Page residency (residency.c) ---- */

/* Encodes a complete MA_REC_RESIDENCY record (mincore over private anonymous writable memory) into
 * a buffer owned by residency.c; returns its length (0 on failure). One caller at a time. */
size_t ma_residency_snapshot(uint64_t time_ns, const uint8_t **record) MA_HIDDEN;

/* ---- The recorder's own memory and small system helpers (sysmem.c) ---- */

/* Anonymous memory straight from the kernel (never the program's malloc). */
void *ma_sys_alloc(size_t bytes) MA_HIDDEN;
void ma_sys_release(void *memory, size_t bytes) MA_HIDDEN;
/* Grows a ma_sys_alloc block, moving it if needed. */
void *ma_sys_grow(void *memory, size_t old_bytes, size_t new_bytes) MA_HIDDEN;
pid_t ma_gettid(void) MA_HIDDEN;
uint64_t ma_monotonic_ns(void) MA_HIDDEN;
uint64_t ma_realtime_ns(void) MA_HIDDEN;
/* write() until done, retrying on EINTR; returns 0 or -1. */
int ma_write_all(int fd, const void *data, size_t size) MA_HIDDEN;
/* Reads a small file into buf (NUL-terminated); returns the byte count or -1. */
ssize_t ma_read_small_file(const char *path, char *buf, size_t size) MA_HIDDEN;

#endif
