/* Four threads allocate from ever new call stacks (2^20 paths of recursion, so almost every stack
 * is new and goes through libunwind) while the main thread forks 100 children; each child
 * allocates ten times and exits. A child forked while another thread was inside libunwind
 * inherits libunwind's locks as they were: the recorder must not unwind with libunwind there.
 * Every one of the 101 processes must run to completion and write its trace. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int stop;
static void *volatile sink;

/* Two functions a level: the bits of `path` pick which one calls the next, so each path is its
 * own call stack. */
#define STEP(name, size)                                   \
    __attribute__((noinline)) static void name(unsigned long path, int depth) { \
        if (depth == 0) {                                   \
            void *p = malloc(size);                         \
            sink = p;                                       \
            free(p);                                        \
        } else if (path & 1) {                              \
            step_a(path >> 1, depth - 1);                   \
        } else {                                            \
            step_b(path >> 1, depth - 1);                   \
        }                                                   \
        __asm__ volatile("" ::: "memory");                  \
    }
__attribute__((noinline)) static void step_a(unsigned long path, int depth);
__attribute__((noinline)) static void step_b(unsigned long path, int depth);
STEP(step_a, 32)
STEP(step_b, 48)

static void *churn(void *seed) {
    for (unsigned long path = (unsigned long)(size_t)seed << 16; !stop; path++) step_a(path, 20);
    return NULL;
}

int main(void) {
    pthread_t threads[4];
    for (long i = 0; i < 4; i++) pthread_create(&threads[i], NULL, churn, (void *)i);
    int ok = 0;
    for (int k = 0; k < 100; k++) {
        usleep(1000);
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 0; i < 10; i++) {
                void *p = malloc(128);
                sink = p;
                free(p);
            }
            _exit(7);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        ok += WIFEXITED(status) && WEXITSTATUS(status) == 7;
    }
    stop = 1;
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    printf("%d children exited normally\n", ok);
    return ok == 100 ? 0 : 1;
}
