/* Allocator-lab example: a heap that fragments. Small blocks are allocated between medium ones, the
   medium ones are freed, and then larger requests cannot reuse the holes: the heap grows although
   plenty of memory is free. Record it and compare the models:
       mematlas record -o frag.trace -- ./lab_fragmentation
       mematlas simulate frag.trace --allocator all -o maps --real */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAIRS 4000

int main(void) {
    static char *small[PAIRS], *medium[PAIRS], *large[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        medium[i] = malloc(240 + (i % 8) * 16);
        small[i] = malloc(24);
        memset(medium[i], 1, 240);
        memset(small[i], 2, 24);
    }
    for (int i = 0; i < PAIRS; i++) free(medium[i]);  /* holes of 240..352 bytes between live small blocks */
    for (int i = 0; i < PAIRS; i++) {
        large[i] = malloc(400);  /* too big for any hole */
        memset(large[i], 3, 400);
    }
    size_t live = 0;
    for (int i = 0; i < PAIRS; i++) live += 24 + 400;
    printf("live bytes: %zu\n", live);
    for (int i = 0; i < PAIRS; i++) {
        free(small[i]);
        free(large[i]);
    }
    return 0;
}
