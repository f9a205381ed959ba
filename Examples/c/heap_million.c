/* A heap with a million live blocks, for timing `mematlas heapmap` (see Benchmarks/heapmap):
   1.5 million blocks of 16 to 512 bytes, then every third freed (one million stay live). */
#include <stdlib.h>
#include <string.h>

#define COUNT 1500000

int main(void) {
    char **blocks = malloc(COUNT * sizeof *blocks);
    unsigned seed = 12345;
    for (int i = 0; i < COUNT; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t size = 16 + (seed >> 16) % 497;
        blocks[i] = malloc(size);
        blocks[i][0] = (char)i;
    }
    for (int i = 0; i < COUNT; i += 3) free(blocks[i]);
    return 0;
}
