/* Four threads allocate and free in a loop while the main thread forks 100 children; each child
 * allocates a little and exits. Every one of the 101 processes must run to completion under the
 * recorder (no deadlock in fork) and write its own trace. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int stop;
static void *volatile sink;

static void *churn(void *unused) {
    (void)unused;
    while (!stop) {
        char *p = malloc(64);
        memset(p, 1, 64);
        sink = p;
        free(p);
    }
    return NULL;
}

int main(void) {
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, churn, NULL);
    int ok = 0;
    for (int k = 0; k < 100; k++) {
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
