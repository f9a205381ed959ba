/* Allocator calls at odd moments and with odd arguments; prints what each returned (and errno),
 * so a run under the recorder can be compared with a plain run line by line:
 * malloc before main (a constructor), from a signal handler, free(NULL), realloc(p, 0),
 * realloc(NULL, n), sizes that must fail with ENOMEM, posix_memalign with a bad alignment
 * (EINVAL), aligned_alloc with a non power of two, and a dlopen'd library that allocates. */
#include <dlfcn.h>
#include <errno.h>
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
    raise(SIGUSR1);
    printf("signal handler malloc: %s\n", from_handler ? "ok" : "NULL");
    free(from_handler);

    free(NULL);
    void *volatile nothing = NULL; /* a literal NULL lets the compiler turn realloc into malloc */
    void *p = realloc(nothing, 40);
    printf("realloc(NULL, 40): %s\n", p ? "ok" : "NULL");
    errno = 0;
    void *q = realloc(p, 0);
    printf("realloc(p, 0): %s\n", q ? "non-NULL" : "NULL");
    free(q);

    errno = 0;
    void *huge = malloc(too_big);
    printf("malloc(SIZE_MAX - 4096): %s errno=%s\n", huge ? "ok" : "NULL", strerror(errno));
    errno = 0;
    void *huge_calloc = calloc(half, 4);
    printf("calloc overflow: %s errno=%s\n", huge_calloc ? "ok" : "NULL", strerror(errno));
    void *block = malloc(16);
    errno = 0;
    void *huge_realloc = realloc(block, too_big);
    printf("realloc to SIZE_MAX - 4096: %s errno=%s\n", huge_realloc ? "ok" : "NULL", strerror(errno));
    free(block);

    void *aligned = NULL;
    int rc = posix_memalign(&aligned, 3, 64);
    printf("posix_memalign(alignment 3): %s\n", strerror(rc));
    errno = 0;
    void *odd = aligned_alloc(3, 64);
    printf("aligned_alloc(alignment 3): %s errno=%s\n", odd ? "ok" : "NULL", strerror(errno));
    free(odd);

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
