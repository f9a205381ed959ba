/* A small shared library that allocates, for dl_host.c: its constructor allocates 3 blocks of 48
 * bytes when it is loaded (its destructor frees them at dlclose), dl_library_make(n) allocates n
 * blocks of 200 bytes, and dl_library_release(n) frees the first n of them.
 * Build: cc -shared -fPIC -g -fno-omit-frame-pointer -o libdl_library.so dl_library.c */
#include <stdlib.h>

static void *from_constructor[3];
static void *made[64];
static int made_count;

__attribute__((constructor)) static void dl_library_loaded(void) {
    for (int i = 0; i < 3; i++) from_constructor[i] = malloc(48);
}

__attribute__((destructor)) static void dl_library_unloading(void) {
    for (int i = 0; i < 3; i++) free(from_constructor[i]);
}

__attribute__((noinline)) void dl_library_make(int count) {
    for (int i = 0; i < count && made_count < 64; i++) made[made_count++] = malloc(200);
}

__attribute__((noinline)) void dl_library_release(int count) {
    for (int i = 0; i < count && i < made_count; i++) free(made[i]);
}
