/* Page residency of the process's private anonymous writable memory, from /proc/self/maps and
 * mincore(), encoded as one MA_REC_RESIDENCY record: what lets a report split RSS into live heap,
 * allocator overhead and freed-but-still-resident heap without guessing. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

static char *g_maps;
static size_t g_maps_capacity;
static unsigned char *g_vector;
static size_t g_vector_capacity;
static uint8_t *g_record;
static size_t g_record_capacity;

static int ensure(void **buffer, size_t *capacity, size_t needed) {
    if (needed <= *capacity) return 0;
    size_t grown = *capacity ? *capacity : 64 * 1024;
    while (grown < needed) grown *= 2;
    void *p = ma_sys_grow(*buffer, *capacity, grown);
    if (!p) return -1;
    *buffer = p;
    *capacity = grown;
    return 0;
}

static uint64_t parse_hex(const char **s) {
    uint64_t v = 0;
    for (;; (*s)++) {
        char c = **s;
        if (c >= '0' && c <= '9') v = v * 16 + (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v = v * 16 + (uint64_t)(c - 'a' + 10);
        else return v;
    }
}

size_t ma_residency_snapshot(uint64_t time_ns, const uint8_t **record) {
    /* /proc/self/maps, whole (it can be long: grow until it fits). */
    ssize_t length;
    for (;;) {
        if (ensure((void **)&g_maps, &g_maps_capacity, g_maps_capacity ? g_maps_capacity : 256 * 1024) != 0) return 0;
        length = ma_read_small_file("/proc/self/maps", g_maps, g_maps_capacity);
        if (length < 0) return 0;
        if ((size_t)length + 1 < g_maps_capacity) break;
        if (ensure((void **)&g_maps, &g_maps_capacity, g_maps_capacity * 2) != 0) return 0;
    }
    long page = sysconf(_SC_PAGESIZE);
    if (ensure((void **)&g_record, &g_record_capacity, 64) != 0) return 0;
    size_t used = 24; /* room for the tag, the time and the region count */
    uint64_t regions = 0;
    /* /proc/self/maps comes in several reads when it is long: a mapping another thread grows or
     * merges between two reads is listed again from its start, over what was listed already.
     * Regions go out in address order without overlap: a line is cut to what is new. */
    uint64_t covered = 0;
    for (const char *line = g_maps; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        const char *s = line;
        uint64_t start = parse_hex(&s);
        s++;
        uint64_t stop = parse_hex(&s);
        s++;
        int writable_private = s[0] == 'r' && s[1] == 'w' && s[3] == 'p';
        /* skip perms, offset, device; read inode; then the path */
        const char *field = s;
        for (int k = 0; k < 3 && field < end; k++) {
            while (field < end && *field != ' ') field++;
            while (field < end && *field == ' ') field++;
        }
        int inode_zero = field < end && field[0] == '0' && (field[1] == ' ' || field + 1 == end);
        while (field < end && *field != ' ') field++;
        while (field < end && *field == ' ') field++;
        int is_heap = end - field == 6 && memcmp(field, "[heap]", 6) == 0;
        int anonymous = field == end;
        if (start < covered) start = covered < stop ? covered : stop;
        if (stop > covered) covered = stop;
        uint64_t bytes = stop - start;
        if (writable_private && inode_zero && (is_heap || anonymous) && bytes > 0 && bytes <= (16ull << 30)) {
            size_t pages = (size_t)(bytes / (uint64_t)page);
            if (ensure((void **)&g_vector, &g_vector_capacity, pages) == 0 &&
                mincore((void *)(uintptr_t)start, (size_t)bytes, g_vector) == 0) {
                /* Worst case: a run per page. */
                if (ensure((void **)&g_record, &g_record_capacity, used + 64 + pages * 10) != 0) return 0;
                uint8_t *p = g_record + used;
                p = ma_put_uv(p, start);
                p = ma_put_uv(p, bytes);
                p = ma_put_uv(p, is_heap ? MA_REGION_BRK_HEAP : MA_REGION_ANONYMOUS);
                /* Count runs first, then write them. */
                uint64_t runs = 0;
                int state = 0;
                for (size_t i = 0; i < pages; i++) {
                    int resident = g_vector[i] & 1;
                    if (resident != state) {
                        runs++;
                        state = resident;
                    }
                }
                runs++;
                p = ma_put_uv(p, runs);
                state = 0;
                uint64_t run = 0;
                for (size_t i = 0; i < pages; i++) {
                    int resident = g_vector[i] & 1;
                    if (resident != state) {
                        p = ma_put_uv(p, run);
                        run = 0;
                        state = resident;
                    }
                    run++;
                }
                p = ma_put_uv(p, run);
                used = (size_t)(p - g_record);
                regions++;
            }
        }
        line = *end ? end + 1 : end;
    }
    uint8_t head[24];
    uint8_t *h = head;
    *h++ = MA_REC_RESIDENCY;
    h = ma_put_uv(h, time_ns);
    h = ma_put_uv(h, regions);
    size_t head_length = (size_t)(h - head);
    memcpy(g_record + 24 - head_length, head, head_length);
    *record = g_record + 24 - head_length;
    return used - (24 - head_length);
}
