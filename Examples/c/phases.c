/* A program whose allocations change over time, for the report's time-range selection: three
 * phases of about 120 ms, each allocating from its own function, and a logger that allocates in
 * all of them. Usage: phases [MILLISECONDS_PER_PHASE] (default 120). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void pause_us(long us) {
    struct timespec t = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&t, NULL);
}

static void *volatile sink;

/* Allocates in every phase: a short-lived line per call. */
__attribute__((noinline)) static void log_line(int phase, int i) {
    char *line = malloc(48);
    snprintf(line, 48, "phase %d step %d", phase, i);
    sink = line;
    free(line);
}

/* Phase 1: a table of small rows that stays live until the end. */
__attribute__((noinline)) static char **load_table(int rows, long step_us) {
    char **table = malloc(sizeof(char *) * (size_t)rows);
    for (int i = 0; i < rows; i++) {
        table[i] = malloc(64);
        memset(table[i], 'r', 64);
        if (i % 20 == 0) {
            log_line(1, i);
            pause_us(step_us);
        }
    }
    return table;
}

/* Phase 2: temporary buffers of 200 bytes. */
__attribute__((noinline)) static void parse_rows(int rows, long step_us) {
    for (int i = 0; i < rows; i++) {
        char *buffer = malloc(200);
        memset(buffer, 'p', 200);
        sink = buffer;
        free(buffer);
        if (i % 20 == 0) {
            log_line(2, i);
            pause_us(step_us);
        }
    }
}

/* Phase 3: zeroed 1 KiB buckets, then one array grown with realloc. */
__attribute__((noinline)) static void build_index(int buckets, long step_us) {
    char *grown = NULL;
    for (int i = 0; i < buckets; i++) {
        char *bucket = calloc(1, 1024);
        sink = bucket;
        free(bucket);
        grown = realloc(grown, (size_t)(i + 1) * 16);
        if (i % 10 == 0) {
            log_line(3, i);
            pause_us(step_us);
        }
    }
    free(grown);
}

int main(int argc, char **argv) {
    long phase_ms = argc > 1 ? atol(argv[1]) : 120;
    /* Each phase makes 50 pauses: a phase lasts about phase_ms. */
    long step_us = phase_ms * 1000 / 50;
    char **table = load_table(1000, step_us);
    parse_rows(1000, step_us);
    build_index(500, step_us);
    for (int i = 0; i < 1000; i++) free(table[i]);
    free(table);
    printf("phases: done\n");
    return 0;
}
