#include "czlib.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Runs one whole-buffer deflate (gzip wrapper: windowBits 15 + 16) or inflate (+ 32: gzip or zlib). */
static int mematlas_gzip_run(const uint8_t *input, size_t size, uint8_t **out, size_t *out_size, int compress) {
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    int status = compress ? deflateInit2(&stream, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)
                          : inflateInit2(&stream, 15 + 32);
    if (status != Z_OK) return -1;
    size_t capacity = compress ? deflateBound(&stream, (uLong)size) + 64 : size * 4 + 1024;
    uint8_t *buffer = malloc(capacity);
    if (!buffer) goto fail;
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)size;
    size_t produced = 0;
    for (;;) {
        if (produced == capacity) {
            uint8_t *grown = realloc(buffer, capacity * 2);
            if (!grown) goto fail;
            buffer = grown;
            capacity *= 2;
        }
        stream.next_out = buffer + produced;
        stream.avail_out = (uInt)(capacity - produced);
        status = compress ? deflate(&stream, Z_FINISH) : inflate(&stream, Z_NO_FLUSH);
        produced = capacity - stream.avail_out;
        if (status == Z_STREAM_END) break;
        if (status != Z_OK && status != Z_BUF_ERROR) goto fail;
        if (status == Z_BUF_ERROR && stream.avail_out != 0) goto fail; /* input ended early */
    }
    if (compress) deflateEnd(&stream); else inflateEnd(&stream);
    *out = buffer;
    *out_size = produced;
    return 0;
fail:
    free(buffer);
    if (compress) deflateEnd(&stream); else inflateEnd(&stream);
    return -1;
}

int mematlas_gzip_compress(const uint8_t *input, size_t size, uint8_t **out, size_t *out_size) {
    return mematlas_gzip_run(input, size, out, out_size, 1);
}

int mematlas_gzip_decompress(const uint8_t *input, size_t size, uint8_t **out, size_t *out_size) {
    return mematlas_gzip_run(input, size, out, out_size, 0);
}
