/* The example `mematlas run` records when given no program: a small program with one of each
 * thing a memory profile shows - a peak, a leak, temporary allocations, realloc growth, calloc,
 * aligned blocks and an anonymous mapping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct node {
    struct node *next;
    char payload[48];
};

/* A linked list of 10,000 nodes: the peak of the heap. */
static struct node *build_list(int count) {
    struct node *head = NULL;
    for (int i = 0; i < count; i++) {
        struct node *n = malloc(sizeof *n);
        n->next = head;
        snprintf(n->payload, sizeof n->payload, "node %d", i);
        head = n;
    }
    return head;
}

static void free_list(struct node *head) {
    while (head) {
        struct node *next = head->next;
        free(head);
        head = next;
    }
}

/* A buffer grown by doubling with realloc. */
static char *grow_buffer(size_t target) {
    size_t capacity = 16;
    char *buffer = malloc(capacity);
    while (capacity < target) {
        capacity *= 2;
        buffer = realloc(buffer, capacity);
    }
    memset(buffer, 'x', capacity);
    return buffer;
}

/* Temporary allocations: each freed before anything else is allocated. */
static size_t format_lines(int count) {
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        char *line = malloc(64);
        total += (size_t)snprintf(line, 64, "line %d", i);
        free(line);
    }
    return total;
}

/* Forgotten blocks: the leak. The pointers escape through a volatile store, so the compiler
 * cannot drop the allocations, and are then overwritten: nothing refers to the blocks any more. */
static void *volatile last_leaked;
static void leak_some(int count) {
    for (int i = 0; i < count; i++) {
        char *lost = calloc(1, 100);
        lost[0] = (char)i;
        last_leaked = lost;
    }
    last_leaked = NULL;
}

int main(void) {
    struct node *list = build_list(10000);
    char *buffer = grow_buffer(1 << 20);
    size_t formatted = format_lines(1000);
    leak_some(25);

    void *volatile aligned = aligned_alloc(4096, 8192);
    void *mapping = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(mapping, 1, 1 << 20);

    printf("demo: built a list, grew a buffer to %zu bytes, formatted %zu bytes, leaked 25 blocks\n", (size_t)1 << 20, formatted);
    munmap(mapping, 1 << 20);
    free(aligned);
    free(buffer);
    free_list(list);
    return 0;
}
