#define _GNU_SOURCE
#include "mematlas_shims.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

const uint32_t mematlas_shim_perf_type_software = PERF_TYPE_SOFTWARE;
const uint32_t mematlas_shim_perf_type_hardware = PERF_TYPE_HARDWARE;
const uint32_t mematlas_shim_perf_type_hw_cache = PERF_TYPE_HW_CACHE;
const uint64_t mematlas_shim_perf_sw_page_faults = PERF_COUNT_SW_PAGE_FAULTS;
const uint64_t mematlas_shim_perf_sw_page_faults_min = PERF_COUNT_SW_PAGE_FAULTS_MIN;
const uint64_t mematlas_shim_perf_sw_page_faults_maj = PERF_COUNT_SW_PAGE_FAULTS_MAJ;
const uint64_t mematlas_shim_perf_hw_cpu_cycles = PERF_COUNT_HW_CPU_CYCLES;
const uint64_t mematlas_shim_perf_hw_cache_dtlb_read_miss =
    PERF_COUNT_HW_CACHE_DTLB | (PERF_COUNT_HW_CACHE_OP_READ << 8) | (PERF_COUNT_HW_CACHE_RESULT_MISS << 16);
const uint64_t mematlas_shim_perf_sample_ip = PERF_SAMPLE_IP;
const uint64_t mematlas_shim_perf_sample_tid = PERF_SAMPLE_TID;
const uint64_t mematlas_shim_perf_sample_callchain = PERF_SAMPLE_CALLCHAIN;
const uint64_t mematlas_shim_perf_sample_addr = PERF_SAMPLE_ADDR;
const uint32_t mematlas_shim_perf_record_sample = PERF_RECORD_SAMPLE;
const uint32_t mematlas_shim_perf_record_lost = PERF_RECORD_LOST;

int mematlas_shim_perf_event_open(const mematlas_shim_perf_config *config, pid_t pid, int cpu) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = config->type;
    attr.config = config->config;
    attr.sample_period = config->sample_period;
    attr.sample_type = config->sample_type;
    attr.inherit = config->inherit ? 1 : 0;
    attr.disabled = config->enable_on_exec ? 1 : 0;
    attr.enable_on_exec = config->enable_on_exec ? 1 : 0;
    attr.exclude_callchain_kernel = config->exclude_callchain_kernel ? 1 : 0;
    attr.exclude_kernel = config->exclude_kernel ? 1 : 0;
    attr.exclude_hv = config->exclude_hv ? 1 : 0;
    if (config->sample_period > 0) {
        attr.wakeup_events = 64;
    }
    return (int)syscall(SYS_perf_event_open, &attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

int mematlas_shim_perf_event_enable(int fd, int enable) {
    return ioctl(fd, enable ? PERF_EVENT_IOC_ENABLE : PERF_EVENT_IOC_DISABLE, 0);
}

size_t mematlas_shim_perf_ring_drain(void *base, size_t data_size, void *out, size_t capacity) {
    struct perf_event_mmap_page *control = base;
    unsigned char *data = (unsigned char *)base + control->data_offset;
    if (control->data_offset == 0) data = (unsigned char *)base + 4096;
    uint64_t head = __atomic_load_n(&control->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = control->data_tail;
    size_t copied = 0;
    while (tail < head) {
        struct perf_event_header header;
        size_t at = (size_t)(tail % data_size);
        for (size_t i = 0; i < sizeof header; i++) ((unsigned char *)&header)[i] = data[(at + i) % data_size];
        if (header.size == 0 || copied + header.size > capacity) break;
        for (size_t i = 0; i < header.size; i++) ((unsigned char *)out)[copied + i] = data[(at + i) % data_size];
        copied += header.size;
        tail += header.size;
    }
    __atomic_store_n(&control->data_tail, tail, __ATOMIC_RELEASE);
    return copied;
}

pid_t mematlas_shim_spawn_traced(const char *path, char *const argv[]) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) _exit(126);
        raise(SIGSTOP);
        execvp(path, argv);
        _exit(127);
    }
    int status = 0;
    for (;;) {
        pid_t got = waitpid(pid, &status, 0);
        if (got == pid) break;
        if (got < 0 && errno != EINTR) return -1;
    }
    if (!WIFSTOPPED(status)) {
        errno = ECHILD;
        return -1;
    }
    long options = PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL;
    if (ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)options) != 0) {
        int saved = errno;
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        errno = saved;
        return -1;
    }
    return pid;
}

int mematlas_shim_ptrace_continue(pid_t pid, int signal) {
    return (int)ptrace(PTRACE_CONT, pid, 0, (void *)(long)signal);
}

int mematlas_shim_wait_status_kind(int status, int *value) {
    if (WIFEXITED(status)) { *value = WEXITSTATUS(status); return 0; }
    if (WIFSIGNALED(status)) { *value = WTERMSIG(status); return 1; }
    if (WIFSTOPPED(status)) {
        int event = status >> 16;
        if (event == PTRACE_EVENT_EXIT) { *value = 0; return 2; }
        if (event == PTRACE_EVENT_EXEC) { *value = 0; return 3; }
        int sig = WSTOPSIG(status);
        /* Event stops and stray SIGSTOPs are swallowed; real signals are passed on. */
        *value = (event != 0 || sig == SIGSTOP) ? 0 : sig;
        return 4;
    }
    *value = 0;
    return 4;
}

int mematlas_shim_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int mematlas_shim_wake_fd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }
