/*
 * The MemAtlas trace format: the one schema shared by the C recorder (writer) and the Swift
 * trace reader (TraceIO imports this header as the `MemAtlasTraceSchema` module).
 * Every change to the layout below bumps MA_TRACE_VERSION; readers refuse other versions.
 *
 * File layout
 * -----------
 *   offset 0   char[8]  magic "MEMATLAS"
 *   offset 8   u16 LE   format version (MA_TRACE_VERSION)
 *   offset 10  u16 LE   flags (MA_FLAG_*)
 *   offset 12  u32 LE   header size in bytes (MA_TRACE_HEADER_SIZE); the body starts there
 *   offset 16  u64 LE   pid of the process that wrote the trace
 *   offset 24  u64 LE   reserved (0)
 *   offset 32  body: a stream of records. With MA_FLAG_ZSTD the body is one zstd stream whose
 *              blocks are flushed at every sample tick, so a killed process leaves a readable
 *              prefix; otherwise the records are stored as they are.
 *
 * Record encoding
 * ---------------
 *   Each record is one tag byte (MA_REC_*) followed by its fields, in the order listed.
 *   uv  = unsigned LEB128 varint (7 bits a byte, low groups first, high bit = more)
 *   sv  = signed varint: zigzag-encoded ((n << 1) ^ (n >> 63)) then uv
 *   str = uv byte length, then the bytes (no terminator)
 *   stk = a stack id, as sv(id - previous stk field of the stream) (previous starts at 0): a run
 *         of events from one call path costs one byte each.
 *   adr = an address. Writer and reader keep two move-to-front lists of MA_ADDRESS_CACHE entries:
 *         FREED (the addresses most recently released: free, the old block of realloc, munmap)
 *         and ALLOCATED (most recently returned: malloc family, realloc, mmap results). Most
 *         addresses are in them (allocators reuse the last freed chunk; programs free what they
 *         allocated last), so an adr is usually one byte:
 *
 *           address 0 (NULL, MAP_FAILED):      uv( (2 * MA_ADDRESS_CACHE) << 1 | 1 )
 *           FREED[i]:                          uv( i << 1 | 1 )
 *           else ALLOCATED[i]:                 uv( (MA_ADDRESS_CACHE + i) << 1 | 1 )
 *           else, delta = address - previous (two's complement, 64 bit; previous = the last
 *           delta-coded address, initially 0), and then previous = address:
 *             delta % 16 == 0:                 uv( zigzag(delta / 16) << 2 )       (16-aligned)
 *             otherwise:                       uv( zigzag(delta) << 2 | 2 )
 *
 *         After each adr, a non-zero address moves to the front of FREED (a released address) or
 *         ALLOCATED (a returned one), dropping the last entry or its own older copy, and leaves the
 *         other list (later entries move up one place; the last becomes 0).
 *
 *         With MA_FLAG_RAW_ADDRESSES every adr is instead the address itself, u64 LE (8 bytes), and
 *         there are no lists: the program `mematlas record` starts writes its trace so, since
 *         the lists cost it more time than anything else the recorder does, and `mematlas record`
 *         recodes it into column blocks (MA_FLAG_COLUMNS, below) on another core.
 *
 * Ordering: the recorder appends every event under one lock, so the stream is a total order that
 * respects causality across threads (a free is appended before the real free runs, an
 * allocation after the real allocation returned). Time is carried by MA_REC_TICK records.
 */
#ifndef MEMATLAS_TRACE_SCHEMA_H
#define MEMATLAS_TRACE_SCHEMA_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MA_TRACE_MAGIC "MEMATLAS"
#define MA_TRACE_MAGIC_SIZE 8
#define MA_TRACE_VERSION 3
#define MA_TRACE_HEADER_SIZE 32

/* Header flags. */
#define MA_FLAG_ZSTD 0x0001u /* the body is a zstd stream */
/* malloc resolved outside the recorder (an allocator linked into the executable, as rustc's
 * jemalloc, or preloaded before it): the program's heap calls were not seen, only its mappings. */
#define MA_FLAG_OWN_MALLOC 0x0002u
/* Every adr field is a raw u64 LE (see adr above). Readers refuse flags they do not know. */
#define MA_FLAG_RAW_ADDRESSES 0x0004u

/* ---- The pending file ------------------------------------------------------------------
 * While a process records, the records not yet in its trace live in TRACE.pending, a file the
 * recorder maps shared, so that a process killed or crashed between two writes leaves them on disk.
 * A normal end (exit, exec) deletes it; after a process died, `mematlas record` appends the pending
 * records to its trace (closing the open zstd frame, then one frame of raw blocks) and deletes it.
 *   offset 0    char[8]  magic "MAPEND01"
 *   offset 8    u64 LE   pid of the recording process (salvaged only once it is gone)
 *   offset 16   u64 LE   1 while a buffer is being written to the trace (then nothing is salvaged:
 *                        part of it may be in the trace already)
 *   offset 24   u64 LE   x MA_PENDING_BUFFERS: when each buffer was made current (1, 2, ...; 0 never)
 *   offset 56   u64 LE   x MA_PENDING_BUFFERS: bytes of records in each buffer not yet in the trace
 *   offset MA_PENDING_HEADER_SIZE + i * MA_PENDING_BUFFER_SIZE: buffer i (whole records)
 * Pending records are appended oldest buffer first (by the numbers at offset 24). */
#define MA_PENDING_MAGIC "MAPEND01"
#define MA_PENDING_SUFFIX ".pending"
#define MA_PENDING_BUFFERS 4
#define MA_PENDING_BUFFER_SIZE (1u << 20)
#define MA_PENDING_HEADER_SIZE 4096
#define MA_PENDING_SEQUENCE_OFFSET 24
#define MA_PENDING_USED_OFFSET 56 /* 24 + 8 * MA_PENDING_BUFFERS */

/* Entries in each move-to-front address list of the adr encoding. */
#define MA_ADDRESS_CACHE 8

/* Unwinders (MA_REC_PROCESS.unwinder). */
#define MA_UNWIND_LIBUNWIND 1
#define MA_UNWIND_FRAME_POINTERS 2
#define MA_UNWIND_NONE 3

/* ---- Metadata records ---------------------------------------------------------------- */

/* Once, first: uv pid, uv ppid, uv start_unix_ns, uv start_monotonic_ns, uv page_size,
 * uv unwinder, uv max_depth, uv sample_interval_ns, str executable, str command line
 * (arguments separated by NUL). */
#define MA_REC_PROCESS 0x01

/* The loaded modules, complete (replaces the previous list): uv count, then per module:
 * uv load_bias, str path, str build_id (raw bytes, may be empty), uv segment_count,
 * then per segment: uv vaddr (relative to load_bias), uv size, uv flags (PF_X=1 PF_W=2 PF_R=4).
 * An instruction pointer ip belongs to a module when load_bias + vaddr <= ip < ... + size. */
#define MA_REC_MODULES 0x02

/* A new call stack; ids are implicit: the n-th MA_REC_STACK defines stack id n (from 1; id 0 means
 * "no stack"). uv frame_count, then frame_count instruction pointers, innermost first, each
 * as sv delta against the previous frame (the first against 0). Frames after the first are
 * return addresses. */
#define MA_REC_STACK 0x03

/* The thread that performs the following events: uv tid (kernel thread id). */
#define MA_REC_THREAD 0x04

/* A sample tick: uv monotonic ns since start_monotonic_ns, uv resident set size in pages
 * (from /proc/self/statm). Events after it happened at or after that time. */
#define MA_REC_TICK 0x05

/* A thread's name (from pthread_setname_np / prctl / comm): uv tid, str name. */
#define MA_REC_THREAD_NAME 0x06

/* The process is about to exec: str path. The new program writes a trace of its own. */
#define MA_REC_EXEC 0x07

/* The process is exiting (exit, _exit, return from main, abort): uv monotonic ns since start,
 * uv how (MA_EXIT_*). Events may still follow (frees in late destructors). */
#define MA_REC_EXIT 0x08
#define MA_EXIT_NORMAL 1 /* exit() / return from main: library destructors are running */
#define MA_EXIT_UNDERSCORE 2 /* _exit / _Exit */
#define MA_EXIT_ABORT 3 /* abort() */

/* Which pages of the process's private anonymous writable memory (the brk heap, malloc's arenas
 * and large blocks, other anonymous mappings) are resident, from mincore(): taken every residency
 * interval, when RSS reaches a new high, and at exit. uv monotonic ns since start, uv region_count,
 * then per region: uv start address, uv length in bytes, uv kind (MA_REGION_*), uv run_count,
 * then run_count run lengths in pages, alternately not resident and resident, starting with not
 * resident (the first run may be 0). */
#define MA_REC_RESIDENCY 0x09
#define MA_REGION_BRK_HEAP 1
#define MA_REGION_ANONYMOUS 2

/* ---- Allocation events --------------------------------------------------------------- */
/* The tag names the function. Sizes are the caller's requested bytes (calloc: nmemb * size). */

/* uv size, stk stack, adr result (returned) */
#define MA_REC_MALLOC 0x10
/* uv size (nmemb*size), stk stack, adr result (returned) */
#define MA_REC_CALLOC 0x11
/* adr old (released; 0 = realloc(NULL, n)), uv size, stk stack, adr result (returned). size 0 with a non-NULL old block
 * frees it (glibc). A failed realloc (result 0, size > 0) leaves the old block live. */
#define MA_REC_REALLOC 0x12
/* same fields as MA_REC_REALLOC; size is nmemb*size */
#define MA_REC_REALLOCARRAY 0x13
/* uv size, uv alignment, stk stack, adr result (returned) */
#define MA_REC_POSIX_MEMALIGN 0x14
#define MA_REC_ALIGNED_ALLOC 0x15
#define MA_REC_MEMALIGN 0x16
/* uv size, stk stack, adr result (returned) */
#define MA_REC_VALLOC 0x17
#define MA_REC_PVALLOC 0x18
/* adr block (released; 0 = free(NULL)) */
#define MA_REC_FREE 0x19
/* Anonymous mappings made by the program itself (not those made inside malloc):
 * uv length, uv prot, uv flags, stk stack, adr result (returned) */
#define MA_REC_MMAP 0x1a
/* adr start (released), uv length */
#define MA_REC_MUNMAP 0x1b
/* adr old (released), uv old_length, uv new_length, stk stack, adr result (returned) */
#define MA_REC_MREMAP 0x1c

#define MA_REC_FIRST_EVENT MA_REC_MALLOC
#define MA_REC_LAST_EVENT MA_REC_MREMAP

/* Largest encoded size of one event record, frames excluded (for buffer reservations). */
#define MA_MAX_EVENT_RECORD 64

/* ---- Encoding (uv, sv, str, adr), shared by the recorder and the column coder ---- */

static inline uint8_t *ma_put_uv(uint8_t *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint64_t ma_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

static inline uint8_t *ma_put_sv(uint8_t *p, int64_t v) { return ma_put_uv(p, ma_zigzag(v)); }

static inline uint8_t *ma_put_str(uint8_t *p, const char *s, size_t n) {
    p = ma_put_uv(p, n);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)s[i];
    return p + n;
}

/* The adr encoding's state (schema: adr): the last non-zero address and two move-to-front lists. */
struct ma_address_coder {
    uint64_t previous;
    uint64_t lists[2][MA_ADDRESS_CACHE]; /* [0] = FREED, [1] = ALLOCATED */
};

/* Moves list[i] to the front; the entries before it shift back by one (with i = the last index:
 * a new entry goes in front and the last one is dropped). Both shifts copy the list out and write
 * every entry back from an index computed without a branch: a loop over the moved entries
 * compiles to a call to memmove, and a select per entry to a mispredicted branch, each costing
 * more than the shift. */
static inline void ma_address_promote(uint64_t *list, int i, uint64_t address) {
    uint64_t old[MA_ADDRESS_CACHE + 1];
    old[0] = address;
    memcpy(old + 1, list, MA_ADDRESS_CACHE * sizeof *list);
#pragma GCC unroll 8
    for (int j = 0; j < MA_ADDRESS_CACHE; j++) list[j] = old[j + (j > i)];
}

/* Removes list[i]; the entries after it shift forward and the last becomes empty. */
static inline void ma_address_remove(uint64_t *list, int i) {
    uint64_t old[MA_ADDRESS_CACHE + 1];
    memcpy(old, list, MA_ADDRESS_CACHE * sizeof *list);
    old[MA_ADDRESS_CACHE] = 0;
#pragma GCC unroll 8
    for (int j = 0; j < MA_ADDRESS_CACHE; j++) list[j] = old[j + (j >= i)];
}

/* released = 1 for an address being freed/unmapped, 0 for one being returned. The address then
 * goes to the front of its list (FREED or ALLOCATED) and leaves the other: a released address
 * cannot be released again before it is returned, and a returned one cannot be returned again
 * before it is released. So an address is in at most one list, at most once, and one scan finds
 * everything the update needs. */
static inline uint8_t *ma_put_adr(uint8_t *p, struct ma_address_coder *coder, uint64_t address, int released) {
    if (address == 0) return ma_put_uv(p, ((uint64_t)(2 * MA_ADDRESS_CACHE) << 1) | 1);
    int target = released ? 0 : 1;
    /* The other list first: a block being freed was usually returned lately, a block being returned
     * was usually freed lately (the coding does not depend on the order: the lists are disjoint). */
    for (int k = 0; k < 2; k++) {
        int list = target ^ 1 ^ k;
        for (int i = 0; i < MA_ADDRESS_CACHE; i++) {
            if (coder->lists[list][i] == address) {
                p = ma_put_uv(p, ((uint64_t)(list * MA_ADDRESS_CACHE + i) << 1) | 1);
                if (list == target) {
                    ma_address_promote(coder->lists[target], i, address);
                } else {
                    ma_address_remove(coder->lists[list], i);
                    ma_address_promote(coder->lists[target], MA_ADDRESS_CACHE - 1, address);
                }
                return p;
            }
        }
    }
    int64_t delta = (int64_t)(address - coder->previous);
    coder->previous = address;
    if ((delta & 15) == 0) p = ma_put_uv(p, ma_zigzag(delta / 16) << 2);
    else p = ma_put_uv(p, (ma_zigzag(delta) << 2) | 2);
    ma_address_promote(coder->lists[target], MA_ADDRESS_CACHE - 1, address);
    return p;
}

/* ---- Column blocks (MA_FLAG_COLUMNS) --------------------------------------------------------
 * The trace of the program `mematlas record` starts is written raw (MA_FLAG_RAW_ADDRESSES) and
 * recoded by `record`, on another core, into column blocks: the same records, with each field
 * coded against a model of the heap that the reader keeps too, and the fields of each kind in a
 * column of their own, compressed by zstd one column at a time. The body is then a sequence of
 * blocks (there is no MA_FLAG_ZSTD):
 *
 *   u32 LE  bytes of the block after this field
 *   u32 LE  bytes of the raw records the block decodes to
 *   u32 LE  x MA_COLUMNS: bytes of each column's zstd frame (0: the column is empty)
 *   then the frames, in column order, each stating its content size and ending with its content
 *   checksum (so damage is found when the block is read).
 *
 * The model carries over from block to block (decode them in order). Decoding gives the raw
 * records (MA_FLAG_RAW_ADDRESSES coding), which read as any record stream.
 *
 * Columns, and what each record puts in them (uv/sv as above; "byte" is one byte):
 *   OP        one byte per record:
 *               0..10     MA_REC_FREE, the byte being its freed symbol (below)
 *               11        MA_REC_MUNMAP: MISC uv address, uv length
 *               16 + MA_STACK_CODES * kind + stack code: an event with a stack, kind = its place
 *                         in (malloc, calloc, realloc, reallocarray, posix_memalign, aligned_alloc,
 *                         memalign, valloc, pvalloc, mmap, mremap)
 *               128 + tag a metadata record, its fields (after the tag) verbatim in META
 *               255       the last record, cut at the end of the trace: the rest of META, verbatim
 *   Lists:      the model's short lists (recent stacks, recent live blocks, free blocks per class)
 *               put a new entry in front (the last one drops off), and an entry that is used or
 *               taken trades places with the front one (moves cost nothing; ma_column_encode).
 *   Stack code: 0..7 the k-th entry of the list of the 8 last stacks of these events; 8 the stack
 *               defined last (the newest MA_REC_STACK); 9 MISC sv(id - previous id).
 *   Heap events (the malloc family, realloc): their fields in this order, where they have them:
 *               MISC uv alignment; stack; size; realloc's old block (FREED byte: a freed symbol);
 *               the returned block (RETURNED byte: a returned symbol).
 *   Size:       SIZE byte k < 4: the k-th most recent size of the event's stack (4 kept per stack,
 *               move-to-front; stack ids beyond the stacks defined share one list);
 *               4: SIZE-RAW uv size; 5 + zigzag(d / 8): size = latest size of the stack + d.
 *   Freed symbol, for a released heap address:
 *               k < 8: the k-th entry of the list of the last 8 live blocks allocated (a freed
 *               one leaves it); 8: the live block with id
 *               ID-HIGH uv (id >> 8), ID-LOW byte (id & 255); 9: NULL; 10: an address that is
 *               not a live block, MISC uv address.
 *               Live blocks get ids as they are returned: the id freed last, else the next new one.
 *   Returned symbol, for an address the malloc family returned:
 *               k < 16: the k-th entry of the list of the last 16 blocks freed of the request's
 *               size class (glibc's chunk size: max(32, (size + 23) & ~15), by 16, up to 64 KiB);
 *               16: NULL; 17: a freed block of another class, CLASS
 *               uv zigzag(class - request's class), CLASS-INDEX byte k; 18: DELTA uv v, the
 *               address = the end of the chunk returned last + (v odd ? unzigzag(v >> 1) :
 *               16 * unzigzag(v >> 1)); 19: realloc in place (the old block, resized).
 *               A realloc whose old block is live: 19 keeps it, resized; NULL with size > 0
 *               (failed) keeps it; else it is freed before the new address is coded.
 *   mmap:       MISC uv prot, uv flags, uv length, stack, MISC uv address;
 *   mremap:     MISC uv old address, uv old length, uv new length, stack, MISC uv new address.
 * The exact model (lists, their updates) is in schema.c, shared by ma_column_encode and its
 * inverses, ma_column_decode_events (the reader's) and ma_column_decode, so they cannot drift apart. */
#define MA_FLAG_COLUMNS 0x0008u

enum {
    MA_COL_OP, MA_COL_META, MA_COL_SIZE, MA_COL_SIZE_RAW, MA_COL_FREED, MA_COL_ID_HIGH, MA_COL_ID_LOW,
    MA_COL_RETURNED, MA_COL_CLASS, MA_COL_CLASS_INDEX, MA_COL_DELTA, MA_COL_MISC, MA_COLUMNS
};
#define MA_BLOCK_HEADER_SIZE 56 /* 8 + 4 * MA_COLUMNS */
_Static_assert(MA_BLOCK_HEADER_SIZE == 8 + 4 * MA_COLUMNS, "the block header holds a size per column");

#define MA_OP_MUNMAP 11
#define MA_OP_STACKED 16
#define MA_OP_STACKED_KINDS 11
#define MA_STACK_CODES 10
#define MA_STACK_NEWEST 8
#define MA_STACK_EXPLICIT 9
#define MA_OP_METADATA 128
#define MA_OP_CUT 255
#define MA_FREED_BY_ID 8
#define MA_FREED_NULL 9
#define MA_FREED_UNKNOWN 10
#define MA_SIZE_RAW 4
#define MA_SIZE_DELTA 5
#define MA_RETURNED_NULL 16
#define MA_RETURNED_OTHER_CLASS 17
#define MA_RETURNED_DELTA 18
#define MA_RETURNED_IN_PLACE 19

struct ma_column_encoder;
struct ma_column_decoder;

/* NULL when memory runs out. */
struct ma_column_encoder *ma_column_encoder_create(void);
void ma_column_encoder_destroy(struct ma_column_encoder *encoder);
/* Codes the whole records at the start of input (raw addresses) into the current block's columns;
 * returns the bytes used (a record cut at the end is left), -1 at a record it cannot read. */
long ma_column_encode(struct ma_column_encoder *encoder, const uint8_t *input, size_t input_size);
/* Puts a record cut at the end of the trace, as it is, last in the block (MA_OP_CUT). */
int ma_column_encode_cut(struct ma_column_encoder *encoder, const uint8_t *record, size_t size);
/* The current block's columns; returns the bytes of raw records they hold. */
size_t ma_column_encoder_block(const struct ma_column_encoder *encoder, const uint8_t *columns[MA_COLUMNS], size_t sizes[MA_COLUMNS]);
/* The bytes of raw records the current block holds. */
size_t ma_column_encoder_raw_bytes(const struct ma_column_encoder *encoder);
/* Starts the next block (the model carries on). */
void ma_column_encoder_next_block(struct ma_column_encoder *encoder);

struct ma_column_decoder *ma_column_decoder_create(void);
void ma_column_decoder_destroy(struct ma_column_decoder *decoder);
/* Readable bytes every column given to ma_column_decode must have after its end (their values do
 * not matter): the decoder checks its reads against the columns' ends only now and then. */
#define MA_COLUMN_PADDING 4096
/* Decodes one block's (decompressed) columns into raw records at output; returns their bytes, or
 * -1 on corrupt input (ma_column_decoder_error says why). Never reads past the columns' padding
 * nor writes past output_capacity. */
long ma_column_decode(struct ma_column_decoder *decoder, const uint8_t *const columns[MA_COLUMNS], const size_t sizes[MA_COLUMNS],
                      uint8_t *output, size_t output_capacity);
const char *ma_column_decoder_error(const struct ma_column_decoder *decoder);

/* One allocator event of a column block: the fields its record has, the others as the previous
 * event left them (as the reader's record decoder fills its events); the stack as an id (0 for
 * free and munmap). */
struct ma_event {
    uint64_t address, old_address, size, old_size, alignment, stack;
    uint32_t protection, flags;
    uint8_t tag;
};

/* Why ma_column_decode_events stopped. */
enum { MA_DECODE_FULL, MA_DECODE_METADATA, MA_DECODE_CUT, MA_DECODE_END, MA_DECODE_CORRUPT = -1 };
struct ma_decode_stop {
    int kind;              /* MA_DECODE_*: the events array is full; a metadata record follows the
                              events (tag, and its fields after the tag); the last record is cut
                              (its bytes, tag first); the block is done */
    uint8_t tag;
    const uint8_t *record; /* in the META column, valid until the next block starts */
    size_t size;
};

/* Starts decoding a block's (decompressed, padded) columns with ma_column_decode_events. */
void ma_column_decoder_start(struct ma_column_decoder *decoder, const uint8_t *const columns[MA_COLUMNS], const size_t sizes[MA_COLUMNS]);
/* Decodes the block's next events into events[0..<capacity], up to the next metadata record or the
 * block's end (*stop says which); returns how many, or -1 (MA_DECODE_CORRUPT) on corrupt input. */
long ma_column_decode_events(struct ma_column_decoder *decoder, struct ma_event *events, size_t capacity, struct ma_decode_stop *stop);
const char *ma_column_name(int column);

#endif /* MEMATLAS_TRACE_SCHEMA_H */
