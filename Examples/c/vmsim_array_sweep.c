/* vmsim_array_sweep: writes then reads 256 ints, one 4-byte store and one 4-byte load each, so a
 * lackey trace of it holds exactly 256 ' S ADDR,4' and 256 ' L ADDR,4' lines in the array's range.
 * Writes the array's address (hex) to the file named by argv[1] so a test can find those lines. */
#include <stdio.h>

static volatile int data[256];

int main(int argc, char **argv) {
    for (int i = 0; i < 256; i++) data[i] = i;
    long sum = 0;
    for (int i = 0; i < 256; i++) sum += data[i];
    if (argc > 1) {
        FILE *out = fopen(argv[1], "w");
        if (!out) return 2;
        fprintf(out, "%lx\n", (unsigned long)(void *)data);
        fclose(out);
    }
    return sum == 255L * 256 / 2 ? 0 : 1;
}
