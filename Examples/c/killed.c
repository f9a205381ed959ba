/* Allocates 1,000 blocks, says so on stdout, then waits to be killed (SIGKILL): a trace of a
 * killed process must still hold every event older than one sample interval. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *volatile sink;

int main(void) {
    for (int i = 0; i < 1000; i++) sink = malloc(100 + (size_t)i);
    printf("allocated\n");
    fflush(stdout);
    for (;;) pause();
}
