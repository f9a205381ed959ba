#ifndef MEMATLAS_SHIMS_H
#define MEMATLAS_SHIMS_H
/* Tiny C shims for what Swift cannot call directly (variadic syscalls, kernel structs).
 * Every symbol is prefixed `mematlas_shim_`. Functions return -1 and leave errno set on failure,
 * exactly like the libc calls they wrap; the Swift seam (VirtualMemory/System/Syscalls.swift)
 * turns that into a typed error. */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The perf event kinds MemAtlas opens (a subset of `perf_event_attr`). */
typedef struct mematlas_shim_perf_config {
    uint32_t type;            /* PERF_TYPE_SOFTWARE, PERF_TYPE_HARDWARE, PERF_TYPE_HW_CACHE */
    uint64_t config;          /* e.g. PERF_COUNT_SW_PAGE_FAULTS */
    uint64_t sample_period;   /* 0: counting only (no ring buffer records) */
    uint64_t sample_type;     /* PERF_SAMPLE_* bits */
    int inherit;              /* follow threads and children created after opening */
    int enable_on_exec;       /* start disabled, enable when the task calls exec */
    int exclude_callchain_kernel;
    int exclude_kernel;
    int exclude_hv;
} mematlas_shim_perf_config;

/* Constants Swift needs, re-exported as plain values. */
extern const uint32_t mematlas_shim_perf_type_software;
extern const uint32_t mematlas_shim_perf_type_hardware;
extern const uint32_t mematlas_shim_perf_type_hw_cache;
extern const uint64_t mematlas_shim_perf_sw_page_faults;
extern const uint64_t mematlas_shim_perf_sw_page_faults_min;
extern const uint64_t mematlas_shim_perf_sw_page_faults_maj;
extern const uint64_t mematlas_shim_perf_hw_cpu_cycles;
extern const uint64_t mematlas_shim_perf_hw_cache_dtlb_read_miss;
extern const uint64_t mematlas_shim_perf_sample_ip;
extern const uint64_t mematlas_shim_perf_sample_tid;
extern const uint64_t mematlas_shim_perf_sample_callchain;
extern const uint64_t mematlas_shim_perf_sample_addr;
extern const uint32_t mematlas_shim_perf_record_sample;
extern const uint32_t mematlas_shim_perf_record_lost;

/* `syscall(SYS_perf_event_open, &attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)`. */
int mematlas_shim_perf_event_open(const mematlas_shim_perf_config *config, pid_t pid, int cpu);

/* `ioctl(fd, PERF_EVENT_IOC_ENABLE or _DISABLE, 0)`. */
int mematlas_shim_perf_event_enable(int fd, int enable);

/* Copies every unread byte of a perf ring buffer (`base` = the mmapped control page followed by
 * `data_size` bytes of data) into `out`, unwrapping the ring, and marks it read. Returns the number
 * of bytes copied (at most `capacity`, always whole records). */
size_t mematlas_shim_perf_ring_drain(void *base, size_t data_size, void *out, size_t capacity);

/* Forks a child that calls `ptrace(PTRACE_TRACEME)`, stops itself with SIGSTOP, then `execvp`s
 * `path` with `argv` (NULL-terminated). Returns the child pid (already stopped and traced, with
 * PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL set), or -1 with errno. If exec
 * fails the child exits with status 127. */
pid_t mematlas_shim_spawn_traced(const char *path, char *const argv[]);

/* `ptrace(PTRACE_CONT, pid, 0, signal)`. */
int mematlas_shim_ptrace_continue(pid_t pid, int signal);

/* Classifies a `waitpid` status: 0 exited, 1 killed by a signal, 2 exit stop (PTRACE_EVENT_EXIT),
 * 3 exec stop (PTRACE_EVENT_EXEC), 4 other ptrace or signal stop (`*signal` = the signal to pass on). */
int mematlas_shim_wait_status_kind(int status, int *value);

/* A hint that `address` will be written soon: the analyses' hash tables look up the slot of an
 * event a few events ahead, so the cache miss overlaps the work in between. */
/* A file descriptor that polls readable once process `pid` has ended (pidfd_open, Linux 5.3), or
 * -1 with errno (ESRCH: it has ended and been reaped). */
int mematlas_shim_pidfd_open(pid_t pid);

/* An eventfd (close-on-exec, non-blocking) for waking a thread that polls, or -1. */
int mematlas_shim_wake_fd(void);

static inline void mematlas_shim_prefetch(const void *address) { __builtin_prefetch(address, 1, 3); }

#endif
