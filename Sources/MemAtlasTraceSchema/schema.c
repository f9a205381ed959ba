// The column coding of a record stream (schema: "Column blocks"): `mematlas record` codes the
// started program's raw trace with it (ma_column_encode), and the reader turns it back into the
// raw records (ma_column_decode). Both sides keep the same model of the heap (struct model): the
// encoder codes each field against it, the decoder reads the field back from it, and both then
// update it in the same way from the decoded values only.
#include "mematlas_trace_schema.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- Reading raw records ----------------------------------------------------------------- */

struct cursor {
    const uint8_t *p, *end;
    int cut; /* the record goes on past the input */
    int bad; /* a malformed field */
};

static uint64_t get_uv(struct cursor *c) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (c->p >= c->end) {
            c->cut = 1;
            return 0;
        }
        uint8_t byte = *c->p++;
        if (shift < 64) v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) return v;
    }
    c->bad = 1;
    return 0;
}

static uint64_t get_u64(struct cursor *c) {
    if (c->end - c->p < 8) {
        c->cut = 1;
        return 0;
    }
    uint64_t v;
    memcpy(&v, c->p, 8); /* little-endian hosts only, as the recorder */
    c->p += 8;
    return v;
}

static void skip_uvs(struct cursor *c, uint64_t count) {
    for (uint64_t i = 0; i < count && !c->cut && !c->bad; i++) get_uv(c);
}

static void skip_str(struct cursor *c) {
    uint64_t length = get_uv(c);
    if (c->cut || c->bad) return;
    if (length > (uint64_t)(c->end - c->p)) c->cut = 1;
    else c->p += length;
}

/* Moves the cursor past a metadata record (the tag read already); 0 for a tag that is none. */
static int skip_metadata(struct cursor *c, uint8_t tag) {
    switch (tag) {
    case MA_REC_PROCESS:
        skip_uvs(c, 8);
        skip_str(c);
        skip_str(c);
        return 1;
    case MA_REC_MODULES: {
        uint64_t modules = get_uv(c);
        for (uint64_t m = 0; m < modules && !c->cut && !c->bad; m++) {
            get_uv(c);
            skip_str(c);
            skip_str(c);
            uint64_t segments = get_uv(c);
            for (uint64_t s = 0; s < segments && !c->cut && !c->bad; s++) skip_uvs(c, 3);
        }
        return 1;
    }
    case MA_REC_STACK: skip_uvs(c, get_uv(c)); return 1;
    case MA_REC_THREAD: skip_uvs(c, 1); return 1;
    case MA_REC_TICK: case MA_REC_EXIT: skip_uvs(c, 2); return 1;
    case MA_REC_THREAD_NAME: skip_uvs(c, 1); skip_str(c); return 1;
    case MA_REC_EXEC: skip_str(c); return 1;
    case MA_REC_RESIDENCY: {
        get_uv(c);
        uint64_t regions = get_uv(c);
        for (uint64_t r = 0; r < regions && !c->cut && !c->bad; r++) {
            skip_uvs(c, 3);
            skip_uvs(c, get_uv(c));
        }
        return 1;
    }
    default: return 0;
    }
}

/* The event kinds that carry a stack, in op order (schema: op), and MA_REC_FREE / MUNMAP. */
static const uint8_t stacked_tags[MA_OP_STACKED_KINDS] = {
    MA_REC_MALLOC, MA_REC_CALLOC, MA_REC_REALLOC, MA_REC_REALLOCARRAY, MA_REC_POSIX_MEMALIGN,
    MA_REC_ALIGNED_ALLOC, MA_REC_MEMALIGN, MA_REC_VALLOC, MA_REC_PVALLOC, MA_REC_MMAP, MA_REC_MREMAP,
};

static int stacked_kind(uint8_t tag) {
    for (int k = 0; k < MA_OP_STACKED_KINDS; k++)
        if (stacked_tags[k] == tag) return k;
    return -1;
}

/* One event's fields, as the raw record has them (the stack as its zigzag delta). */
struct raw_event {
    uint8_t tag;
    uint64_t size, alignment, old_size, prot, flags, stack_delta, old_address, address;
};


static int is_realloc(uint8_t tag) { return tag == MA_REC_REALLOC || tag == MA_REC_REALLOCARRAY; }

static int has_alignment(uint8_t tag) {
    return tag == MA_REC_POSIX_MEMALIGN || tag == MA_REC_ALIGNED_ALLOC || tag == MA_REC_MEMALIGN;
}

/* Reads an event record's fields (after its tag), in the schema's order. */
static void read_event(struct cursor *c, struct raw_event *e) {
    switch (e->tag) {
    case MA_REC_FREE: e->address = get_u64(c); break;
    case MA_REC_MUNMAP: e->old_address = get_u64(c); e->size = get_uv(c); break;
    case MA_REC_MMAP:
        e->size = get_uv(c);
        e->prot = get_uv(c);
        e->flags = get_uv(c);
        e->stack_delta = get_uv(c);
        e->address = get_u64(c);
        break;
    case MA_REC_MREMAP:
        e->old_address = get_u64(c);
        e->old_size = get_uv(c);
        e->size = get_uv(c);
        e->stack_delta = get_uv(c);
        e->address = get_u64(c);
        break;
    default:
        if (is_realloc(e->tag)) e->old_address = get_u64(c);
        e->size = get_uv(c);
        if (has_alignment(e->tag)) e->alignment = get_uv(c);
        e->stack_delta = get_uv(c);
        e->address = get_u64(c);
        break;
    }
}

static inline uint8_t *put_u64(uint8_t *p, uint64_t v) {
    memcpy(p, &v, 8);
    return p + 8;
}

/* ---- The model both sides keep ----------------------------------------------------------- */

#define RECENT 8          /* recent live blocks, recent stacks (the freed symbols and stack codes below 8) */
#define CLASS_LIST 16     /* free blocks kept per size class (the returned symbols below 16) */
#define CLASSES 4097      /* size classes with lists: chunk sizes up to 64 KiB, by 16 */
#define STACK_SIZES 4     /* sizes kept per stack */
_Static_assert(RECENT == MA_FREED_BY_ID && RECENT == MA_STACK_NEWEST && CLASS_LIST == MA_RETURNED_NULL,
               "the lists' lengths are the schema's first codes after them");
_Static_assert((RECENT & (RECENT - 1)) == 0 && (CLASS_LIST & (CLASS_LIST - 1)) == 0, "rings of 2^n entries");

/* glibc's chunk size for a request (64-bit): what a freed block can be reused for. */
static inline uint64_t chunk_size(uint64_t size) {
    uint64_t chunk = (size + 8 + 15) & ~(uint64_t)15; /* wraps for sizes no allocator gives */
    return chunk < 32 ? 32 : chunk;
}

static inline uint32_t class_of(uint64_t size) {
    if (size >= CLASSES * 16 - 23) return CLASSES; /* no list */
    uint32_t class = (uint32_t)(size + 23) >> 4;
    return class < 2 ? 2 : class;
}

/* A short list of 2^n entries, newest first, kept as a ring so that nothing moves: a new entry
 * goes in front (the last drops off), and one that is used or taken trades places with the front
 * one. (Shifting the entries before it instead, a true move-to-front, codes 0.9% smaller but costs
 * the decoder a mispredicted loop per list operation.) Entry i is e[(head + i) & mask]; 0 = empty. */
struct ring {
    uint64_t *e;
    unsigned head, mask;
};

static inline uint64_t ring_at(struct ring r, int i) { return r.e[(r.head + (unsigned)i) & r.mask]; }

/* The index of v among the first n entries, or -1. */
static inline int ring_find(struct ring r, int n, uint64_t v) {
    for (int i = 0; i < n; i++)
        if (ring_at(r, i) == v) return i;
    return -1;
}

/* Entry k (whose value is v) goes in front, and the front entry takes place k. */
static inline void ring_promote(struct ring r, int k, uint64_t v) {
    r.e[(r.head + (unsigned)k) & r.mask] = r.e[r.head & r.mask];
    r.e[r.head & r.mask] = v;
}

/* v goes in front; returns the new head and the entry that dropped off the end. */
static inline unsigned ring_push(struct ring r, uint64_t v, uint64_t *dropped) {
    unsigned head = (r.head - 1) & r.mask;
    *dropped = r.e[head];
    r.e[head] = v;
    return head;
}

/* Takes entry k out (the front entry takes its place, and the list is one shorter at the front:
 * entry i + 1 becomes entry i, the last place empty); returns the new head. */
static inline unsigned ring_take(struct ring r, int k) {
    r.e[(r.head + (unsigned)k) & r.mask] = r.e[r.head & r.mask];
    r.e[r.head & r.mask] = 0;
    return (r.head + 1) & r.mask;
}

struct model {
    /* Live heap blocks by id: ids are reused last-freed first, so they stay small. */
    uint64_t *block_address; /* 0 = the id is free */
    uint64_t *block_size;
    uint32_t id_count, id_capacity;
    uint32_t *free_ids;
    uint32_t free_id_count;
    uint64_t recent[RECENT]; /* ring: id + 1 of the live blocks allocated last, most recent first */
    unsigned recent_head;
    /* Free blocks per size class, rings of addresses, most recently freed first. */
    uint64_t (*class_lists)[CLASS_LIST];
    uint8_t *class_heads;
    uint64_t last_end; /* end of the chunk returned last */
    uint64_t stacks_recent[RECENT]; /* ring of stack ids, most recent first */
    unsigned stacks_head, stacks_count;
    uint64_t stacks_defined;   /* MA_REC_STACK records so far */
    uint64_t previous_stack;   /* the raw stream's stk base */
    uint64_t (*stack_sizes)[STACK_SIZES]; /* [0] for stacks out of range; then by id */
    uint64_t stack_sizes_capacity;
};

static int model_init(struct model *m) {
    memset(m, 0, sizeof *m);
    m->class_lists = calloc(CLASSES, sizeof *m->class_lists);
    m->class_heads = calloc(CLASSES, 1);
    m->stack_sizes_capacity = 1024;
    m->stack_sizes = calloc(m->stack_sizes_capacity, sizeof *m->stack_sizes);
    return m->class_lists && m->class_heads && m->stack_sizes;
}

static void model_free(struct model *m) {
    free(m->block_address);
    free(m->block_size);
    free(m->free_ids);
    free(m->class_lists);
    free(m->class_heads);
    free(m->stack_sizes);
}

static int model_stack_defined(struct model *m) {
    m->stacks_defined++;
    if (m->stacks_defined < m->stack_sizes_capacity) return 1;
    uint64_t capacity = m->stack_sizes_capacity * 2;
    void *grown = realloc(m->stack_sizes, capacity * sizeof *m->stack_sizes);
    if (!grown) return 0;
    m->stack_sizes = grown;
    memset(m->stack_sizes + m->stack_sizes_capacity, 0, (capacity - m->stack_sizes_capacity) * sizeof *m->stack_sizes);
    m->stack_sizes_capacity = capacity;
    return 1;
}

static inline struct ring recent_ring(struct model *m) { return (struct ring){m->recent, m->recent_head, RECENT - 1}; }
static inline struct ring stacks_ring(struct model *m) { return (struct ring){m->stacks_recent, m->stacks_head, RECENT - 1}; }
static inline struct ring class_ring(struct model *m, uint32_t class) {
    return (struct ring){m->class_lists[class], m->class_heads[class], CLASS_LIST - 1};
}

static inline void recent_push(struct model *m, uint32_t id) {
    uint64_t dropped;
    m->recent_head = ring_push(recent_ring(m), (uint64_t)id + 1, &dropped);
}

/* The place of id among the blocks allocated last, or -1. */
static inline int recent_find(struct model *m, uint32_t id) { return ring_find(recent_ring(m), RECENT, (uint64_t)id + 1); }

/* The id at place k, or -1 when that place is empty; it leaves the list. */
static inline int64_t recent_take(struct model *m, int k) {
    uint64_t entry = ring_at(recent_ring(m), k);
    if (entry == 0) return -1;
    m->recent_head = ring_take(recent_ring(m), k);
    return (int64_t)entry - 1;
}

/* Puts a stack id in front of the recent stacks: from place k, or new with k = -1. */
static inline void stacks_promote(struct model *m, int k, uint64_t id) {
    if (k >= 0) {
        ring_promote(stacks_ring(m), k, id);
    } else {
        uint64_t dropped;
        m->stacks_head = ring_push(stacks_ring(m), id, &dropped);
        if (m->stacks_count < RECENT) m->stacks_count++;
    }
}

/* A new live block; returns its id, or -1 when memory runs out. */
static int64_t block_add(struct model *m, uint64_t address, uint64_t size) {
    uint32_t id;
    if (m->free_id_count > 0) {
        id = m->free_ids[--m->free_id_count];
    } else {
        if (m->id_count == m->id_capacity) {
            if (m->id_capacity >= 1u << 31) return -1;
            uint32_t capacity = m->id_capacity ? m->id_capacity * 2 : 4096;
            uint64_t *addresses = realloc(m->block_address, capacity * sizeof *addresses);
            if (!addresses) return -1;
            m->block_address = addresses;
            uint64_t *sizes = realloc(m->block_size, capacity * sizeof *sizes);
            if (!sizes) return -1;
            m->block_size = sizes;
            uint32_t *free_ids = realloc(m->free_ids, capacity * sizeof *free_ids);
            if (!free_ids) return -1;
            m->free_ids = free_ids;
            m->id_capacity = capacity;
        }
        id = m->id_count++;
    }
    m->block_address[id] = address;
    m->block_size[id] = size;
    recent_push(m, id);
    return id;
}

/* The block with this id is freed: its id is free again and its address heads its class's list.
 * Returns the address the list dropped (0 for none). */
static uint64_t block_release(struct model *m, uint32_t id) {
    uint64_t address = m->block_address[id], dropped = 0;
    uint32_t class = class_of(m->block_size[id]);
    m->block_address[id] = 0;
    m->free_ids[m->free_id_count++] = id;
    if (class < CLASSES) m->class_heads[class] = (uint8_t)ring_push(class_ring(m, class), address, &dropped);
    return dropped;
}

/* Takes entry k out of a class list (a free block being returned). */
static inline void class_take(struct model *m, uint32_t class, int k) {
    m->class_heads[class] = (uint8_t)ring_take(class_ring(m, class), k);
}

static inline int find_u64(const uint64_t *list, int count, uint64_t v) {
    for (int i = 0; i < count; i++)
        if (list[i] == v) return i;
    return -1;
}

static uint64_t *sizes_of_stack(struct model *m, uint64_t stack) {
    return m->stack_sizes[stack >= 1 && stack <= m->stacks_defined ? stack : 0];
}

/* ---- Growable columns -------------------------------------------------------------------- */

struct column {
    uint8_t *bytes;
    size_t size, capacity;
};

static int column_reserve(struct column *c, size_t more) {
    if (c->capacity - c->size >= more) return 1;
    size_t capacity = c->capacity ? c->capacity : 4096;
    while (capacity - c->size < more) capacity *= 2;
    uint8_t *grown = realloc(c->bytes, capacity);
    if (!grown) return 0;
    c->bytes = grown;
    c->capacity = capacity;
    return 1;
}

static inline void col_byte(struct column *c, uint8_t v) { c->bytes[c->size++] = v; }
static inline void col_uv(struct column *c, uint64_t v) { c->size = (size_t)(ma_put_uv(c->bytes + c->size, v) - c->bytes); }

/* ---- Address maps of the encoder (open addressing, linear probing; key 0 = empty) ---------- */

struct address_map {
    uint64_t *keys;
    uint32_t *values;
    uint64_t mask, count;
};

static inline uint64_t map_slot(const struct address_map *map, uint64_t key) {
    return (key * 0x9E3779B97F4A7C15ull >> 20) & map->mask;
}

static int map_init(struct address_map *map, uint64_t capacity) {
    map->keys = calloc(capacity, sizeof *map->keys);
    map->values = calloc(capacity, sizeof *map->values);
    map->mask = capacity - 1;
    map->count = 0;
    return map->keys && map->values;
}

static void map_free(struct address_map *map) {
    free(map->keys);
    free(map->values);
}

/* The slot of key, or -1. */
static inline int64_t map_find(const struct address_map *map, uint64_t key) {
    for (uint64_t i = map_slot(map, key);; i = (i + 1) & map->mask) {
        if (map->keys[i] == key) return (int64_t)i;
        if (map->keys[i] == 0) return -1;
    }
}

static int map_put(struct address_map *map, uint64_t key, uint32_t value);

static int map_grow(struct address_map *map) {
    struct address_map old = *map;
    if (!map_init(map, (old.mask + 1) * 2)) {
        map_free(map);
        *map = old;
        return 0;
    }
    for (uint64_t i = 0; i <= old.mask; i++)
        if (old.keys[i]) map_put(map, old.keys[i], old.values[i]);
    map_free(&old);
    return 1;
}

static int map_put(struct address_map *map, uint64_t key, uint32_t value) {
    if ((map->count + 1) * 2 > map->mask + 1 && !map_grow(map)) return 0;
    uint64_t i = map_slot(map, key);
    while (map->keys[i] != 0 && map->keys[i] != key) i = (i + 1) & map->mask;
    if (map->keys[i] == 0) map->count++;
    map->keys[i] = key;
    map->values[i] = value;
    return 1;
}

/* Deletes key (if present), shifting back the entries after it that probed past its slot. */
static void map_delete(struct address_map *map, uint64_t key) {
    uint64_t i = map_slot(map, key);
    while (map->keys[i] != key) {
        if (map->keys[i] == 0) return;
        i = (i + 1) & map->mask;
    }
    map->count--;
    for (uint64_t j = (i + 1) & map->mask; map->keys[j] != 0; j = (j + 1) & map->mask) {
        uint64_t home = map_slot(map, map->keys[j]);
        /* The entry at j may move to the hole at i if its home is not in (i, j]. */
        if (((j - home) & map->mask) >= ((j - i) & map->mask)) {
            map->keys[i] = map->keys[j];
            map->values[i] = map->values[j];
            i = j;
        }
    }
    map->keys[i] = 0;
}

/* ---- Encoder ----------------------------------------------------------------------------- */

/* A value of the encoder's block map with this bit: a free block in a class list, the class in
 * the other bits; without it: a live block's id. */
#define LISTED 0x80000000u

struct ma_column_encoder {
    struct model model;
    /* address -> what the model holds there: a live heap block (its id) or a free block in a class
     * list (LISTED | class). One entry a block: a free or an allocation updates it in place. */
    struct address_map blocks;
    struct column columns[MA_COLUMNS];
    size_t block_raw_bytes;
};

struct ma_column_encoder *ma_column_encoder_create(void) {
    struct ma_column_encoder *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    if (!model_init(&e->model) || !map_init(&e->blocks, 1 << 12)) {
        ma_column_encoder_destroy(e);
        return NULL;
    }
    return e;
}

void ma_column_encoder_destroy(struct ma_column_encoder *e) {
    if (!e) return;
    model_free(&e->model);
    map_free(&e->blocks);
    for (int i = 0; i < MA_COLUMNS; i++) free(e->columns[i].bytes);
    free(e);
}

size_t ma_column_encoder_block(const struct ma_column_encoder *e, const uint8_t *columns[MA_COLUMNS], size_t sizes[MA_COLUMNS]) {
    for (int i = 0; i < MA_COLUMNS; i++) {
        columns[i] = e->columns[i].bytes;
        sizes[i] = e->columns[i].size;
    }
    return e->block_raw_bytes;
}

size_t ma_column_encoder_raw_bytes(const struct ma_column_encoder *e) { return e->block_raw_bytes; }

void ma_column_encoder_next_block(struct ma_column_encoder *e) {
    for (int i = 0; i < MA_COLUMNS; i++) e->columns[i].size = 0;
    e->block_raw_bytes = 0;
}

/* Codes a released heap address (free's block, realloc's old one): its symbol (MA_FREED_*),
 * with its id in the ID columns or the address in MISC. Sets *id to the live block's id and *slot
 * to its map slot, or both to -1. */
static uint8_t encode_freed(struct ma_column_encoder *e, uint64_t address, int64_t *id, int64_t *slot) {
    *id = *slot = -1;
    if (address == 0) return MA_FREED_NULL;
    int64_t found = map_find(&e->blocks, address);
    if (found < 0 || e->blocks.values[found] & LISTED) {
        col_uv(&e->columns[MA_COL_MISC], address);
        return MA_FREED_UNKNOWN;
    }
    uint32_t block = e->blocks.values[found];
    *id = block;
    *slot = found;
    struct model *m = &e->model;
    int k = recent_find(m, block);
    if (k >= 0) {
        recent_take(m, k);
        return (uint8_t)k;
    }
    col_uv(&e->columns[MA_COL_ID_HIGH], block >> 8);
    col_byte(&e->columns[MA_COL_ID_LOW], (uint8_t)block);
    return MA_FREED_BY_ID;
}

/* The live block `id` (at map slot `slot`) is freed. */
static void encode_release(struct ma_column_encoder *e, uint32_t id, int64_t slot) {
    uint32_t class = class_of(e->model.block_size[id]);
    uint64_t dropped = block_release(&e->model, id);
    if (class < CLASSES) e->blocks.values[slot] = LISTED | class;
    else map_delete(&e->blocks, e->blocks.keys[slot]);
    if (dropped) map_delete(&e->blocks, dropped); /* after the slot's update: deleting moves entries */
}

/* Codes a returned heap address against the free blocks (MA_RETURNED_*) and adds the block. */
static int encode_returned(struct ma_column_encoder *e, uint64_t address, uint64_t size) {
    struct model *m = &e->model;
    struct column *returned = &e->columns[MA_COL_RETURNED];
    if (address == 0) {
        col_byte(returned, MA_RETURNED_NULL);
        return 1;
    }
    uint32_t class = class_of(size);
    int64_t slot = map_find(&e->blocks, address);
    if (slot >= 0 && e->blocks.values[slot] & LISTED) {
        uint32_t listed = e->blocks.values[slot] & ~LISTED;
        int k = ring_find(class_ring(m, listed), CLASS_LIST, address);
        if (listed == class) {
            col_byte(returned, (uint8_t)k);
        } else {
            col_byte(returned, MA_RETURNED_OTHER_CLASS);
            col_uv(&e->columns[MA_COL_CLASS], ma_zigzag((int64_t)listed - (int64_t)class));
            col_byte(&e->columns[MA_COL_CLASS_INDEX], (uint8_t)k);
        }
        class_take(m, listed, k);
    } else {
        int64_t delta = (int64_t)(address - m->last_end);
        col_byte(returned, MA_RETURNED_DELTA);
        col_uv(&e->columns[MA_COL_DELTA], (delta & 15) == 0 ? ma_zigzag(delta / 16) << 1 : ma_zigzag(delta) << 1 | 1);
    }
    m->last_end = address + chunk_size(size);
    int64_t id = block_add(m, address, size);
    if (id < 0) return 0;
    /* An address returned while it is live (a free the recorder did not see): the older block's
     * id stays taken, unreachable. */
    if (slot >= 0) e->blocks.values[slot] = (uint32_t)id;
    else if (!map_put(&e->blocks, address, (uint32_t)id)) return 0;
    return 1;
}

/* Codes a stack field: returns its MA_STACK_* code (MISC holds the delta when explicit). */
static uint8_t encode_stack(struct ma_column_encoder *e, uint64_t delta, uint64_t *stack) {
    struct model *m = &e->model;
    uint64_t id = m->previous_stack + (uint64_t)((delta >> 1) ^ -(delta & 1)); /* un-zigzag */
    *stack = id;
    int k = ring_find(stacks_ring(m), (int)m->stacks_count, id);
    uint8_t code;
    if (k >= 0) {
        code = (uint8_t)k;
    } else if (id != 0 && id == m->stacks_defined) {
        code = MA_STACK_NEWEST;
    } else {
        code = MA_STACK_EXPLICIT;
        col_uv(&e->columns[MA_COL_MISC], delta);
    }
    stacks_promote(m, k, id);
    m->previous_stack = id;
    return code;
}

/* Codes a heap size against the sizes its stack asked for last (MA_SIZE_*). */
static inline void code_size_update(uint64_t *sizes, int k, uint64_t size) {
    /* Entries before k move back one place, without branches (k is as random as the sizes). */
    unsigned last = k < 0 ? STACK_SIZES - 1 : (unsigned)k;
    uint64_t s0 = sizes[0], s1 = sizes[1], s2 = sizes[2];
    sizes[3] = last >= 3 ? s2 : sizes[3];
    sizes[2] = last >= 2 ? s1 : s2;
    sizes[1] = last >= 1 ? s0 : s1;
    sizes[0] = size;
}
_Static_assert(STACK_SIZES == 4, "code_size_update moves 4 entries");

static void encode_size(struct ma_column_encoder *e, uint64_t stack, uint64_t size) {
    uint64_t *sizes = sizes_of_stack(&e->model, stack);
    int k = find_u64(sizes, STACK_SIZES, size);
    struct column *column = &e->columns[MA_COL_SIZE];
    if (k >= 0) {
        col_byte(column, (uint8_t)k);
    } else {
        int64_t delta = (int64_t)(size - sizes[0]);
        uint64_t step = ma_zigzag(delta / 8);
        if ((delta & 7) == 0 && step <= 255 - MA_SIZE_DELTA) {
            col_byte(column, (uint8_t)(MA_SIZE_DELTA + step));
        } else {
            col_byte(column, MA_SIZE_RAW);
            col_uv(&e->columns[MA_COL_SIZE_RAW], size);
        }
    }
    code_size_update(sizes, k, size);
}

static int encode_event(struct ma_column_encoder *e, const struct raw_event *ev) {
    struct column *misc = &e->columns[MA_COL_MISC];
    struct column *op = &e->columns[MA_COL_OP];
    if (ev->tag == MA_REC_FREE) {
        int64_t id, slot;
        col_byte(op, encode_freed(e, ev->address, &id, &slot));
        if (id >= 0) encode_release(e, (uint32_t)id, slot);
        return 1;
    }
    if (ev->tag == MA_REC_MUNMAP) {
        col_byte(op, MA_OP_MUNMAP);
        col_uv(misc, ev->old_address);
        col_uv(misc, ev->size);
        return 1;
    }
    size_t op_at = op->size++;
    uint64_t stack;
    uint8_t stack_code;
    if (ev->tag == MA_REC_MMAP || ev->tag == MA_REC_MREMAP) {
        if (ev->tag == MA_REC_MREMAP) {
            col_uv(misc, ev->old_address);
            col_uv(misc, ev->old_size);
        } else {
            col_uv(misc, ev->prot);
            col_uv(misc, ev->flags);
        }
        col_uv(misc, ev->size);
        stack_code = encode_stack(e, ev->stack_delta, &stack);
        col_uv(misc, ev->address);
    } else {
        if (has_alignment(ev->tag)) col_uv(misc, ev->alignment);
        stack_code = encode_stack(e, ev->stack_delta, &stack);
        encode_size(e, stack, ev->size);
        if (is_realloc(ev->tag)) {
            int64_t id, slot;
            uint8_t freed = encode_freed(e, ev->old_address, &id, &slot);
            col_byte(&e->columns[MA_COL_FREED], freed);
            if (id >= 0 && ev->address == ev->old_address) {
                /* In place: the same block, resized. */
                col_byte(&e->columns[MA_COL_RETURNED], MA_RETURNED_IN_PLACE);
                e->model.block_size[id] = ev->size;
                recent_push(&e->model, (uint32_t)id);
            } else if (id >= 0 && ev->address == 0 && ev->size > 0) {
                /* Failed: the old block stays. */
                col_byte(&e->columns[MA_COL_RETURNED], MA_RETURNED_NULL);
                recent_push(&e->model, (uint32_t)id);
            } else {
                if (id >= 0) encode_release(e, (uint32_t)id, slot);
                if (!encode_returned(e, ev->address, ev->size)) return 0;
            }
        } else if (!encode_returned(e, ev->address, ev->size)) {
            return 0;
        }
    }
    op->bytes[op_at] = (uint8_t)(MA_OP_STACKED + MA_STACK_CODES * stacked_kind(ev->tag) + stack_code);
    return 1;
}

/* Room in every column for this many events (64 bytes each at most) before they are checked again. */
#define RESERVED_EVENTS 1024

long ma_column_encode(struct ma_column_encoder *e, const uint8_t *input, size_t input_size) {
    const uint8_t *in = input, *in_end = input + input_size;
    int reserved = 0;
    while (in < in_end) {
        uint8_t tag = *in;
        struct cursor c = {in + 1, in_end, 0, 0};
        struct raw_event ev = {.tag = tag};
        int is_event = tag >= MA_REC_FIRST_EVENT && tag <= MA_REC_LAST_EVENT;
        if (is_event) read_event(&c, &ev);
        else if (!skip_metadata(&c, tag)) return -1;
        if (c.bad) return -1;
        if (c.cut) break;
        size_t length = (size_t)(c.p - in);
        if (reserved == 0) {
            for (int i = 0; i < MA_COLUMNS; i++)
                if (!column_reserve(&e->columns[i], 64 * RESERVED_EVENTS)) return -1;
            reserved = RESERVED_EVENTS;
        }
        reserved--;
        if (!is_event && !column_reserve(&e->columns[MA_COL_META], length)) return -1;
        if (is_event) {
            if (!encode_event(e, &ev)) return -1;
        } else {
            col_byte(&e->columns[MA_COL_OP], (uint8_t)(MA_OP_METADATA + tag));
            memcpy(e->columns[MA_COL_META].bytes + e->columns[MA_COL_META].size, in + 1, length - 1);
            e->columns[MA_COL_META].size += length - 1;
            if (tag == MA_REC_STACK && !model_stack_defined(&e->model)) return -1;
        }
        e->block_raw_bytes += length;
        in += length;
    }
    return (long)(in - input);
}

int ma_column_encode_cut(struct ma_column_encoder *e, const uint8_t *record, size_t size) {
    if (!column_reserve(&e->columns[MA_COL_OP], 1) || !column_reserve(&e->columns[MA_COL_META], size)) return 0;
    col_byte(&e->columns[MA_COL_OP], MA_OP_CUT);
    memcpy(e->columns[MA_COL_META].bytes + e->columns[MA_COL_META].size, record, size);
    e->columns[MA_COL_META].size += size;
    e->block_raw_bytes += size;
    return 1;
}

/* ---- Decoder ----------------------------------------------------------------------------- */

struct ma_column_decoder {
    struct model model;
    /* The block being decoded: each column's start, cursor and end. */
    const uint8_t *start[MA_COLUMNS], *p[MA_COLUMNS], *end[MA_COLUMNS];
    int until_check;
    struct ma_event current;     /* the last event, whose fields the next one starts from */
    uint64_t raw_previous_stack; /* ma_column_decode's stk base */
    char error[200];
};

static void fill_op_infos(void);

struct ma_column_decoder *ma_column_decoder_create(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, fill_op_infos);
    struct ma_column_decoder *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    if (!model_init(&d->model)) {
        ma_column_decoder_destroy(d);
        return NULL;
    }
    return d;
}

void ma_column_decoder_destroy(struct ma_column_decoder *d) {
    if (!d) return;
    model_free(&d->model);
    free(d);
}

const char *ma_column_decoder_error(const struct ma_column_decoder *d) { return d->error; }

static const char *const column_names[MA_COLUMNS] = {
    "op", "meta", "size", "size-raw", "freed", "id-high", "id-low", "returned", "class", "class-index", "delta", "misc",
};

/* The column cursors read without bounds checks: the columns are followed by MA_COLUMN_PADDING
 * readable bytes, and no event reads more than 60 bytes from one column, so checking the cursors
 * every CHECK_EVENTS events (and at the end) finds any overrun before it leaves the padding. */
#define CHECK_EVENTS 64
_Static_assert(CHECK_EVENTS * 60 < MA_COLUMN_PADDING, "the padding covers the events between checks");

struct decode {
    struct model *m;
    const uint8_t *p[MA_COLUMNS];
    int bad; /* a value the model cannot take (the input is corrupt) */
};

static inline uint8_t in_byte(struct decode *s, int column) { return *s->p[column]++; }

static inline uint64_t in_uv(struct decode *s, int column) {
    const uint8_t *p = s->p[column];
    if (__builtin_expect(p[0] < 0x80, 1)) {
        s->p[column] = p + 1;
        return p[0];
    }
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            s->p[column] = p + i + 1;
            return v;
        }
    }
    s->bad = 1;
    s->p[column] = p + 10;
    return 0;
}

static inline int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* The live block a released heap address names (freed symbol): its id, or -1 for NULL and for an
 * address that is not a live block. Sets *address. */
static inline int64_t decode_freed(struct decode *s, uint8_t symbol, uint64_t *address) {
    struct model *m = s->m;
    int64_t id;
    if (symbol < RECENT) {
        id = recent_take(m, symbol);
    } else if (symbol == MA_FREED_BY_ID) {
        uint64_t high = in_uv(s, MA_COL_ID_HIGH);
        uint64_t low = in_byte(s, MA_COL_ID_LOW);
        id = high < 1u << 24 && (high << 8 | low) < m->id_count ? (int64_t)(high << 8 | low) : -1;
    } else {
        *address = symbol == MA_FREED_UNKNOWN ? in_uv(s, MA_COL_MISC) : 0;
        s->bad |= symbol > MA_FREED_UNKNOWN;
        return -1;
    }
    if (id < 0 || (*address = m->block_address[id]) == 0) {
        s->bad = 1;
        *address = 0;
        return -1;
    }
    return id;
}

/* The address a heap allocation returned (returned symbol given); the block is added. */
static inline uint64_t decode_returned(struct decode *s, uint8_t symbol, uint64_t size) {
    struct model *m = s->m;
    uint64_t address;
    if (symbol < CLASS_LIST) {
        uint32_t class = class_of(size);
        if (class >= CLASSES || (address = ring_at(class_ring(m, class), symbol)) == 0) goto bad;
        class_take(m, class, symbol);
    } else if (symbol == MA_RETURNED_DELTA) {
        uint64_t v = in_uv(s, MA_COL_DELTA);
        int64_t delta = v & 1 ? unzigzag(v >> 1) : (int64_t)((uint64_t)unzigzag(v >> 1) * 16);
        address = m->last_end + (uint64_t)delta;
        if (address == 0) goto bad;
    } else if (symbol == MA_RETURNED_NULL) {
        return 0;
    } else if (symbol == MA_RETURNED_OTHER_CLASS) {
        int64_t class = (int64_t)class_of(size) + unzigzag(in_uv(s, MA_COL_CLASS));
        uint8_t k = in_byte(s, MA_COL_CLASS_INDEX);
        if (class < 0 || class >= CLASSES || k >= CLASS_LIST || (address = ring_at(class_ring(m, (uint32_t)class), k)) == 0) goto bad;
        class_take(m, (uint32_t)class, k);
    } else {
        goto bad;
    }
    m->last_end = address + chunk_size(size);
    if (block_add(m, address, size) < 0) goto bad;
    return address;
bad:
    s->bad = 1;
    return 0;
}

static inline uint64_t decode_stack(struct decode *s, uint8_t code) {
    struct model *m = s->m;
    uint64_t id;
    int k = -1;
    if (code < RECENT) {
        s->bad |= code >= m->stacks_count;
        k = code;
        id = ring_at(stacks_ring(m), k);
    } else if (code == MA_STACK_NEWEST) {
        id = m->stacks_defined;
    } else {
        id = m->previous_stack + (uint64_t)unzigzag(in_uv(s, MA_COL_MISC));
        s->bad |= id > m->stacks_defined; /* a stack is defined before its first event */
    }
    stacks_promote(m, k, id);
    m->previous_stack = id;
    return id;
}

static inline uint64_t decode_size(struct decode *s, uint64_t stack) {
    uint64_t *sizes = sizes_of_stack(s->m, stack);
    uint8_t code = in_byte(s, MA_COL_SIZE);
    uint64_t size;
    int k = -1;
    if (code < STACK_SIZES) {
        k = code;
        size = sizes[k];
    } else if (code == MA_SIZE_RAW) {
        size = in_uv(s, MA_COL_SIZE_RAW);
    } else {
        size = sizes[0] + (uint64_t)unzigzag(code - MA_SIZE_DELTA) * 8;
    }
    code_size_update(sizes, k, size);
    return size;
}

/* What an op of a stacked event says: its tag, what its record holds, its stack code. */
struct op_info {
    uint8_t tag, stack_code, mapping, alignment, realloc;
};

static struct op_info op_infos[MA_OP_STACKED_KINDS * MA_STACK_CODES];

static void fill_op_infos(void) {
    for (int kind = 0; kind < MA_OP_STACKED_KINDS; kind++) {
        for (int code = 0; code < MA_STACK_CODES; code++) {
            uint8_t tag = stacked_tags[kind];
            op_infos[kind * MA_STACK_CODES + code] = (struct op_info){
                tag, (uint8_t)code, tag == MA_REC_MMAP || tag == MA_REC_MREMAP, (uint8_t)has_alignment(tag), (uint8_t)is_realloc(tag)};
        }
    }
}

/* Decodes the event with this op into ev, setting the fields its record has (the others keep the
 * previous event's values, as the reader's record decoder leaves them), its stack absolute. */
static inline void decode_event(struct decode *s, uint8_t op, struct ma_event *ev) {
    struct model *m = s->m;
    if (op <= MA_FREED_UNKNOWN) {
        int64_t id = decode_freed(s, op, &ev->address);
        if (id >= 0) block_release(m, (uint32_t)id);
        ev->tag = MA_REC_FREE;
        ev->size = 0;
        ev->stack = 0;
        return;
    }
    if (op == MA_OP_MUNMAP) {
        ev->tag = MA_REC_MUNMAP;
        ev->address = in_uv(s, MA_COL_MISC);
        ev->size = in_uv(s, MA_COL_MISC);
        ev->stack = 0;
        return;
    }
    unsigned index = (unsigned)op - MA_OP_STACKED;
    if (index >= MA_OP_STACKED_KINDS * MA_STACK_CODES) {
        s->bad = 1;
        return;
    }
    struct op_info info = op_infos[index];
    ev->tag = info.tag;
    if (info.mapping) {
        if (info.tag == MA_REC_MREMAP) {
            ev->old_address = in_uv(s, MA_COL_MISC);
            ev->old_size = in_uv(s, MA_COL_MISC);
        } else {
            ev->protection = in_uv(s, MA_COL_MISC);
            ev->flags = in_uv(s, MA_COL_MISC);
        }
        ev->size = in_uv(s, MA_COL_MISC);
        ev->stack = decode_stack(s, info.stack_code);
        ev->address = in_uv(s, MA_COL_MISC);
        return;
    }
    ev->alignment = info.alignment ? in_uv(s, MA_COL_MISC) : 0;
    uint64_t stack = ev->stack = decode_stack(s, info.stack_code);
    uint64_t size = ev->size = decode_size(s, stack);
    if (info.realloc) {
        int64_t id = decode_freed(s, in_byte(s, MA_COL_FREED), &ev->old_address);
        uint8_t symbol = in_byte(s, MA_COL_RETURNED);
        if (id >= 0 && symbol == MA_RETURNED_IN_PLACE) {
            ev->address = ev->old_address;
            m->block_size[id] = size;
            recent_push(m, (uint32_t)id);
        } else if (id >= 0 && symbol == MA_RETURNED_NULL && size > 0) {
            ev->address = 0;
            recent_push(m, (uint32_t)id);
        } else {
            if (id >= 0) block_release(m, (uint32_t)id);
            ev->address = decode_returned(s, symbol, size);
        }
    } else {
        ev->address = decode_returned(s, in_byte(s, MA_COL_RETURNED), size);
    }
}

/* Writes an event as the raw stream has it (its stack as a delta against *previous_stack). */
static uint8_t *write_event(uint8_t *p, const struct ma_event *e, uint64_t *previous_stack) {
    *p++ = e->tag;
    uint64_t delta = ma_zigzag((int64_t)(e->stack - *previous_stack));
    switch (e->tag) {
    case MA_REC_FREE: return put_u64(p, e->address);
    case MA_REC_MUNMAP: p = put_u64(p, e->address); return ma_put_uv(p, e->size);
    case MA_REC_MMAP:
        p = ma_put_uv(p, e->size);
        p = ma_put_uv(p, e->protection);
        p = ma_put_uv(p, e->flags);
        break;
    case MA_REC_MREMAP:
        p = put_u64(p, e->old_address);
        p = ma_put_uv(p, e->old_size);
        p = ma_put_uv(p, e->size);
        break;
    default:
        if (is_realloc(e->tag)) p = put_u64(p, e->old_address);
        p = ma_put_uv(p, e->size);
        if (has_alignment(e->tag)) p = ma_put_uv(p, e->alignment);
        break;
    }
    *previous_stack = e->stack;
    p = ma_put_uv(p, delta);
    return put_u64(p, e->address);
}

void ma_column_decoder_start(struct ma_column_decoder *d, const uint8_t *const columns[MA_COLUMNS], const size_t sizes[MA_COLUMNS]) {
    for (int i = 0; i < MA_COLUMNS; i++) {
        d->start[i] = d->p[i] = columns[i];
        d->end[i] = columns[i] + sizes[i];
    }
    d->until_check = CHECK_EVENTS;
    d->error[0] = 0;
}

/* Says what went wrong (in d->error) and returns MA_DECODE_CORRUPT. */
static int decoder_failed(struct ma_column_decoder *d, int bad) {
    size_t record = (size_t)(d->p[MA_COL_OP] - d->start[MA_COL_OP]);
    for (int i = 0; i < MA_COLUMNS; i++) {
        if (d->p[i] > d->end[i]) {
            snprintf(d->error, sizeof d->error, "near record %zu, its %s column ends early", record, column_names[i]);
            return MA_DECODE_CORRUPT;
        }
    }
    if (bad) {
        snprintf(d->error, sizeof d->error,
                 "near record %zu, a value the heap model cannot take (a freed block that is not live, a free block that is not listed, a code out of range)",
                 record);
        return MA_DECODE_CORRUPT;
    }
    for (int i = 0; i < MA_COLUMNS; i++) {
        if (d->p[i] < d->end[i]) {
            snprintf(d->error, sizeof d->error, "its %s column holds %zu bytes more than its records use", column_names[i],
                     (size_t)(d->end[i] - d->p[i]));
            return MA_DECODE_CORRUPT;
        }
    }
    return MA_DECODE_CORRUPT;
}

long ma_column_decode_events(struct ma_column_decoder *d, struct ma_event *events, size_t capacity, struct ma_decode_stop *stop) {
    struct decode s = {.m = &d->model};
    memcpy(s.p, d->p, sizeof s.p);
    const uint8_t *ops_end = d->end[MA_COL_OP];
    int until_check = d->until_check;
    struct ma_event current = d->current; /* local: stores to it cannot alias the model */
    size_t n = 0;
    stop->kind = MA_DECODE_FULL;
    stop->tag = 0;
    stop->record = NULL;
    stop->size = 0;
    while (n < capacity) {
        if (s.p[MA_COL_OP] >= ops_end) {
            stop->kind = MA_DECODE_END;
            break;
        }
        uint8_t op = *s.p[MA_COL_OP]++;
        if (__builtin_expect(op < MA_OP_METADATA, 1)) {
            decode_event(&s, op, &current);
            events[n++] = current;
        } else if (op == MA_OP_CUT) {
            /* The rest of META: a record cut at the end of the trace, as it was. */
            if (s.p[MA_COL_META] > d->end[MA_COL_META] || s.p[MA_COL_OP] != ops_end) {
                s.bad = 1;
            } else {
                stop->kind = MA_DECODE_CUT;
                stop->record = s.p[MA_COL_META];
                stop->size = (size_t)(d->end[MA_COL_META] - s.p[MA_COL_META]);
                s.p[MA_COL_META] = d->end[MA_COL_META];
            }
        } else if (op > MA_OP_METADATA && op <= MA_OP_METADATA + MA_REC_RESIDENCY) {
            uint8_t tag = (uint8_t)(op - MA_OP_METADATA);
            struct cursor c = {s.p[MA_COL_META], d->end[MA_COL_META], 0, 0};
            if (c.p > c.end) {
                s.bad = 1;
            } else {
                skip_metadata(&c, tag);
                if (c.cut || c.bad || (tag == MA_REC_STACK && !model_stack_defined(s.m))) {
                    s.bad = 1;
                } else {
                    stop->kind = MA_DECODE_METADATA;
                    stop->tag = tag;
                    stop->record = s.p[MA_COL_META];
                    stop->size = (size_t)(c.p - s.p[MA_COL_META]);
                    s.p[MA_COL_META] = c.p;
                }
            }
        } else {
            s.bad = 1;
        }
        if (__builtin_expect(--until_check == 0 || s.bad, 0)) {
            until_check = CHECK_EVENTS;
            if (s.bad) break;
            for (int i = 0; i < MA_COLUMNS; i++)
                if (s.p[i] > d->end[i]) s.bad = 1;
            if (s.bad) break;
        }
        if (stop->kind != MA_DECODE_FULL) break;
    }
    memcpy(d->p, s.p, sizeof s.p);
    d->until_check = until_check;
    d->current = current;
    if (s.bad) return decoder_failed(d, 1);
    if (stop->kind == MA_DECODE_END || stop->kind == MA_DECODE_CUT) {
        for (int i = 0; i < MA_COLUMNS; i++)
            if (d->p[i] != d->end[i]) return decoder_failed(d, 0);
    }
    return (long)n;
}

long ma_column_decode(struct ma_column_decoder *d, const uint8_t *const columns[MA_COLUMNS], const size_t sizes[MA_COLUMNS],
                      uint8_t *output, size_t output_capacity) {
    ma_column_decoder_start(d, columns, sizes);
    uint8_t *out = output, *out_end = output + output_capacity;
    struct ma_event events[256];
    struct ma_decode_stop stop;
    do {
        long n = ma_column_decode_events(d, events, 256, &stop);
        if (n < 0) return -1;
        for (long i = 0; i < n; i++) {
            if (out_end - out < MA_MAX_EVENT_RECORD) goto too_long;
            out = write_event(out, &events[i], &d->raw_previous_stack);
        }
        if (stop.kind == MA_DECODE_METADATA || stop.kind == MA_DECODE_CUT) {
            size_t tag = stop.kind == MA_DECODE_METADATA;
            if ((size_t)(out_end - out) < stop.size + tag) goto too_long;
            if (tag) *out++ = stop.tag;
            memcpy(out, stop.record, stop.size);
            out += stop.size;
        }
    } while (stop.kind != MA_DECODE_END && stop.kind != MA_DECODE_CUT);
    return (long)(out - output);
too_long:
    snprintf(d->error, sizeof d->error, "its records are longer than the block header says");
    return -1;
}

const char *ma_column_name(int column) { return column >= 0 && column < MA_COLUMNS ? column_names[column] : "?"; }
