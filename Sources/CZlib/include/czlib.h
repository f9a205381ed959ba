/* gzip compression for MemAtlas's pprof export, through the system zlib (-lz). */
#ifndef MEMATLAS_CZLIB_H
#define MEMATLAS_CZLIB_H
#include <stddef.h>
#include <stdint.h>

/* Compresses `size` bytes into a gzip member. On success returns 0 and sets *out (free() it) and
 * *out_size; returns -1 when zlib fails or memory runs out. */
int mematlas_gzip_compress(const uint8_t *input, size_t size, uint8_t **out, size_t *out_size);

/* Decompresses a gzip stream. Same contract as mematlas_gzip_compress; -1 for corrupt input. */
int mematlas_gzip_decompress(const uint8_t *input, size_t size, uint8_t **out, size_t *out_size);

#endif
