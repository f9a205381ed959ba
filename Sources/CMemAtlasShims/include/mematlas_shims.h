#ifndef MEMATLAS_SHIMS_H
#define MEMATLAS_SHIMS_H
/* Tiny C shims for what Swift cannot call directly (variadic syscalls, kernel structs).
 * Every symbol is prefixed `mematlas_shim_`. */
#endif
