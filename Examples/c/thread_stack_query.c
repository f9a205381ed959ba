/* Four threads that each ask for their own stack (pthread_getattr_np) before they allocate, as
 * Rust's std and the sanitizers do at every thread start. glibc's pthread_getattr_np calls realloc
 * (for a CPU set) while it holds the thread's lock: the recorder, capturing that realloc's stack,
 * must not ask for the same thread's attributes again (it used to, and waited forever).
 * Each thread then allocates and frees 10 blocks of 64 bytes in worker(). Output via write(2). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile sink;

__attribute__((noinline)) static void *worker(void *unused) {
    (void)unused;
    pthread_attr_t attr;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstacksize(&attr, &size);
        pthread_attr_destroy(&attr);
    }
    for (int i = 0; i < 10; i++) {
        sink = malloc(64);
        free(sink);
    }
    return size > 0 ? (void *)1 : NULL;
}

int main(void) {
    pthread_t threads[4];
    int known = 0;
    for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, worker, NULL);
    for (int i = 0; i < 4; i++) {
        void *result = NULL;
        pthread_join(threads[i], &result);
        known += result != NULL;
    }
    const char *text = known == 4 ? "4 threads knew their stack size\n" : "a thread did not know its stack size\n";
    write(1, text, strlen(text));
    return known == 4 ? 0 : 1;
}
