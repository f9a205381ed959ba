/* The event stream: one lock orders every event of the process; records are encoded into a ring
 * of buffers that a flusher thread compresses (zstd, loaded with dlopen) and writes, at least
 * every sample interval, so that a killed process leaves all but its last tick of events.
 *
 *   hook thread:  capture stack -> lock -> [STACK] [THREAD] EVENT -> unlock
 *   flusher:      every tick: TICK(time, RSS) [MODULES]; compress + write every full buffer
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

int ma_state; /* MA_STATE_* (internal.h): read by every hook */

/* ---- Configuration, from the environment set by `mematlas record` ---- */
static struct {
    const char *output;
    int root;
    int unwinder;
    int max_depth;
    uint64_t interval_ns;
    int compress;
    int record_codes; /* `mematlas record` codes this trace: it is written raw (addresses too, uncompressed) */
    int level;
    uint64_t residency_interval_ns; /* 0: no residency snapshots */
    int writer_thread_at_start;     /* MEMATLAS_WRITER_THREAD=1: the writer thread even while single-threaded */
} g_config;

/* ---- Stream state, guarded by g_lock ---- */
/* The writer lock: a futex lock inlined into the hot path (0 free, 1 held, 2 held with waiters),
 * cheaper than a pthread mutex call on every event. */
static int g_lock;

static MA_TLS int t_is_flusher;
/* Set while this thread holds the writer lock across the program's realloc or mremap: if that call
 * never returns (a heap-corruption abort whose handler calls exit), the destructor knows the lock
 * is this thread's and that the recorder's state is whole. */
static MA_TLS int t_in_program_call;
static void flusher_writer_lock(void);

static void writer_lock_slow(void) {
    if (MA_UNLIKELY(t_is_flusher)) {
        flusher_writer_lock();
        return;
    }
    int state = __atomic_exchange_n(&g_lock, 2, __ATOMIC_ACQUIRE);
    while (state != 0) {
        syscall(SYS_futex, &g_lock, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
        state = __atomic_exchange_n(&g_lock, 2, __ATOMIC_ACQUIRE);
    }
}

/* glibc's flag (2.32 and later), 1 until the process first starts a thread (pthread_create sets it
 * to 0 before the thread exists, and never back). While it is 1 no other thread can contend for
 * the writer lock, so the lock is a plain flag: its atomic instructions were most of the time of
 * recording an event. Signal handlers stay out of the recorder through the hooks' guard. The
 * reference is weak: on a C library without the flag the lock is always atomic. */
extern char __libc_single_threaded __attribute__((weak));
static inline int single_threaded(void) { return &__libc_single_threaded != NULL && __libc_single_threaded; }

static inline void writer_lock(void) {
    if (MA_LIKELY(single_threaded())) {
        __atomic_store_n(&g_lock, 1, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        return;
    }
    int expected = 0;
    if (MA_LIKELY(__atomic_compare_exchange_n(&g_lock, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))) return;
    writer_lock_slow();
}

static inline void writer_unlock(void) {
    /* Atomic once a thread exists, even for a lock taken plainly before it was started (the
     * pthread_create hook starts the writer thread with the lock held): a waiter may have come. */
    if (MA_LIKELY(single_threaded())) {
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        __atomic_store_n(&g_lock, 0, __ATOMIC_RELAXED);
        return;
    }
    if (MA_UNLIKELY(__atomic_exchange_n(&g_lock, 0, __ATOMIC_RELEASE) == 2))
        syscall(SYS_futex, &g_lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
static struct ma_address_coder g_addresses;
static int g_raw_addresses; /* MA_FLAG_RAW_ADDRESSES: the root's trace, which its parent recodes */
static uint32_t g_previous_stack;
static pid_t g_last_tid;
static uint64_t g_start_ns;
/* The process whose trace is open: a vfork child shares our memory (and so ma_state) but is not it. */
static pid_t g_trace_pid;
static int g_sync_writes;    /* no flusher thread: full buffers are written by the caller */
static uint64_t g_next_inline_tick; /* without the flusher: when the hooks emit the next tick */
static MA_TLS unsigned t_events_since_clock;
static int g_write_through; /* after exit began: every record is written at once */
static int g_modules_stale; /* a hint polled without a lock: relaxed atomics */

/* ---- Buffers ---- */
#define MA_BUFFER_SIZE MA_PENDING_BUFFER_SIZE
#define MA_BUFFER_COUNT MA_PENDING_BUFFERS
#define MA_RESERVE_MAX (64 + 16 * MA_MAX_FRAMES + 64)
struct ma_buffer {
    uint8_t *data;
    size_t used;
    int full;
};
static struct ma_buffer g_buffers[MA_BUFFER_COUNT];
static int g_current;     /* written by hooks, under g_lock */
static int g_next_flush;  /* the next buffer the flusher writes, under g_flush_lock */
static pthread_mutex_t g_flush_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_flush_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_flush_space = PTHREAD_COND_INITIALIZER;
static pthread_t g_flusher;
static int g_flusher_running, g_flusher_stop;
static pthread_mutex_t g_modules_lock = PTHREAD_MUTEX_INITIALIZER;

/* The buffers live in a shared mapping of TRACE.pending (layout in the schema header): what the
 * process has recorded but not yet written survives its death, and `mematlas record` appends it. */
struct ma_pending_header {
    char magic[8];
    uint64_t pid;
    uint64_t writing;
    uint64_t sequence[MA_BUFFER_COUNT];
    uint64_t used[MA_BUFFER_COUNT];
};
_Static_assert(__builtin_offsetof(struct ma_pending_header, sequence) == MA_PENDING_SEQUENCE_OFFSET, "pending layout");
_Static_assert(__builtin_offsetof(struct ma_pending_header, used) == MA_PENDING_USED_OFFSET, "pending layout");
static struct ma_pending_header g_no_pending_file; /* stands in when the file cannot be made */
static struct ma_pending_header *g_pending = &g_no_pending_file;
static uint8_t *g_pending_map;
static size_t g_pending_map_size;
static char g_pending_path[4096 + sizeof MA_PENDING_SUFFIX];
static uint64_t g_buffer_sequence;

/* ---- Output ---- */
static int g_fd = -1;
static char g_trace_path[4096];
static int g_statm_fd = -1;

/* ---- zstd, through dlopen ---- */
typedef struct {
    void *(*alloc)(void *, size_t);
    void (*free)(void *, void *);
    void *opaque;
} ma_zstd_custom_mem;
typedef struct {
    const void *src;
    size_t size, pos;
} ma_zstd_in;
typedef struct {
    void *dst;
    size_t size, pos;
} ma_zstd_out;
static struct {
    void *(*create)(ma_zstd_custom_mem);
    size_t (*set_parameter)(void *, int, int);
    size_t (*compress)(void *, ma_zstd_out *, ma_zstd_in *, int);
    unsigned (*is_error)(size_t);
    size_t (*reset)(void *, int);
    void *context;
    uint8_t *out;
    size_t out_size;
} g_zstd;
static int g_compress_trace; /* this trace is compressed (g_zstd.context is set) */

/* Each thread's last unwound stack and its id, and its last fast-path key (by fingerprint) and
 * that key's stack id: a loop that allocates from one place skips the tables. The generation
 * changes when the tables are reset (a forked child's new trace). */
static uint32_t g_stack_generation = 1;
struct ma_last_stack {
    uint32_t generation;
    uint32_t stack;
    int length;
    uintptr_t frames[MA_MAX_FRAMES];
};
static MA_TLS struct ma_last_stack t_last_stack;
static MA_TLS struct {
    struct ma_print print;
    uint32_t generation;
    uint32_t stack;
} t_last_key;

static inline int is_last_stack(const struct ma_last_stack *last, const uintptr_t *frames, int length) {
    return length == last->length && last->generation == g_stack_generation && ma_same_frames(frames, last->frames, length);
}

static inline void remember_last_stack(struct ma_last_stack *last, const uintptr_t *frames, int length, uint32_t stack) {
    last->length = length;
    last->generation = g_stack_generation;
    last->stack = stack;
    ma_copy_frames(last->frames, frames, length);
}

/* Each thread's kernel id and name, read once. */
static MA_TLS pid_t t_tid;
static MA_TLS int t_name_written;
static MA_TLS char t_name[32];

static void *zstd_alloc(void *opaque, size_t size) {
    (void)opaque;
    size_t total = size + 64;
    uint8_t *p = ma_sys_alloc(total);
    if (!p) return NULL;
    *(size_t *)p = total;
    return p + 64;
}

static void zstd_free(void *opaque, void *address) {
    (void)opaque;
    if (!address) return;
    uint8_t *p = (uint8_t *)address - 64;
    ma_sys_release(p, *(size_t *)p);
}

static int load_zstd(void) {
    void *lib = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return 0;
    g_zstd.create = (void *(*)(ma_zstd_custom_mem))dlsym(lib, "ZSTD_createCCtx_advanced");
    g_zstd.set_parameter = (size_t(*)(void *, int, int))dlsym(lib, "ZSTD_CCtx_setParameter");
    g_zstd.compress = (size_t(*)(void *, ma_zstd_out *, ma_zstd_in *, int))dlsym(lib, "ZSTD_compressStream2");
    g_zstd.is_error = (unsigned (*)(size_t))dlsym(lib, "ZSTD_isError");
    g_zstd.reset = (size_t(*)(void *, int))dlsym(lib, "ZSTD_CCtx_reset");
    if (!g_zstd.create || !g_zstd.set_parameter || !g_zstd.compress || !g_zstd.is_error || !g_zstd.reset) return 0;
    ma_zstd_custom_mem mem = {zstd_alloc, zstd_free, NULL};
    g_zstd.context = g_zstd.create(mem);
    if (!g_zstd.context) return 0;
    if (g_config.level > 0) {
        g_zstd.set_parameter(g_zstd.context, 100 /* ZSTD_c_compressionLevel */, g_config.level);
    } else {
        /* Level 3 with the single-hash match finder of the faster levels: the events are mostly
         * literals, and level 3's double hash costs 13% more instructions for the same size
         * (measured on Benchmarks/recording's trace with cachegrind). */
        g_zstd.set_parameter(g_zstd.context, 100 /* ZSTD_c_compressionLevel */, 3);
        g_zstd.set_parameter(g_zstd.context, 107 /* ZSTD_c_strategy */, 1 /* ZSTD_fast */);
    }
    g_zstd.out_size = 256 * 1024;
    g_zstd.out = ma_sys_alloc(g_zstd.out_size);
    if (!g_zstd.out) {
        g_zstd.context = NULL;
        return 0;
    }
    /* The library's calls to its own exported functions can be bound to another copy of zstd that
     * the program exports (rustc's driver library links one in): compressing then fails. Try it
     * once; when it fails, the trace is written uncompressed rather than lost. */
    static const uint8_t probe[64] = "MemAtlas checks that zstd compresses in this process.";
    ma_zstd_in in = {probe, sizeof probe, 0};
    ma_zstd_out out = {g_zstd.out, g_zstd.out_size, 0};
    size_t remaining = g_zstd.compress(g_zstd.context, &out, &in, 1 /* ZSTD_e_flush */);
    if (g_zstd.is_error(remaining) || remaining != 0 || in.pos != in.size) {
        g_zstd.context = NULL; /* what it holds is left: a few hundred KiB, once */
        return 0;
    }
    g_zstd.reset(g_zstd.context, 1 /* ZSTD_reset_session_only */);
    return 1;
}

/* ---- Small string helpers (no stdio: it may allocate) ---- */

static size_t append_text(char *out, size_t at, size_t capacity, const char *text) {
    while (*text && at + 1 < capacity) out[at++] = *text++;
    out[at] = 0;
    return at;
}

static size_t append_decimal(char *out, size_t at, size_t capacity, uint64_t value) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    while (n && at + 1 < capacity) out[at++] = digits[--n];
    out[at] = 0;
    return at;
}

static uint64_t parse_decimal(const char *s, uint64_t fallback) {
    if (!s || !*s) return fallback;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return fallback;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    return v;
}

static void read_config(void) {
    g_config.output = getenv("MEMATLAS_OUTPUT");
    const char *unwind = getenv("MEMATLAS_UNWIND");
    g_config.unwinder = MA_UNWIND_LIBUNWIND;
    if (unwind && strcmp(unwind, "fp") == 0) g_config.unwinder = MA_UNWIND_FRAME_POINTERS;
    if (unwind && strcmp(unwind, "none") == 0) g_config.unwinder = MA_UNWIND_NONE;
    g_config.max_depth = (int)parse_decimal(getenv("MEMATLAS_DEPTH"), 64);
    g_config.interval_ns = parse_decimal(getenv("MEMATLAS_SAMPLE_MS"), 10) * 1000000ull;
    if (g_config.interval_ns == 0) g_config.interval_ns = 10000000ull;
    const char *compress = getenv("MEMATLAS_COMPRESS");
    g_config.compress = !(compress && strcmp(compress, "none") == 0);
    g_config.level = (int)parse_decimal(getenv("MEMATLAS_ZSTD_LEVEL"), 0); /* 0: the default below */
    g_config.residency_interval_ns = parse_decimal(getenv("MEMATLAS_RESIDENCY_MS"), 100) * 1000000ull;
    g_config.writer_thread_at_start = parse_decimal(getenv("MEMATLAS_WRITER_THREAD"), 0) == 1;

    /* MEMATLAS_ROOT=1 marks the program `mematlas record` started: it writes the trace at the
     * output path itself. Flip it in place (no allocation) so that children and exec'd programs,
     * which inherit the environment, write beside it instead. */
    extern char **environ;
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "MEMATLAS_ROOT=1", 15) == 0 && (*e)[15] == 0) {
            g_config.root = 1;
            (*e)[14] = '0';
            break;
        }
    }
    /* `mematlas record` codes and compresses every process's trace itself, on another core: the
     * started program's, the programs it execs, and its children's (it follows each one until its
     * process ends). */
    const char *parent_compresses = getenv("MEMATLAS_PARENT_COMPRESSES");
    g_config.record_codes = parent_compresses && strcmp(parent_compresses, "1") == 0;
}

/* Opens a new trace file: never follows a symlink, never overwrites (O_EXCL), mode 0600, and
 * moved to a high descriptor so the program's own descriptor numbers are unchanged. */
static int open_trace_file(void) {
    /* The program `mematlas record` started writes the output path itself; every other process
     * (forked children, exec'd programs) writes PATH.PID, or PATH.PID.N when that is taken. */
    char path[4096];
    const char *base = g_config.output && *g_config.output ? g_config.output : "mematlas.trace";
    uint64_t pid = (uint64_t)getpid();
    for (int attempt = g_config.root ? 0 : 1; attempt < 100; attempt++) {
        size_t n = append_text(path, 0, sizeof path, base);
        if (attempt >= 1) {
            n = append_text(path, n, sizeof path, ".");
            n = append_decimal(path, n, sizeof path, pid);
        }
        if (attempt >= 2) {
            n = append_text(path, n, sizeof path, ".");
            n = append_decimal(path, n, sizeof path, (uint64_t)attempt);
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            memcpy(g_trace_path, path, sizeof path);
            int high = fcntl(fd, F_DUPFD_CLOEXEC, 700);
            if (high >= 0) {
                close(fd);
                fd = high;
            }
            return fd;
        }
        if (errno != EEXIST) return -1;
    }
    return -1;
}

static int write_file_header(int fd, int flags) {
    uint8_t header[MA_TRACE_HEADER_SIZE];
    memset(header, 0, sizeof header);
    memcpy(header, MA_TRACE_MAGIC, MA_TRACE_MAGIC_SIZE);
    header[8] = MA_TRACE_VERSION & 0xff;
    header[9] = MA_TRACE_VERSION >> 8;
    header[10] = (uint8_t)(flags & 0xff);
    header[11] = (uint8_t)(flags >> 8);
    header[12] = MA_TRACE_HEADER_SIZE;
    uint64_t pid = (uint64_t)getpid();
    for (int i = 0; i < 8; i++) header[16 + i] = (uint8_t)(pid >> (8 * i));
    return ma_write_all(fd, header, sizeof header);
}

/* ---- Writing buffers out ---- */

/* Compresses (or copies) one buffer to the file. Called by one thread at a time: the flusher,
 * or the calling thread once the flusher has stopped. */
static pthread_mutex_t g_zstd_lock = PTHREAD_MUTEX_INITIALIZER;

static void write_out_locked(const uint8_t *data, size_t size);

static void write_out(const uint8_t *data, size_t size) {
    if (g_fd < 0 || size == 0) return;
    pthread_mutex_lock(&g_zstd_lock);
    write_out_locked(data, size);
    pthread_mutex_unlock(&g_zstd_lock);
}

/* Writes buffer `index` to the trace; its records are then no longer pending (g_lock held, or
 * the only writer). */
static void write_buffer(int index) {
    struct ma_buffer *b = &g_buffers[index];
    g_pending->writing = 1;
    write_out(b->data, b->used);
    b->used = 0;
    g_pending->used[index] = 0;
    __atomic_store_n(&g_pending->writing, 0, __ATOMIC_RELEASE);
}

/* Maps the buffers from TRACE.pending when it can be made (else from anonymous memory). */
static int setup_buffers(void) {
    size_t size = MA_PENDING_HEADER_SIZE + (size_t)MA_BUFFER_COUNT * MA_BUFFER_SIZE;
    uint8_t *map = NULL;
    g_pending = &g_no_pending_file;
    g_pending_path[0] = 0;
    if (g_trace_path[0]) {
        size_t n = append_text(g_pending_path, 0, sizeof g_pending_path, g_trace_path);
        append_text(g_pending_path, n, sizeof g_pending_path, MA_PENDING_SUFFIX);
        int fd = open(g_pending_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            if (ftruncate(fd, (off_t)size) == 0) {
                void *p = (void *)syscall(SYS_mmap, NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, (long)fd, 0L);
                if ((uintptr_t)p < (uintptr_t)-4095) map = p;
                /* No read-around at its faults: the first write (the header) read the whole file
                 * in, 4 MiB of holes zeroed, 1.5 ms at every process start on ext4. A page is now
                 * made when the buffers reach it. */
                if (map) madvise(map, size, MADV_RANDOM);
            }
            close(fd);
            if (!map) unlink(g_pending_path);
        }
        if (!map) g_pending_path[0] = 0;
    }
    if (map) {
        g_pending = (struct ma_pending_header *)map;
        memcpy(g_pending->magic, MA_PENDING_MAGIC, sizeof g_pending->magic);
        g_pending->pid = (uint64_t)getpid();
    } else if (!(map = ma_sys_alloc(size))) {
        return -1;
    }
    g_pending_map = map;
    g_pending_map_size = size;
    for (int i = 0; i < MA_BUFFER_COUNT; i++) {
        g_buffers[i].data = map + MA_PENDING_HEADER_SIZE + (size_t)i * MA_BUFFER_SIZE;
        g_buffers[i].used = 0;
        g_buffers[i].full = 0;
    }
    g_current = g_next_flush = 0;
    g_buffer_sequence = 1;
    g_pending->sequence[0] = 1;
    return 0;
}

/* The trace is whole (exit, exec, or given up): nothing is pending any more. The mapping stays
 * for the records that destructors still write through. */
static void finish_pending(void) {
    if (!g_pending_path[0]) return;
    unlink(g_pending_path);
    g_pending_path[0] = 0;
}

static void write_out_locked(const uint8_t *data, size_t size) {
    if (!g_compress_trace) {
        if (ma_write_all(g_fd, data, size) != 0) ma_state = MA_STATE_DISABLED;
        return;
    }
    ma_zstd_in in = {data, size, 0};
    for (;;) {
        ma_zstd_out out = {g_zstd.out, g_zstd.out_size, 0};
        size_t remaining = g_zstd.compress(g_zstd.context, &out, &in, 1 /* ZSTD_e_flush */);
        if (g_zstd.is_error(remaining)) {
            ma_state = MA_STATE_DISABLED;
            return;
        }
        if (out.pos && ma_write_all(g_fd, g_zstd.out, out.pos) != 0) {
            ma_state = MA_STATE_DISABLED;
            return;
        }
        if (remaining == 0 && in.pos == in.size) return;
    }
}

/* Hands the current buffer to the flusher (g_lock held). With may_wait = 0 it gives up instead of
 * waiting for a free buffer (the flusher itself must never wait for itself). */
static void submit_current(int may_wait) {
    struct ma_buffer *b = &g_buffers[g_current];
    if (b->used == 0) return;
    if (g_sync_writes) {
        write_buffer(g_current);
        return;
    }
    pthread_mutex_lock(&g_flush_lock);
    int next = (g_current + 1) % MA_BUFFER_COUNT;
    if (g_buffers[next].full && !may_wait) {
        pthread_mutex_unlock(&g_flush_lock);
        return;
    }
    b->full = 1;
    pthread_cond_signal(&g_flush_work);
    while (g_buffers[next].full) pthread_cond_wait(&g_flush_space, &g_flush_lock);
    g_current = next;
    g_pending->sequence[next] = ++g_buffer_sequence;
    pthread_mutex_unlock(&g_flush_lock);
}

/* Room for `size` more bytes in the current buffer (g_lock held). */
static inline uint8_t *reserve(size_t size) {
    struct ma_buffer *b = &g_buffers[g_current];
    if (MA_UNLIKELY(b->used + size > MA_BUFFER_SIZE)) {
        submit_current(1);
        b = &g_buffers[g_current];
    }
    return b->data + b->used;
}

static inline void commit(uint8_t *end) {
    struct ma_buffer *b = &g_buffers[g_current];
    b->used = (size_t)(end - b->data);
    g_pending->used[g_current] = b->used;
    if (MA_UNLIKELY(g_write_through)) write_buffer(g_current);
}

/* Waits until every submitted buffer is on disk (g_lock held). */
static void drain(void) {
    submit_current(1);
    if (g_sync_writes) return;
    pthread_mutex_lock(&g_flush_lock);
    for (int i = 0; i < MA_BUFFER_COUNT; i++)
        while (g_buffers[i].full) pthread_cond_wait(&g_flush_space, &g_flush_lock);
    pthread_mutex_unlock(&g_flush_lock);
}

/* ---- Records ---- */

static void read_thread_name(void) {
    char path[64];
    size_t n = append_text(path, 0, sizeof path, "/proc/self/task/");
    n = append_decimal(path, n, sizeof path, (uint64_t)t_tid);
    append_text(path, n, sizeof path, "/comm");
    ssize_t got = ma_read_small_file(path, t_name, sizeof t_name);
    if (got < 0) got = 0;
    while (got > 0 && t_name[got - 1] == '\n') t_name[--got] = 0;
}

static inline pid_t current_tid(void) {
    if (MA_UNLIKELY(!t_tid)) {
        t_tid = ma_gettid();
        read_thread_name();
    }
    return t_tid;
}

/* Emits THREAD (and the thread's name once) when another thread appends (g_lock held). */
static inline uint8_t *put_thread(uint8_t *p, pid_t tid) {
    if (MA_LIKELY(tid == g_last_tid)) return p;
    g_last_tid = tid;
    *p++ = MA_REC_THREAD;
    p = ma_put_uv(p, (uint64_t)tid);
    if (!t_name_written) {
        t_name_written = 1;
        *p++ = MA_REC_THREAD_NAME;
        p = ma_put_uv(p, (uint64_t)tid);
        p = ma_put_str(p, t_name, strlen(t_name));
    }
    return p;
}

/* A stk field (g_lock held). */
static inline uint8_t *put_stack_id(uint8_t *p, uint32_t stack) {
    p = ma_put_sv(p, (int64_t)stack - (int64_t)g_previous_stack);
    g_previous_stack = stack;
    return p;
}

/* Interns the stack and writes its record when new (g_lock held). */
static inline uint32_t put_stack(const uintptr_t *frames, int depth) {
    if (is_last_stack(&t_last_stack, frames, depth)) return t_last_stack.stack;
    int is_new;
    uint32_t id = ma_intern_stack(frames, depth, &is_new);
    if (MA_UNLIKELY(is_new)) {
        uint8_t *p = reserve(16 + 10 * (size_t)depth);
        *p++ = MA_REC_STACK;
        p = ma_put_uv(p, (uint64_t)depth);
        uintptr_t previous = 0;
        for (int i = 0; i < depth; i++) {
            p = ma_put_sv(p, (int64_t)(frames[i] - previous));
            previous = frames[i];
            if (!ma_modules_contains(frames[i])) __atomic_store_n(&g_modules_stale, 1, __ATOMIC_RELAXED);
        }
        commit(p);
    }
    if (id) remember_last_stack(&t_last_stack, frames, depth, id);
    return id;
}

/* Appends a pre-encoded record, which may exceed one buffer, through the buffer chain (g_lock held). */
static void append_record(const uint8_t *record, size_t length) {
    while (length) {
        size_t chunk = length < MA_BUFFER_SIZE / 2 ? length : MA_BUFFER_SIZE / 2;
        uint8_t *p = reserve(chunk);
        memcpy(p, record, chunk);
        commit(p + chunk);
        record += chunk;
        length -= chunk;
    }
}

/* Threads inside libunwind, which runs without g_lock. Counted up under g_lock, so fork_prepare
 * (which holds it across the fork) sees every thread that may be inside: the child inherits
 * libunwind's own locks as they were, and one held then is never released in the child. */
static int g_unwinding;

/* The stack id of the current call (g_lock held): from the frame-pointer fast path when its key is
 * known to be reliable, else from libunwind, which runs with g_lock released (it takes the loader's
 * lock, which a thread inside dlopen may hold while it waits for ours). */
static uint32_t unwind_stack_locked(const uintptr_t *key, int key_length, struct ma_print print, int known);

static inline uint32_t current_stack_locked(const uintptr_t *key, int key_length, struct ma_print print) {
    int known = 0;
    if (key_length > 0) {
        if (print.hash == t_last_key.print.hash && print.check == t_last_key.print.check &&
            t_last_key.generation == g_stack_generation)
            return t_last_key.stack;
        uint32_t id = ma_fast_lookup(print, &known);
        if (id) {
            t_last_key.print = print;
            t_last_key.generation = g_stack_generation;
            t_last_key.stack = id;
            return id;
        }
    }
    return unwind_stack_locked(key, key_length, print, known);
}

/* The stack of a key not known to be reliable: unwound, interned, and the key remembered. */
__attribute__((noinline)) static uint32_t unwind_stack_locked(const uintptr_t *key, int key_length, struct ma_print print, int known) {
    uintptr_t frames[MA_MAX_FRAMES];
    int depth;
    if (g_config.unwinder == MA_UNWIND_LIBUNWIND) {
        __atomic_add_fetch(&g_unwinding, 1, __ATOMIC_RELAXED); /* under g_lock: see fork_child */
        writer_unlock();
        depth = ma_capture_stack(frames);
        __atomic_sub_fetch(&g_unwinding, 1, __ATOMIC_RELEASE);
        writer_lock();
    } else if (key_length > 0) {
        depth = key_length - 1; /* frame pointers: the key's walk is the stack */
        ma_copy_frames(frames, key, depth);
    } else {
        depth = ma_capture_stack(frames); /* frame pointers or nothing: safe under the lock */
    }
    uint32_t id = put_stack(frames, depth);
    if (key_length > 0 && !known && id) ma_fast_remember(key, key_length, print, frames, depth, id);
    return id;
}

static void emit_modules(void) {
    pthread_mutex_lock(&g_modules_lock);
    __atomic_store_n(&g_modules_stale, 0, __ATOMIC_RELAXED);
    const uint8_t *record;
    size_t length = ma_modules_snapshot(&record);
    writer_lock();
    append_record(record, length);
    writer_unlock();
    pthread_mutex_unlock(&g_modules_lock);
}

/* A residency snapshot (flusher thread, or the exiting thread once the flusher stopped). */
static uint64_t g_last_residency_ns, g_residency_rss_pages;
static void emit_residency(uint64_t now) {
    if (!g_config.residency_interval_ns) return;
    const uint8_t *record;
    size_t length = ma_residency_snapshot(now - g_start_ns, &record);
    g_last_residency_ns = now;
    if (!length) return;
    writer_lock();
    append_record(record, length);
    writer_unlock();
}

static void inline_tick(void);
static int is_vfork_child(void);

static void inline_tick_now(int residency);

/* A new stack had a frame outside the known modules: a library loaded since the last module map,
 * or code that no module holds (a JIT's: Java, node), for which a new map would only repeat the
 * last one, once per new stack. The loader's counters tell which. */
static void refresh_modules(void) {
    __atomic_store_n(&g_modules_stale, 0, __ATOMIC_RELAXED);
    if (ma_modules_changed()) emit_modules();
}

/* After a mapping event (outside the writer lock). Mappings are rare and change RSS at once: with
 * no writer thread, the sample comes now (and its residency snapshot, a sample period after the
 * last one), not after the next 32 events, which a program that then sleeps may never make. */
static inline void after_mapping_event(void) {
    if (MA_UNLIKELY(__atomic_load_n(&g_modules_stale, __ATOMIC_RELAXED))) refresh_modules();
    if (MA_UNLIKELY(g_sync_writes)) inline_tick_now(1);
}

/* After an event record, outside the writer lock. */
static inline void after_event(void) {
    if (MA_UNLIKELY(__atomic_load_n(&g_modules_stale, __ATOMIC_RELAXED))) refresh_modules();
    /* No writer thread: look at the clock every 32 events (a vDSO call costs about 20 ns). */
    if (MA_UNLIKELY(g_sync_writes) && MA_UNLIKELY((++t_events_since_clock & 31) == 0)) inline_tick();
}

static void emit_process(void) {
    char exe[4096];
    ssize_t exe_length = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (exe_length < 0) exe_length = 0;
    size_t cmdline_capacity = 64 * 1024;
    char *cmdline = ma_sys_alloc(cmdline_capacity);
    ssize_t cmdline_length = cmdline ? ma_read_small_file("/proc/self/cmdline", cmdline, cmdline_capacity) : 0;
    if (cmdline_length < 0) cmdline_length = 0;
    while (cmdline_length > 0 && cmdline[cmdline_length - 1] == 0) cmdline_length--;

    writer_lock();
    uint8_t *p = reserve(128 + (size_t)exe_length + (size_t)cmdline_length);
    *p++ = MA_REC_PROCESS;
    p = ma_put_uv(p, (uint64_t)getpid());
    p = ma_put_uv(p, (uint64_t)getppid());
    p = ma_put_uv(p, ma_realtime_ns());
    p = ma_put_uv(p, g_start_ns);
    p = ma_put_uv(p, (uint64_t)sysconf(_SC_PAGESIZE));
    p = ma_put_uv(p, (uint64_t)g_config.unwinder);
    p = ma_put_uv(p, (uint64_t)g_config.max_depth);
    p = ma_put_uv(p, g_config.interval_ns);
    p = ma_put_str(p, exe, (size_t)exe_length);
    p = ma_put_str(p, cmdline ? cmdline : "", (size_t)cmdline_length);
    commit(p);
    writer_unlock();
    ma_sys_release(cmdline, cmdline_capacity);
}

static uint64_t read_rss_pages(void) {
    if (g_statm_fd < 0) return 0;
    char text[128];
    ssize_t n = pread(g_statm_fd, text, sizeof text - 1, 0);
    if (n <= 0) return 0;
    text[n] = 0;
    /* "size resident shared ...": the second field */
    const char *p = text;
    while (*p && *p != ' ') p++;
    while (*p == ' ') p++;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
    return v;
}

static void emit_tick(int may_wait) {
    uint64_t rss = read_rss_pages();
    uint64_t now = ma_monotonic_ns();
    /* Residency every interval, and whenever RSS passes its high mark by 1/16 (near the peak). */
    if (g_config.residency_interval_ns &&
        (now - g_last_residency_ns >= g_config.residency_interval_ns || rss > g_residency_rss_pages + g_residency_rss_pages / 16)) {
        if (rss > g_residency_rss_pages) g_residency_rss_pages = rss;
        emit_residency(now);
    }
    writer_lock();
    uint8_t *p = reserve(32);
    *p++ = MA_REC_TICK;
    p = ma_put_uv(p, now - g_start_ns);
    p = ma_put_uv(p, rss);
    commit(p);
    submit_current(may_wait);
    writer_unlock();
}

/* ---- The flusher thread ---- */

/* Writes the oldest full buffer, if there is one; returns whether it did. */
static int flush_next_full_buffer(void) {
    pthread_mutex_lock(&g_flush_lock);
    int index = g_next_flush;
    struct ma_buffer *b = &g_buffers[index];
    int full = b->full;
    pthread_mutex_unlock(&g_flush_lock);
    if (!full) return 0;
    g_pending->writing = 1;
    write_out(b->data, b->used);
    pthread_mutex_lock(&g_flush_lock);
    b->used = 0;
    g_pending->used[index] = 0;
    __atomic_store_n(&g_pending->writing, 0, __ATOMIC_RELEASE);
    b->full = 0;
    g_next_flush = (g_next_flush + 1) % MA_BUFFER_COUNT;
    pthread_cond_broadcast(&g_flush_space);
    pthread_mutex_unlock(&g_flush_lock);
    return 1;
}

/* The flusher's way to the writer lock (for ticks, module maps and residency snapshots): the
 * lock's holder may be waiting in submit_current or drain for the flusher to empty a buffer, so
 * while the lock is taken the flusher keeps writing full buffers instead of sleeping on it. */
static void flusher_writer_lock(void) {
    for (;;) {
        int expected = 0;
        if (__atomic_compare_exchange_n(&g_lock, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return;
        if (!flush_next_full_buffer()) {
            struct timespec pause = {0, 20000};
            nanosleep(&pause, NULL);
        }
    }
}

static void *flusher_main(void *unused) {
    (void)unused;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    ma_hook_busy = 1; /* anything this thread allocates is the recorder's, not the program's */
    ma_in_recorder = 1;
    t_tid = ma_gettid();
    t_is_flusher = 1;

    uint64_t next_tick = ma_monotonic_ns() + g_config.interval_ns;
    pthread_mutex_lock(&g_flush_lock);
    while (!g_flusher_stop) {
        if (g_buffers[g_next_flush].full) {
            pthread_mutex_unlock(&g_flush_lock);
            flush_next_full_buffer();
            pthread_mutex_lock(&g_flush_lock);
            continue;
        }
        uint64_t now = ma_monotonic_ns();
        if (now >= next_tick) {
            pthread_mutex_unlock(&g_flush_lock);
            if (ma_modules_changed()) emit_modules();
            emit_tick(0);
            pthread_mutex_lock(&g_flush_lock);
            next_tick = now + g_config.interval_ns;
            continue;
        }
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        uint64_t wait = next_tick - now;
        deadline.tv_sec += (time_t)(wait / 1000000000ull);
        deadline.tv_nsec += (long)(wait % 1000000000ull);
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g_flush_work, &g_flush_lock, &deadline);
    }
    pthread_mutex_unlock(&g_flush_lock);
    return NULL;
}

static void start_flusher(void) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g_flush_work, &attr);
    pthread_condattr_destroy(&attr);
    g_flusher_stop = 0;
    if (ma_real.pthread_create && ma_real.pthread_create(&g_flusher, NULL, flusher_main, NULL) == 0) {
        g_flusher_running = 1;
        g_sync_writes = 0;
    } else {
        g_sync_writes = 1;
    }
}

static void stop_flusher(void) {
    if (!g_flusher_running) return;
    pthread_mutex_lock(&g_flush_lock);
    g_flusher_stop = 1;
    pthread_cond_signal(&g_flush_work);
    pthread_mutex_unlock(&g_flush_lock);
    pthread_join(g_flusher, NULL);
    g_flusher_running = 0;
}

/* ---- Start, fork, exit ---- */

static void start_recorder(void);

/* From this thread's fork prepare handler to its parent or child handler, other fork handlers run
 * (a sanitizer's child handler starts a thread, which allocates) while the recorder's locks are
 * held: what they allocate on this thread passes through as the recorder's own, unrecorded. */
static MA_TLS int t_forking, t_fork_saved_in_recorder;

static void begin_fork_window(void) {
    t_forking = 1;
    ma_hook_busy++;
    t_fork_saved_in_recorder = ma_in_recorder;
    ma_in_recorder = 1;
}

static void end_fork_window(void) {
    if (!t_forking) return;
    t_forking = 0;
    ma_hook_busy--;
    ma_in_recorder = t_fork_saved_in_recorder;
}

static void fork_prepare(void) {
    begin_fork_window();
    if (ma_state != MA_STATE_ON) return;
    pthread_mutex_lock(&g_modules_lock);
    writer_lock();
    pthread_mutex_lock(&g_flush_lock);
    pthread_mutex_lock(&g_zstd_lock);
}

static void fork_parent(void) {
    end_fork_window();
    if (ma_state != MA_STATE_ON) return;
    pthread_mutex_unlock(&g_zstd_lock);
    pthread_mutex_unlock(&g_flush_lock);
    writer_unlock();
    pthread_mutex_unlock(&g_modules_lock);
}

static void fork_child(void) {
    end_fork_window();
    if (ma_state != MA_STATE_ON) return;
    /* The parent keeps its trace; the child drops the parent's pending bytes and starts a trace of
     * its own at its first event (a child that only calls exec writes none). */
    pthread_mutex_unlock(&g_zstd_lock);
    pthread_mutex_unlock(&g_flush_lock);
    g_lock = 0;
    pthread_mutex_unlock(&g_modules_lock);
    if (g_fd >= 0) close(g_fd);
    g_fd = -1;
    /* The buffers are the parent's pending file (a shared mapping): the child gets its own. */
    ma_sys_release(g_pending_map, g_pending_map_size);
    g_pending_map = NULL;
    g_pending = &g_no_pending_file;
    g_pending_path[0] = 0;
    g_trace_path[0] = 0;
    for (int i = 0; i < MA_BUFFER_COUNT; i++) {
        g_buffers[i].data = NULL;
        g_buffers[i].used = 0;
        g_buffers[i].full = 0;
    }
    g_current = g_next_flush = 0;
    g_flusher_running = 0;
    g_sync_writes = 1;
    g_write_through = 0;
    g_config.root = 0;
    t_tid = 0;
    t_name_written = 0;
    ma_stacks_thread_reset();
    if (g_unwinding) {
        /* Another thread was inside libunwind at the fork and may have held its lock: this process
         * walks frame pointers instead (its trace says so), rather than hang in its first unwind. */
        g_unwinding = 0;
        ma_stacks_use_frame_pointers();
        g_config.unwinder = MA_UNWIND_FRAME_POINTERS;
    }
    ma_state = MA_STATE_FORKED;
}

/* 1 when malloc resolves outside the recorder: an allocator linked into the executable (rustc's
 * jemalloc) or preloaded before it may answer the heap calls. Not proof: a non-PIE executable that
 * takes malloc's address makes its PLT entry the address dlsym returns (node does). So the trace
 * is flagged (MA_FLAG_OWN_MALLOC, at its end) only when no heap call reached the recorder either. */
static int g_program_has_own_malloc;
static int g_heap_seen;    /* a malloc-family call was recorded in this trace (g_lock held) */
static int g_header_flags; /* the flags written in this trace's header */

static int program_has_own_malloc(void) {
    Dl_info recorder, found;
    const ElfW(Sym) *symbol = NULL;
    void *resolved = dlsym(RTLD_DEFAULT, "malloc");
    if (!resolved || !dladdr((void *)ma_is_running, &recorder) ||
        !dladdr1(resolved, &found, (void **)&symbol, RTLD_DL_SYMENT))
        return 0;
    /* A non-PIE executable that takes malloc's address (Debian's python3.11) exports malloc
     * undefined, valued at its PLT stub, and dlsym returns that stub: only a definition counts. */
    if (symbol && symbol->st_shndx == SHN_UNDEF) return 0;
    return found.dli_fbase != recorder.dli_fbase;
}

static int start_trace(void) {
    g_start_ns = ma_monotonic_ns();
    g_trace_pid = getpid();
    memset(&g_addresses, 0, sizeof g_addresses);
    g_previous_stack = 0;
    g_last_tid = 0;
    g_last_residency_ns = 0;
    g_residency_rss_pages = 0;
    ma_stacks_reset();
    g_stack_generation++;
    g_fd = open_trace_file();
    if (g_fd < 0) return -1;
    if (setup_buffers() != 0) return -1;
    int flags = 0;
    /* `mematlas record` codes the addresses of every process's traces and compresses them,
     * on its own core. */
    g_raw_addresses = g_config.record_codes;
    g_compress_trace = g_zstd.context && !g_raw_addresses;
    if (g_raw_addresses) flags |= MA_FLAG_RAW_ADDRESSES;
    if (g_compress_trace) {
        g_zstd.reset(g_zstd.context, 1 /* ZSTD_reset_session_only */);
        flags |= MA_FLAG_ZSTD;
    }
    g_heap_seen = 0;
    g_header_flags = flags;
    if (write_file_header(g_fd, flags) != 0) {
        finish_pending();
        return -1;
    }
    g_sync_writes = 1; /* until the writer thread runs */
    g_next_inline_tick = 0;
    emit_process();
    emit_modules();
    emit_tick(1);
    if (g_config.writer_thread_at_start) start_flusher(); /* asked for: faster, but a thread */
    return 0;
}

/* The writer thread (the flusher) starts when the program starts a thread of its own. Until then
 * the program is single-threaded and must see itself so: unshare(CLONE_NEWUSER) fails in a
 * process with two threads, and Chromium's zygote stops when it counts more than one. Meanwhile
 * the hooks compress and write full buffers themselves, and emit the time and RSS samples. */
void ma_program_starts_thread(void) {
    if (__atomic_load_n(&ma_state, __ATOMIC_ACQUIRE) != MA_STATE_ON || g_flusher_running || g_write_through) return;
    if (is_vfork_child()) return;
    int outer = ma_in_recorder;
    ma_in_recorder = 1;
    ma_hook_busy++;
    writer_lock();
    if (!g_flusher_running && !g_write_through) start_flusher();
    writer_unlock();
    ma_hook_busy--;
    ma_in_recorder = outer;
}

/* The samples of a single-threaded program, from its own hooks (no writer thread yet). */
static void inline_tick_now(int residency) {
    uint64_t now = ma_monotonic_ns();
    if (now < g_next_inline_tick) return;
    g_next_inline_tick = now + g_config.interval_ns;
    if (g_write_through || is_vfork_child()) return;
    if (ma_modules_changed()) emit_modules();
    if (residency && g_config.residency_interval_ns && now - g_last_residency_ns >= g_config.interval_ns) emit_residency(now);
    emit_tick(1);
}

static void inline_tick(void) { inline_tick_now(0); }

void ma_init(void) {
    int outer = ma_in_recorder;
    ma_in_recorder = 1;
    start_recorder();
    ma_in_recorder = outer;
}

static void start_recorder(void) {
    int expected = MA_STATE_OFF;
    if (__atomic_compare_exchange_n(&ma_state, &expected, MA_STATE_STARTING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        read_config();
        g_program_has_own_malloc = program_has_own_malloc();
        g_config.unwinder = ma_stacks_init(g_config.unwinder, g_config.max_depth);
        if (g_config.compress && !g_config.record_codes) load_zstd(); /* record codes: never compressed here */
        g_statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        if (g_statm_fd >= 0) {
            int high = fcntl(g_statm_fd, F_DUPFD_CLOEXEC, 700);
            if (high >= 0) {
                close(g_statm_fd);
                g_statm_fd = high;
            }
        }
        pthread_atfork(fork_prepare, fork_parent, fork_child);
        /* ON before the first records, so that the writer's own paths see a running recorder. */
        __atomic_store_n(&ma_state, MA_STATE_ON, __ATOMIC_RELEASE);
        if (start_trace() != 0) __atomic_store_n(&ma_state, MA_STATE_DISABLED, __ATOMIC_RELEASE);
        return;
    }
    expected = MA_STATE_FORKED;
    if (__atomic_compare_exchange_n(&ma_state, &expected, MA_STATE_STARTING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&ma_state, MA_STATE_ON, __ATOMIC_RELEASE);
        if (start_trace() != 0) __atomic_store_n(&ma_state, MA_STATE_DISABLED, __ATOMIC_RELEASE);
    }
}

int ma_is_running(void) { return __atomic_load_n(&ma_state, __ATOMIC_ACQUIRE) == MA_STATE_ON; }

int ma_is_recording_slow(void) {
    int state = __atomic_load_n(&ma_state, __ATOMIC_ACQUIRE);
    if (MA_LIKELY(state == MA_STATE_ON)) return 1;
    if (state == MA_STATE_OFF || state == MA_STATE_FORKED) {
        ma_init();
        return __atomic_load_n(&ma_state, __ATOMIC_ACQUIRE) == MA_STATE_ON;
    }
    return 0;
}

/* ---- Hot path ---- */

/* An adr field: raw in the root's trace (its parent codes it), else coded here. */
static inline uint8_t *put_address(uint8_t *p, void *address, int released) {
    if (g_raw_addresses) {
        uint64_t raw = (uintptr_t)address;
        memcpy(p, &raw, 8);
        return p + 8;
    }
    return ma_put_adr(p, &g_addresses, (uintptr_t)address, released);
}

void ma_record_alloc(int tag, size_t size, size_t alignment, void *result) {
    ma_in_recorder = 1;
    uintptr_t key[MA_MAX_FRAMES + 1];
    struct ma_print print;
    int key_length = ma_capture_key(__builtin_frame_address(0), key, &print);
    pid_t tid = current_tid();
    writer_lock();
    uint32_t stack = current_stack_locked(key, key_length, print);
    uint8_t *p = reserve(MA_MAX_EVENT_RECORD + 64);
    p = put_thread(p, tid);
    g_heap_seen = 1;
    *p++ = (uint8_t)tag;
    p = ma_put_uv(p, size);
    if (tag == MA_REC_POSIX_MEMALIGN || tag == MA_REC_ALIGNED_ALLOC || tag == MA_REC_MEMALIGN)
        p = ma_put_uv(p, alignment);
    p = put_stack_id(p, stack);
    p = put_address(p, result, 0);
    commit(p);
    writer_unlock();
    after_event();
    ma_in_recorder = 0;
}

/* The common free, a record of 9 bytes: one thread, which wrote the last record too, raw
 * addresses, room in the buffer. Written straight through: with no call on its way the function
 * saves no registers, which were a third of a free's cost in the recorder. */
static inline int record_free_fast(void *block) {
    if (!single_threaded() || !g_raw_addresses || g_write_through) return 0;
    struct ma_buffer *b = &g_buffers[g_current];
    if (MA_UNLIKELY(!t_tid || t_tid != g_last_tid || b->used + 9 > MA_BUFFER_SIZE)) return 0;
    /* The writer lock as writer_lock takes it while the process has one thread, which it keeps
     * here: only this thread could start another. */
    __atomic_store_n(&g_lock, 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    uint8_t *p = b->data + b->used;
    uint64_t raw = (uintptr_t)block;
    p[0] = MA_REC_FREE;
    memcpy(p + 1, &raw, 8);
    b->used += 9;
    g_pending->used[g_current] = b->used;
    g_heap_seen = 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    __atomic_store_n(&g_lock, 0, __ATOMIC_RELAXED);
    return 1;
}

static __attribute__((noinline)) void record_free(void *block);

void ma_record_free(void *block) {
    if (MA_LIKELY(record_free_fast(block))) return;
    record_free(block);
}

static void record_free(void *block) {
    ma_in_recorder = 1;
    pid_t tid = current_tid();
    writer_lock();
    uint8_t *p = reserve(MA_MAX_EVENT_RECORD + 64);
    p = put_thread(p, tid);
    g_heap_seen = 1;
    *p++ = MA_REC_FREE;
    p = put_address(p, block, 1);
    commit(p);
    writer_unlock();
    ma_in_recorder = 0;
}

void *ma_record_realloc(int tag, void *old, size_t nmemb, size_t size) {
    ma_in_recorder = 1;
    uintptr_t key[MA_MAX_FRAMES + 1];
    struct ma_print print;
    int key_length = ma_capture_key(__builtin_frame_address(0), key, &print);
    pid_t tid = current_tid();
    size_t total = size;
    if (tag == MA_REC_REALLOCARRAY && __builtin_mul_overflow(nmemb, size, &total)) total = SIZE_MAX;
    writer_lock();
    /* The stack first: the lock is then held from the real call to the record. */
    uint32_t stack = current_stack_locked(key, key_length, print);
    ma_in_recorder = 0; /* what the real function allocates through nested calls is the program's */
    t_in_program_call = 1;
    void *result = tag == MA_REC_REALLOC ? ma_real.realloc(old, size) : ma_real.reallocarray(old, nmemb, size);
    t_in_program_call = 0;
    int saved_errno = errno;
    ma_in_recorder = 1;
    uint8_t *p = reserve(MA_MAX_EVENT_RECORD + 64);
    p = put_thread(p, tid);
    g_heap_seen = 1;
    *p++ = (uint8_t)tag;
    p = put_address(p, old, 1);
    p = ma_put_uv(p, total);
    p = put_stack_id(p, stack);
    p = put_address(p, result, 0);
    commit(p);
    writer_unlock();
    after_event();
    errno = saved_errno;
    ma_in_recorder = 0;
    return result;
}

void ma_record_mmap(size_t length, int prot, int flags, void *result) {
    ma_in_recorder = 1;
    uintptr_t key[MA_MAX_FRAMES + 1];
    struct ma_print print;
    int key_length = ma_capture_key(__builtin_frame_address(0), key, &print);
    pid_t tid = current_tid();
    if (result == (void *)-1) result = NULL;
    writer_lock();
    uint32_t stack = current_stack_locked(key, key_length, print);
    uint8_t *p = reserve(MA_MAX_EVENT_RECORD + 64);
    p = put_thread(p, tid);
    *p++ = MA_REC_MMAP;
    p = ma_put_uv(p, length);
    p = ma_put_uv(p, (uint64_t)(unsigned)prot);
    p = ma_put_uv(p, (uint64_t)(unsigned)flags);
    p = put_stack_id(p, stack);
    p = put_address(p, result, 0);
    commit(p);
    writer_unlock();
    after_mapping_event();
    ma_in_recorder = 0;
}

void ma_record_munmap(void *start, size_t length) {
    ma_in_recorder = 1;
    pid_t tid = current_tid();
    writer_lock();
    uint8_t *p = reserve(MA_MAX_EVENT_RECORD + 64);
    p = put_thread(p, tid);
    *p++ = MA_REC_MUNMAP;
    p = put_address(p, start, 1);
    p = ma_put_uv(p, length);
    commit(p);
    writer_unlock();
    after_mapping_event();
    ma_in_recorder = 0;
}

void *ma_record_mremap(void *old, size_t old_length, size_t new_length, int flags, void *new_address) {
    ma_in_recorder = 1;
    uintptr_t key[MA_MAX_FRAMES + 1];
    struct ma_print print;
    int key_length = ma_capture_key(__builtin_frame_address(0), key, &print);
    pid_t tid = current_tid();
    writer_lock();
    uint32_t stack = current_stack_locked(key, key_length, print);
    ma_in_recorder = 0;
    t_in_program_call = 1;
    void *result = ma_real.mremap(old, old_length, new_length, flags, new_address);
    t_in_program_call = 0;
    int saved_errno = errno;
    ma_in_recorder = 1;
    uint8_t *p = reserve(MA_MAX_EVENT_RECORD + 64);
    p = put_thread(p, tid);
    *p++ = MA_REC_MREMAP;
    p = put_address(p, old, 1);
    p = ma_put_uv(p, old_length);
    p = ma_put_uv(p, new_length);
    p = put_stack_id(p, stack);
    p = put_address(p, result == (void *)-1 ? NULL : result, 0);
    commit(p);
    writer_unlock();
    after_mapping_event();
    errno = saved_errno;
    ma_in_recorder = 0;
    return result;
}

void ma_record_thread_name(const char *name) {
    ma_in_recorder = 1;
    pid_t tid = current_tid();
    size_t length = strnlen(name, sizeof t_name - 1);
    memcpy(t_name, name, length);
    t_name[length] = 0;
    writer_lock();
    uint8_t *p = reserve(64);
    *p++ = MA_REC_THREAD_NAME;
    p = ma_put_uv(p, (uint64_t)tid);
    p = ma_put_str(p, t_name, length);
    commit(p);
    writer_unlock();
    ma_in_recorder = 0;
}

/* 1 in a vfork child (gcc's driver and collect2 start cc1, as and ld with vfork + execvp): it runs
 * in the parent's memory until it execs or calls _exit, and neither ends the parent's trace. */
static int is_vfork_child(void) { return getpid() != g_trace_pid; }

/* At the trace's end (g_lock held, everything written): the header says so when malloc resolved
 * elsewhere and no heap call reached the recorder. */
static void flag_own_malloc_if_unseen(void) {
    if (!g_program_has_own_malloc || g_heap_seen || (g_header_flags & MA_FLAG_OWN_MALLOC)) return;
    g_header_flags |= MA_FLAG_OWN_MALLOC;
    uint8_t flags[2] = {(uint8_t)(g_header_flags & 0xff), (uint8_t)(g_header_flags >> 8)};
    if (pwrite(g_fd, flags, sizeof flags, 10) != (ssize_t)sizeof flags) { /* the note is lost, not the trace */ }
}

void ma_record_exit(int how) {
    if (is_vfork_child()) return;
    ma_in_recorder = 1;
    uint64_t now = ma_monotonic_ns();
    writer_lock();
    uint8_t *p = reserve(32);
    *p++ = MA_REC_EXIT;
    p = ma_put_uv(p, now - g_start_ns);
    p = ma_put_uv(p, (uint64_t)how);
    commit(p);
    drain();
    flag_own_malloc_if_unseen();
    finish_pending();
    writer_unlock();
    ma_in_recorder = 0;
}

void ma_record_exec(const char *path) {
    if (is_vfork_child()) return;
    ma_in_recorder = 1;
    writer_lock();
    size_t length = path ? strnlen(path, 4096) : 0;
    uint8_t *p = reserve(32 + length);
    *p++ = MA_REC_EXEC;
    p = ma_put_str(p, path ? path : "", length);
    commit(p);
    drain();
    flag_own_malloc_if_unseen();
    finish_pending();
    writer_unlock();
    ma_in_recorder = 0;
}

__attribute__((constructor)) static void ma_constructor(void) {
    ma_hook_busy++;
    ma_in_recorder = 1;
    ma_is_recording();
    ma_in_recorder = 0;
    ma_hook_busy--;
}

/* At exit: write everything, stop the flusher, then keep recording write-through, so that frees
 * made by destructors that run after this one still reach the trace. */
__attribute__((destructor)) static void ma_destructor(void) {
    if (__atomic_load_n(&ma_state, __ATOMIC_ACQUIRE) != MA_STATE_ON) return;
    /* exit() from a signal handler that interrupted a hook on this thread (a crash handler that
     * calls exit, as binutils' and gcc's do). Inside the program's realloc or mremap the hook holds
     * the writer lock with every record whole: release it (the hook never resumes) and finish the
     * trace. Anywhere else the recorder may be midway: taking the lock again could hang the exit,
     * so leave the trace as it is (it reads as truncated). */
    if (ma_hook_busy) {
        if (!t_in_program_call) return;
        t_in_program_call = 0;
        ma_hook_busy = 0;
        writer_unlock();
    }
    ma_hook_busy++;
    ma_in_recorder = 1;
    writer_lock();
    drain();
    writer_unlock();
    stop_flusher();
    writer_lock();
    g_sync_writes = 1;
    /* Buffers another thread filled between the drain and the flusher's stop. */
    for (int k = 0; k < MA_BUFFER_COUNT; k++) {
        struct ma_buffer *b = &g_buffers[(g_next_flush + k) % MA_BUFFER_COUNT];
        if (b->full) {
            write_buffer((int)(b - g_buffers));
            b->full = 0;
        }
    }
    writer_unlock();
    emit_residency(ma_monotonic_ns());
    ma_record_exit(MA_EXIT_NORMAL);
    writer_lock();
    g_write_through = 1;
    writer_unlock();
    ma_in_recorder = 0;
    ma_hook_busy--;
}
