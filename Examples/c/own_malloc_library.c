/* For own_malloc.c: a library whose constructor allocates. Libraries' constructors run before
 * the recorder's (its library is preloaded, so it is initialized after the program's other
 * libraries), so this malloc reaches the program's own allocator before the recorder has started,
 * as libLLVM's constructors do in rustc.
 * Build: cc -shared -fPIC -g -o libown_malloc_library.so own_malloc_library.c */
#include <stdlib.h>
#include <string.h>

char *own_malloc_library_greeting;

__attribute__((constructor)) static void own_malloc_library_loaded(void) {
    own_malloc_library_greeting = malloc(37);
    strcpy(own_malloc_library_greeting, "greeting from a library constructor");
}
