/* Call stacks: captured with libunwind's unw_backtrace (loaded with dlopen, RTLD_LOCAL: the machine
 * has the library without headers) or by walking frame pointers, then deduplicated in-process so
 * that each distinct stack is written once and events carry its id. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int g_unwinder = MA_UNWIND_NONE;
static int g_max_depth = 64;
static int (*g_unw_backtrace)(void **, int);
static uintptr_t g_self_start, g_self_end;

/* Per-thread stack bounds for the frame-pointer walk: a frame pointer outside them ends the walk,
 * so a register that holds something else never makes the recorder read unmapped memory. */
static MA_TLS uintptr_t t_stack_low, t_stack_high;
extern void *__libc_stack_end;

int ma_stacks_init(int requested, int max_depth) {
    if (max_depth > 0) g_max_depth = max_depth < MA_MAX_FRAMES - 8 ? max_depth : MA_MAX_FRAMES - 8;
    ma_modules_self_range(&g_self_start, &g_self_end);
    g_unwinder = requested;
    if (requested == MA_UNWIND_LIBUNWIND) {
        void *lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
        if (!lib) lib = dlopen("libunwind.so", RTLD_NOW | RTLD_LOCAL);
        if (lib) {
            g_unw_backtrace = (int (*)(void **, int))dlsym(lib, "unw_backtrace");
            int (*set_caching)(void *, int) = (int (*)(void *, int))dlsym(lib, "_ULx86_64_set_caching_policy");
            void **address_space = (void **)dlsym(lib, "_ULx86_64_local_addr_space");
            const char *policy = getenv("MEMATLAS_UNW_CACHE");
            /* UNW_CACHE_GLOBAL (1), libunwind's default, measured faster here than per-thread caches. */
            if (set_caching && address_space) set_caching(*address_space, policy ? atoi(policy) : 1);
        }
        if (!g_unw_backtrace) g_unwinder = MA_UNWIND_FRAME_POINTERS;
    }
    return g_unwinder;
}

void ma_stacks_thread_reset(void) { t_stack_low = t_stack_high = 0; }

static void find_stack_bounds(void) {
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    if (ma_gettid() == getpid()) {
        /* The main thread: pthread_getattr_np would read /proc/self/maps with malloc. */
        t_stack_high = (uintptr_t)__libc_stack_end;
    } else {
        pthread_attr_t attr;
        void *base;
        size_t size;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            if (pthread_attr_getstack(&attr, &base, &size) == 0) t_stack_high = (uintptr_t)base + size;
            pthread_attr_destroy(&attr);
        }
    }
    if (t_stack_high <= here) t_stack_high = here + 4096; /* unknown: walk our own frame only */
    t_stack_low = here - 256 * 1024;
}

__attribute__((noinline)) static int walk_frame_pointers(uintptr_t *frames, int max) {
    if (!t_stack_high) find_stack_bounds();
    uintptr_t *fp = __builtin_frame_address(0);
    int n = 0;
    while (n < max) {
        uintptr_t at = (uintptr_t)fp;
        if (at < t_stack_low || at + 16 > t_stack_high || (at & 7)) break;
        uintptr_t ret = fp[1];
        if (ret < 4096) break;
        frames[n++] = ret;
        uintptr_t *next = (uintptr_t *)fp[0];
        if ((uintptr_t)next <= at) break;
        fp = next;
    }
    return n;
}

__attribute__((noinline)) int ma_capture_stack(uintptr_t *frames) {
    int n;
    int want = g_max_depth + 8;
    if (g_unwinder == MA_UNWIND_LIBUNWIND) n = g_unw_backtrace((void **)frames, want);
    else if (g_unwinder == MA_UNWIND_FRAME_POINTERS) n = walk_frame_pointers(frames, want);
    else return 0;
    if (n < 0) n = 0;
    int skip = 0;
    while (skip < n && frames[skip] >= g_self_start && frames[skip] < g_self_end) skip++;
    n -= skip;
    if (n > g_max_depth) n = g_max_depth;
    if (skip) memmove(frames, frames + skip, (size_t)n * sizeof *frames);
    return n;
}

/* ---- The stack table: open addressing over (hash, id), frames kept in one arena ---- */

struct ma_stack_slot {
    uint64_t hash;
    uint32_t id; /* 0 = empty */
    uint32_t depth;
    uint64_t offset; /* into g_frames */
};

static struct ma_stack_slot *g_slots;
static size_t g_slot_count; /* a power of two */
static size_t g_stack_count;
static uintptr_t *g_frames;
static size_t g_frames_used, g_frames_capacity;

static uint64_t hash_frames(const uintptr_t *frames, int count) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)count;
    for (int i = 0; i < count; i++) {
        h ^= frames[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h | 1; /* never 0 */
}

static int grow_slots(void) {
    size_t count = g_slot_count ? g_slot_count * 2 : 1 << 14;
    struct ma_stack_slot *slots = ma_sys_alloc(count * sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < g_slot_count; i++) {
        if (!g_slots[i].id) continue;
        size_t j = g_slots[i].hash & (count - 1);
        while (slots[j].id) j = (j + 1) & (count - 1);
        slots[j] = g_slots[i];
    }
    ma_sys_release(g_slots, g_slot_count * sizeof *g_slots);
    g_slots = slots;
    g_slot_count = count;
    return 0;
}

uint32_t ma_intern_stack(const uintptr_t *frames, int count, int *is_new) {
    *is_new = 0;
    if (count <= 0) return 0;
    if (g_stack_count * 2 >= g_slot_count && grow_slots() != 0) return 0;
    uint64_t hash = hash_frames(frames, count);
    size_t mask = g_slot_count - 1;
    size_t i = hash & mask;
    while (g_slots[i].id) {
        struct ma_stack_slot *s = &g_slots[i];
        if (s->hash == hash && s->depth == (uint32_t)count &&
            memcmp(g_frames + s->offset, frames, (size_t)count * sizeof *frames) == 0)
            return s->id;
        i = (i + 1) & mask;
    }
    if (g_frames_used + (size_t)count > g_frames_capacity) {
        size_t capacity = g_frames_capacity ? g_frames_capacity * 2 : 1 << 16;
        while (capacity < g_frames_used + (size_t)count) capacity *= 2;
        uintptr_t *grown = ma_sys_grow(g_frames, g_frames_capacity * sizeof *g_frames, capacity * sizeof *g_frames);
        if (!grown) return 0;
        g_frames = grown;
        g_frames_capacity = capacity;
    }
    memcpy(g_frames + g_frames_used, frames, (size_t)count * sizeof *frames);
    g_slots[i].hash = hash;
    g_slots[i].depth = (uint32_t)count;
    g_slots[i].offset = g_frames_used;
    g_slots[i].id = (uint32_t)++g_stack_count;
    g_frames_used += (size_t)count;
    *is_new = 1;
    return g_slots[i].id;
}

void ma_stacks_reset(void) {
    if (g_slots) memset(g_slots, 0, g_slot_count * sizeof *g_slots);
    g_stack_count = 0;
    g_frames_used = 0;
}
