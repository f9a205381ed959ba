/* Loaded modules, from dl_iterate_phdr: path, load bias, build id and PT_LOAD segments, encoded
 * as one MA_REC_MODULES record. The symbolizer later maps every instruction pointer to
 * (module, address inside the file) with them. */
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The encoded record, rebuilt by each snapshot (callers hold the writer's modules lock). */
static uint8_t *g_record;
static size_t g_record_capacity;
static size_t g_record_used;

/* Executable ranges of the last snapshot, published as an immutable array so that the hot path
 * can read them under the writer lock without taking the loader's lock. Replaced arrays are
 * kept (they are small and replacement is rare), so a reader never sees freed memory. */
struct ma_range {
    uintptr_t start, end;
};
struct ma_range_set {
    size_t count;
    struct ma_range ranges[];
};
static struct ma_range_set *volatile g_ranges;
static struct ma_range *g_scratch_ranges;
static size_t g_scratch_capacity, g_scratch_count;

static unsigned long long g_adds = ~0ull, g_subs = ~0ull;
static char g_exe_path[4096];

static int ensure_record_space(size_t more) {
    if (g_record_used + more <= g_record_capacity) return 0;
    size_t capacity = g_record_capacity ? g_record_capacity : 64 * 1024;
    while (capacity < g_record_used + more) capacity *= 2;
    uint8_t *grown = ma_sys_grow(g_record, g_record_capacity, capacity);
    if (!grown) return -1;
    g_record = grown;
    g_record_capacity = capacity;
    return 0;
}

static void add_range(uintptr_t start, uintptr_t end) {
    if (g_scratch_count == g_scratch_capacity) {
        size_t capacity = g_scratch_capacity ? g_scratch_capacity * 2 : 256;
        struct ma_range *grown = ma_sys_grow(g_scratch_ranges, g_scratch_capacity * sizeof(struct ma_range),
                                             capacity * sizeof(struct ma_range));
        if (!grown) return;
        g_scratch_ranges = grown;
        g_scratch_capacity = capacity;
    }
    g_scratch_ranges[g_scratch_count].start = start;
    g_scratch_ranges[g_scratch_count].end = end;
    g_scratch_count++;
}

/* Finds the GNU build id note among the object's PT_NOTE segments. */
static const uint8_t *find_build_id(const struct dl_phdr_info *info, size_t *length) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *note = (const ElfW(Nhdr) *)p;
            const uint8_t *name = p + sizeof(ElfW(Nhdr));
            const uint8_t *desc = name + ((note->n_namesz + 3) & ~3u);
            const uint8_t *next = desc + ((note->n_descsz + 3) & ~3u);
            if (next > end) break;
            if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                *length = note->n_descsz;
                return desc;
            }
            p = next;
        }
    }
    *length = 0;
    return NULL;
}

static int encode_module(struct dl_phdr_info *info, size_t size, void *count) {
    (void)size;
    const char *path = info->dlpi_name;
    if (!path || !*path) path = g_exe_path;
    size_t path_length = strlen(path);
    size_t build_id_length;
    const uint8_t *build_id = find_build_id(info, &build_id_length);
    if (ensure_record_space(64 + path_length + build_id_length + (size_t)info->dlpi_phnum * 32) != 0) return 1;

    uint8_t *p = g_record + g_record_used;
    p = ma_put_uv(p, info->dlpi_addr);
    p = ma_put_str(p, path, path_length);
    p = ma_put_str(p, (const char *)build_id, build_id_length);
    int loads = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) loads += info->dlpi_phdr[i].p_type == PT_LOAD;
    p = ma_put_uv(p, (uint64_t)loads);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        p = ma_put_uv(p, ph->p_vaddr);
        p = ma_put_uv(p, ph->p_memsz);
        p = ma_put_uv(p, ph->p_flags & 7);
        if (ph->p_flags & PF_X) add_range(info->dlpi_addr + ph->p_vaddr, info->dlpi_addr + ph->p_vaddr + ph->p_memsz);
    }
    g_record_used = (size_t)(p - g_record);
    (*(uint64_t *)count)++;
    return 0;
}

static int read_counters(struct dl_phdr_info *info, size_t size, void *out) {
    unsigned long long *counters = out;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
        counters[0] = info->dlpi_adds;
        counters[1] = info->dlpi_subs;
    }
    return 1; /* the counters are the same in every entry: stop after the first */
}

int ma_modules_changed(void) {
    unsigned long long counters[2] = {0, 0};
    dl_iterate_phdr(read_counters, counters);
    /* Read without g_modules_lock (the flusher polls): atomic loads, as the stores are. */
    return counters[0] != __atomic_load_n(&g_adds, __ATOMIC_RELAXED) || counters[1] != __atomic_load_n(&g_subs, __ATOMIC_RELAXED);
}

static int compare_ranges(const void *a, const void *b) {
    const struct ma_range *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static void sort_ranges(struct ma_range *r, size_t n) {
    /* insertion sort: a few hundred ranges at most, and qsort may allocate */
    for (size_t i = 1; i < n; i++) {
        struct ma_range key = r[i];
        size_t j = i;
        while (j > 0 && compare_ranges(&r[j - 1], &key) > 0) {
            r[j] = r[j - 1];
            j--;
        }
        r[j] = key;
    }
}

size_t ma_modules_snapshot(const uint8_t **record) {
    if (!g_exe_path[0]) {
        ssize_t n = readlink("/proc/self/exe", g_exe_path, sizeof g_exe_path - 1);
        g_exe_path[n > 0 ? n : 0] = 0;
    }
    unsigned long long counters[2] = {0, 0};
    dl_iterate_phdr(read_counters, counters);
    __atomic_store_n(&g_adds, counters[0], __ATOMIC_RELAXED);
    __atomic_store_n(&g_subs, counters[1], __ATOMIC_RELAXED);

    /* Room for the tag and the count, filled in once the modules are known. */
    if (ensure_record_space(16) != 0) return 0;
    g_record_used = 16;
    g_scratch_count = 0;
    uint64_t count = 0;
    dl_iterate_phdr(encode_module, &count);

    uint8_t head[16];
    uint8_t *h = head;
    *h++ = MA_REC_MODULES;
    h = ma_put_uv(h, count);
    size_t head_length = (size_t)(h - head);
    size_t start = 16 - head_length;
    memcpy(g_record + start, head, head_length);

    sort_ranges(g_scratch_ranges, g_scratch_count);
    struct ma_range_set *set = ma_sys_alloc(sizeof(struct ma_range_set) + g_scratch_count * sizeof(struct ma_range));
    if (set) {
        set->count = g_scratch_count;
        memcpy(set->ranges, g_scratch_ranges, g_scratch_count * sizeof(struct ma_range));
        __atomic_store_n(&g_ranges, set, __ATOMIC_RELEASE);
    }
    *record = g_record + start;
    return g_record_used - start;
}

int ma_modules_contains(uintptr_t ip) {
    struct ma_range_set *set = __atomic_load_n(&g_ranges, __ATOMIC_ACQUIRE);
    if (!set) return 0;
    size_t lo = 0, hi = set->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (set->ranges[mid].end <= ip) lo = mid + 1;
        else hi = mid;
    }
    return lo < set->count && set->ranges[lo].start <= ip;
}

static int find_self(struct dl_phdr_info *info, size_t size, void *out) {
    (void)size;
    uintptr_t *range = out;
    uintptr_t probe = (uintptr_t)&find_self;
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

void ma_modules_self_range(uintptr_t *start, uintptr_t *end) {
    uintptr_t range[2] = {0, 0};
    dl_iterate_phdr(find_self, range);
    *start = range[0];
    *end = range[1];
}
