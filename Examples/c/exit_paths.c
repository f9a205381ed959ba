/* Ends the process the ways that skip a normal return from main, after known allocator calls, so
 * a trace can be checked to hold every event up to the end:
 *   exit_paths _exit       malloc 10 blocks (100..109 bytes), free 4, then _exit(3)
 *   exit_paths abort       the same, then abort(): killed by SIGABRT
 *   exit_paths segv        the same, then a write through a null pointer: killed by SIGSEGV
 *   exit_paths crash       a SIGABRT handler that calls exit(9), then glibc aborts inside realloc
 *                          (an invalid pointer): exit runs while the realloc hook is in progress
 * It writes with write(2), never stdio (whose buffer would be an allocation of its own). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile sink;
static void *volatile sink_null;

static void say(const char *text) { write(1, text, strlen(text)); }

static void allocate_and_free_some(void) {
    void *blocks[10];
    for (int i = 0; i < 10; i++) blocks[i] = malloc(100 + (size_t)i);
    for (int i = 0; i < 4; i++) free(blocks[i]);
    sink = blocks[9];
}

static void on_abort(int sig) {
    (void)sig;
    say("SIGABRT handler: exit(9)\n");
    exit(9);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    allocate_and_free_some();
    if (strcmp(mode, "_exit") == 0) {
        say("calling _exit(3)\n");
        _exit(3);
    }
    if (strcmp(mode, "segv") == 0) {
        say("writing through a null pointer\n");
        *(volatile int *)sink_null = 1;
    }
    if (strcmp(mode, "abort") == 0) {
        say("calling abort()\n");
        abort();
    }
    if (strcmp(mode, "crash") == 0) {
        signal(SIGABRT, on_abort);
        char *block = malloc(64);
        memset(block, 0, 64);
        say("realloc of an invalid pointer\n");
        /* block + 16 has a zero chunk header: glibc says "realloc(): invalid pointer" and aborts. */
        char *volatile inside = block + 16;
        sink = realloc(inside, 128);
        say("not reached\n");
        return 1;
    }
    say("usage: exit_paths _exit|abort|crash\n");
    return 2;
}
