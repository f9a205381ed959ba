/* Loads a library that allocates (dl_library.c), uses it, unloads it, then allocates on its own:
 * a trace's module maps must hold the library while it is loaded, and the library's call stacks
 * must still resolve to its functions after it is gone.
 * Usage: dl_host PATH-TO-LIBRARY
 *   dlopen (the library's constructor: malloc 3 x 48), dl_library_make(20) (malloc 20 x 200),
 *   dl_library_release(10) (free 10), dlclose (its destructor: free 3), a pause of 200 ms (the
 *   recorder notices the unload at a sample tick), then after_dlclose(): malloc 5 x 300, free 3.
 *   Left live: 10 blocks from dl_library_make, 2 from after_dlclose. Writes with write(2) only. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *volatile sink[5];

static void say(const char *text) { write(1, text, strlen(text)); }

__attribute__((noinline)) static void after_dlclose(void) {
    for (int i = 0; i < 5; i++) sink[i] = malloc(300);
    for (int i = 0; i < 3; i++) free(sink[i]);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        say("usage: dl_host PATH-TO-LIBRARY\n");
        return 2;
    }
    void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        say("dlopen failed\n");
        return 1;
    }
    void (*make)(int) = (void (*)(int))dlsym(library, "dl_library_make");
    void (*release)(int) = (void (*)(int))dlsym(library, "dl_library_release");
    if (!make || !release) return 1;
    make(20);
    release(10);
    say(dlclose(library) == 0 ? "dlclose ok\n" : "dlclose failed\n");
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    after_dlclose();
    say("done\n");
    return 0;
}
