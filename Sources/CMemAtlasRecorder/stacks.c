/* Call stacks: captured with libunwind's unw_backtrace (loaded with dlopen, RTLD_LOCAL: the machine
 * has the library without headers) or by walking frame pointers, then deduplicated in-process so
 * that each distinct stack is written once and events carry its id. */
#include <dlfcn.h>
#include <link.h>
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

static uintptr_t g_libc_start, g_libc_end;
static int g_fast_path = 1;

static int find_libc(struct dl_phdr_info *info, size_t size, void *out) {
    (void)size;
    uintptr_t *range = out;
    uintptr_t probe = (uintptr_t)&getpid;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        if (probe >= start && probe < end) {
            range[0] = start;
            range[1] = end;
            return 1;
        }
    }
    return 0;
}

int ma_stacks_init(int requested, int max_depth) {
    if (max_depth > 0) g_max_depth = max_depth < MA_MAX_FRAMES - 8 ? max_depth : MA_MAX_FRAMES - 8;
    ma_modules_self_range(&g_self_start, &g_self_end);
    const char *fast = getenv("MEMATLAS_FAST_STACKS");
    g_fast_path = !(fast && fast[0] == '0');
    uintptr_t libc[2] = {0, 0};
    dl_iterate_phdr(find_libc, libc);
    g_libc_start = libc[0];
    g_libc_end = libc[1];
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

void ma_stacks_use_frame_pointers(void) {
    if (g_unwinder == MA_UNWIND_LIBUNWIND) g_unwinder = MA_UNWIND_FRAME_POINTERS;
}

/* Sets the calling thread's stack bounds; 0 when they cannot be known yet. */
static int find_stack_bounds(void) {
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    if (ma_gettid() == getpid()) {
        /* The main thread: pthread_getattr_np would read /proc/self/maps with malloc. */
        t_stack_high = (uintptr_t)__libc_stack_end;
    } else {
        /* Inside pthread_getattr_np (see hooks.c): asking again would deadlock; try at the next event. */
        if (ma_in_getattr) return 0;
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
    return 1;
}

/* The fingerprint: a hash whose multiplies are off the dependency chain (one rotate and xor a
 * frame, then one final mix), and a second hash made differently (sums of rotated products with
 * other constants, so a collision of one says nothing of the other), side by side, one step a
 * frame; the count is the last step. */
struct print_state {
    uint64_t h, g;
};
#define PRINT_START ((struct print_state){0x9e3779b97f4a7c15ull, 0xd6e8feb86659fd93ull})

static inline void print_step(struct print_state *s, uint64_t frame) {
    s->h = ((s->h << 7) | (s->h >> 57)) ^ (frame * 0xff51afd7ed558ccdull);
    s->g = ((s->g << 11) | (s->g >> 53)) + frame * 0x94d049bb133111ebull;
}

static inline struct ma_print print_finish(struct print_state s, int count) {
    print_step(&s, (uint64_t)count);
    uint64_t h = s.h, g = s.g;
    h ^= h >> 32;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    g ^= g >> 31;
    g *= 0xbf58476d1ce4e5b9ull;
    g ^= g >> 30;
    return (struct ma_print){.hash = h | 1 /* never 0: 0 marks an empty slot */, .check = (uint32_t)(g >> 32)};
}

static struct ma_print fingerprint(const uintptr_t *frames, int count) {
    struct print_state s = PRINT_START;
    for (int i = 0; i < count; i++) print_step(&s, frames[i]);
    return print_finish(s, count);
}

/* Whether a frame record may be read at `at`: 8-aligned and within [low, low + span] (this thread's
 * stack, 16 bytes short of its top). One compare: rotating at - low right by 3 moves a misaligned
 * remainder into the top bits, and an address under low wraps to a huge value, so both fail
 * <= span / 8 (low is 8-aligned). At every frame, and the walk is most of a capture. */
static inline int frame_record_ok(uintptr_t at, uintptr_t low, uintptr_t span8) {
    uintptr_t offset = at - low;
    return ((offset >> 3) | (offset << 61)) <= span8;
}

/* Walks the frame-pointer chain from the frame record at `start` (a frame of the recorder, or of
 * its caller), leaving out the recorder's own frames at the top (kept in place, not moved
 * afterwards: this runs at every event); *last is the address of the last frame record read
 * (where the chain ended), which pins where on the stack the walk stopped. A frame record is read
 * only when it lies within this thread's stack, 8-aligned, and above the previous one; a return
 * address under 4096 ends the chain. *print has the frames fingerprinted (print_step), the count
 * not yet. Inlined into its two callers: a call and its frame cost as much as two frames. */
static inline __attribute__((always_inline)) int walk_frame_pointers(const void *start, uintptr_t *frames, int max,
                                                                     uintptr_t *last, struct print_state *print) {
    struct print_state s = PRINT_START;
    uintptr_t read = 0;
    int n = 0;
    if (MA_UNLIKELY(!t_stack_high) && !find_stack_bounds()) goto done;
    const uintptr_t low = t_stack_low, span8 = (t_stack_high - 16 - t_stack_low) >> 3;
    const uintptr_t self_start = g_self_start, self_size = g_self_end - g_self_start;
    uintptr_t at = (uintptr_t)start;
    if (!frame_record_ok(at, low, span8)) goto done;
    uintptr_t ret = ((const uintptr_t *)at)[1];
    /* The recorder's own frames. */
    while (ret - self_start < self_size) {
        read = at;
        uintptr_t next = ((const uintptr_t *)at)[0];
        if (next <= at || !frame_record_ok(next, low, span8)) goto done;
        at = next;
        ret = ((const uintptr_t *)at)[1];
    }
    if (ret < 4096) goto done;
    /* The program's frames, from the first one outside the recorder: at is always the record of
     * the last frame taken. */
    for (;;) {
        frames[n++] = ret;
        print_step(&s, ret);
        if (n == max) break;
        uintptr_t next = ((const uintptr_t *)at)[0];
        if (next <= at || !frame_record_ok(next, low, span8)) break;
        ret = ((const uintptr_t *)next)[1];
        if (ret < 4096) break;
        at = next;
    }
    read = at;
done:
    *last = read;
    *print = s;
    return n;
}

static int skip_own_frames(uintptr_t *frames, int n) {
    int skip = 0;
    while (skip < n && frames[skip] >= g_self_start && frames[skip] < g_self_end) skip++;
    n -= skip;
    if (n > g_max_depth) n = g_max_depth;
    if (skip) memmove(frames, frames + skip, (size_t)n * sizeof *frames);
    return n;
}

__attribute__((noinline)) int ma_capture_stack(uintptr_t *frames) {
    int n;
    int want = g_max_depth + 8;
    uintptr_t last;
    struct print_state unused;
    if (g_unwinder == MA_UNWIND_LIBUNWIND) n = g_unw_backtrace((void **)frames, want);
    else if (g_unwinder == MA_UNWIND_FRAME_POINTERS)
        n = walk_frame_pointers(__builtin_frame_address(0), frames, want, &last, &unused);
    else return 0;
    if (n < 0) n = 0;
    return skip_own_frames(frames, n);
}

/* ---- The frame-pointer fast path of the libunwind unwinder ----
 * libunwind costs about 10 ns a frame; walking frame pointers about 1. For a key made of the
 * frame-pointer walk (return addresses, then the address where the chain ended), the first capture
 * also runs libunwind and compares: when the walk agrees with libunwind frame for frame, and what
 * libunwind found beyond the chain's end is only the C runtime's start code (main's and threads'
 * callers in libc), the key is remembered with the stack id, and later captures with the same key
 * skip libunwind. A walk that disagrees (code without frame pointers, signal frames) is remembered
 * as such, and those captures always use libunwind. With the frame-pointer unwinder the walk is the
 * stack, and the table maps each key to its stack id all the same: a stack seen before is found
 * without fingerprinting its frames a second time. */
static struct ma_key_table g_fast_table;

int ma_capture_key(const void *frame, uintptr_t *key, struct ma_print *print) {
    if (g_unwinder == MA_UNWIND_NONE || !g_fast_path) return 0;
    uintptr_t last;
    struct print_state s;
    int n = walk_frame_pointers(frame, key, g_max_depth, &last, &s);
    if (n <= 0) return 0;
    key[n] = last;
    print_step(&s, last);
    *print = print_finish(s, n + 1);
    /* The key's slot, which ma_fast_lookup reads next: with many call paths the table is MiBs. */
    if (g_fast_table.slot_count) __builtin_prefetch(&g_fast_table.slots[print->hash & (g_fast_table.slot_count - 1)]);
    return n + 1;
}

uint32_t ma_fast_lookup(struct ma_print print, int *known) {
    uint32_t value;
    *known = ma_keys_find(&g_fast_table, print, &value);
    return *known ? value : 0;
}

void ma_fast_remember(const uintptr_t *key, int length, struct ma_print print, const uintptr_t *frames, int depth,
                      uint32_t stack) {
    int walked = length - 1;
    int reliable = walked <= depth && memcmp(key, frames, (size_t)walked * sizeof *frames) == 0 && depth - walked <= 3;
    if (reliable && depth == g_max_depth && walked < depth) reliable = 0;
    for (int i = walked; reliable && i < depth; i++) {
        int outermost = i == depth - 1;
        if (!(frames[i] >= g_libc_start && frames[i] < g_libc_end) && !outermost) reliable = 0;
    }
    ma_keys_insert(&g_fast_table, print, reliable ? stack : 0);
}

/* ---- Frame-sequence tables: 96-bit fingerprints, no frames ----
 * The stack table maps each distinct stack to its id (1, 2, ...); the fast-path table maps a
 * frame-pointer key to a stack id (or 0). Both are used under the writer lock, and both are
 * looked up at every event: with many call paths they fill several MiB, and a lookup that also
 * compared stored frames missed the cache twice. So a table keeps only a fingerprint of each
 * sequence, a 64-bit hash and a second, independently computed 32-bit one, in 16-byte slots
 * (four to a cache line), open addressing. Two sequences that differ collide only with
 * probability about n^2 / 2^97 for n distinct ones (under 10^-17 for a million). */

static int grow_keys(struct ma_key_table *t) {
    size_t count = t->slot_count ? t->slot_count * 2 : 1 << 14;
    struct ma_key_slot *slots = ma_sys_alloc(count * sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < t->slot_count; i++) {
        if (!t->slots[i].hash) continue;
        size_t j = t->slots[i].hash & (count - 1);
        while (slots[j].hash) j = (j + 1) & (count - 1);
        slots[j] = t->slots[i];
    }
    ma_sys_release(t->slots, t->slot_count * sizeof *t->slots);
    t->slots = slots;
    t->slot_count = count;
    return 0;
}

int ma_keys_find(struct ma_key_table *t, struct ma_print print, uint32_t *value) {
    if (!t->slot_count) return 0;
    size_t mask = t->slot_count - 1;
    for (size_t i = print.hash & mask; t->slots[i].hash; i = (i + 1) & mask) {
        if (t->slots[i].hash == print.hash && t->slots[i].check == print.check) {
            *value = t->slots[i].value;
            return 1;
        }
    }
    return 0;
}

int ma_keys_insert(struct ma_key_table *t, struct ma_print print, uint32_t value) {
    if ((t->used + 1) * 2 >= t->slot_count && grow_keys(t) != 0) return -1;
    size_t mask = t->slot_count - 1;
    size_t i = print.hash & mask;
    while (t->slots[i].hash) i = (i + 1) & mask;
    t->slots[i] = (struct ma_key_slot){.hash = print.hash, .check = print.check, .value = value};
    t->used++;
    return 0;
}

void ma_keys_reset(struct ma_key_table *t) {
    if (t->slots) memset(t->slots, 0, t->slot_count * sizeof *t->slots);
    t->used = 0;
}

static struct ma_key_table g_stack_table;

uint32_t ma_intern_stack(const uintptr_t *frames, int count, int *is_new) {
    *is_new = 0;
    if (count <= 0) return 0;
    uint32_t id;
    struct ma_print print = fingerprint(frames, count);
    if (ma_keys_find(&g_stack_table, print, &id)) return id;
    id = (uint32_t)g_stack_table.used + 1;
    if (ma_keys_insert(&g_stack_table, print, id) != 0) return 0;
    *is_new = 1;
    return id;
}

void ma_stacks_reset(void) {
    ma_keys_reset(&g_stack_table);
    ma_keys_reset(&g_fast_table);
}
