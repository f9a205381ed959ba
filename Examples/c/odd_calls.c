/* Allocator calls at odd moments and with odd arguments; prints what each returned (and errno),
 * so a run under the recorder can be compared with a plain run line by line:
 * malloc before main (a constructor), from a signal handler, free(NULL), realloc(p, 0),
 * realloc(NULL, n), sizes that must fail with ENOMEM, posix_memalign with a bad alignment
 * (EINVAL), aligned_alloc with a non power of two, a block freed by another thread than the one
 * that allocated it, and a dlopen'd library that allocates.
 *
 * The odd calls run between two marker allocations, malloc(4242) and malloc(4343), with nothing
 * else allocating in between (results are printed after the second marker), so a trace holds
 * exactly, between the markers:
 *   malloc 33 (signal handler), free of it, free(NULL), realloc(NULL, 40), realloc(p, 0) -> NULL,
 *   free(NULL), malloc(SIZE_MAX - 4096) -> NULL, calloc(SIZE_MAX / 2, 4) -> NULL (size SIZE_MAX),
 *   malloc 16, realloc of it to SIZE_MAX - 4096 -> NULL, free of it, posix_memalign(3, 64) -> EINVAL,
 *   aligned_alloc(3, 64), free of it, malloc 24 on the main thread, free of it on another thread. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *early;
/* Sizes through a volatile, so the compiler neither warns about nor folds the failing calls. */
static volatile size_t too_big = SIZE_MAX - 4096, half = SIZE_MAX / 2;
static void *volatile from_handler;
static void *volatile sink;

/* The other thread: waits for a block, frees it, says so, then waits to be let go (so that what its
 * exit frees comes after the second marker). Pipes only: no allocation. */
static int to_thread[2], from_thread[2];
static void *shared;

static void *freeing_thread(void *unused) {
    (void)unused;
    char byte;
    if (read(to_thread[0], &byte, 1) != 1) return NULL;
    free(shared);
    write(from_thread[1], "f", 1);
    read(to_thread[0], &byte, 1);
    return NULL;
}

__attribute__((constructor)) static void before_main(void) { early = malloc(77); }

static void on_signal(int sig) {
    (void)sig;
    from_handler = malloc(33);
}

int main(int argc, char **argv) {
    printf("constructor malloc: %s\n", early ? "ok" : "NULL");
    free(early);
    signal(SIGUSR1, on_signal);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &usr1, NULL); /* whatever mask the caller left us */
    pthread_t thread;
    if (pipe(to_thread) != 0 || pipe(from_thread) != 0 || pthread_create(&thread, NULL, freeing_thread, NULL) != 0) return 1;

    sink = malloc(4242); /* first marker */
    raise(SIGUSR1);
    void *handler_block = from_handler;
    free(from_handler);

    /* Through a volatile: the compiler drops a literal free(NULL), and turns realloc(NULL, n) into malloc. */
    void *volatile nothing = NULL;
    free(nothing);
    void *p = realloc(nothing, 40);
    void *p_ok = p;
    errno = 0;
    void *q = realloc(p, 0);
    free(q);

    errno = 0;
    void *huge = malloc(too_big);
    int huge_errno = errno;
    errno = 0;
    void *huge_calloc = calloc(half, 4);
    int calloc_errno = errno;
    void *block = malloc(16);
    errno = 0;
    void *huge_realloc = realloc(block, too_big);
    int realloc_errno = errno;
    free(block);

    void *aligned = NULL;
    int rc = posix_memalign(&aligned, 3, 64);
    errno = 0;
    void *odd = aligned_alloc(3, 64);
    int odd_errno = errno;
    free(odd);

    shared = malloc(24);
    char byte = 's';
    write(to_thread[1], &byte, 1);
    int freed_elsewhere = read(from_thread[0], &byte, 1) == 1;
    sink = malloc(4343); /* second marker */

    write(to_thread[1], &byte, 1);
    pthread_join(thread, NULL);
    printf("signal handler malloc: %s\n", handler_block ? "ok" : "NULL");
    printf("realloc(NULL, 40): %s\n", p_ok ? "ok" : "NULL");
    printf("realloc(p, 0): %s\n", q ? "non-NULL" : "NULL");
    printf("malloc(SIZE_MAX - 4096): %s errno=%s\n", huge ? "ok" : "NULL", strerror(huge_errno));
    printf("calloc overflow: %s errno=%s\n", huge_calloc ? "ok" : "NULL", strerror(calloc_errno));
    printf("realloc to SIZE_MAX - 4096: %s errno=%s\n", huge_realloc ? "ok" : "NULL", strerror(realloc_errno));
    printf("posix_memalign(alignment 3): %s\n", strerror(rc));
    printf("aligned_alloc(alignment 3): %s errno=%s\n", odd ? "ok" : "NULL", strerror(odd_errno));
    printf("freed by another thread: %s\n", freed_elsewhere ? "ok" : "no");

    const char *library = argc > 1 ? argv[1] : "libz.so.1";
    void *handle = dlopen(library, RTLD_NOW);
    printf("dlopen %s: %s\n", library, handle ? "ok" : dlerror());
    if (handle) {
        const char *(*version)(void) = (const char *(*)(void))dlsym(handle, "zlibVersion");
        printf("zlibVersion: %s\n", version ? version() : "(none)");
        printf("dlclose: %d\n", dlclose(handle));
    }
    return 0;
}
