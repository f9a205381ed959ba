/* Forks three children: one allocates and exits, one execs /bin/echo, one allocates and calls
 * _exit. The parent allocates, waits for them, and exits with status 3: every process writes a
 * trace of its own, and the exit status passes through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile sink;

static void allocate(int count, size_t size) {
    for (int i = 0; i < count; i++) {
        char *p = malloc(size);
        memset(p, i, size);
        sink = p;
        free(p);
    }
}

int main(void) {
    allocate(100, 64);
    pid_t children[3];
    for (int k = 0; k < 3; k++) {
        pid_t pid = fork();
        if (pid == 0) {
            if (k == 0) {
                allocate(50, 128);
                exit(0);
            }
            if (k == 1) {
                execl("/bin/echo", "echo", "child", "exec'd", (char *)NULL);
                _exit(127);
            }
            allocate(20, 256);
            _exit(0);
        }
        children[k] = pid;
        waitpid(pid, NULL, 0);
    }
    (void)children;
    allocate(10, 32);
    printf("parent done\n");
    return 3;
}
