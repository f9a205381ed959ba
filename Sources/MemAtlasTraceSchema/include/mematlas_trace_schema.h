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
 *         recodes it (ma_transcode_raw_addresses) on another core before compressing it.
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

/* ---- Encoding (uv, sv, str, adr), shared by the writers: the recorder and the transcoder ---- */

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

/* Recodes a record stream written with MA_FLAG_RAW_ADDRESSES into the adr coding, whole records
 * at a time: reads from input[0..<input_size], writes to output (room for output_capacity bytes),
 * stops before the first record that is cut at the end of the input or would not fit. Returns the
 * input bytes consumed (whole records) and sets *written; -1 at a record it cannot read (an
 * unknown tag or a malformed field), with *written = the bytes of the records before it. The coder
 * starts zeroed and carries over between calls. Output is at most input + 2 bytes an address. */
long ma_transcode_raw_addresses(struct ma_address_coder *coder, const uint8_t *input, size_t input_size,
                                uint8_t *output, size_t output_capacity, size_t *written);

#endif /* MEMATLAS_TRACE_SCHEMA_H */
