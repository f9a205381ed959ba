// The trace schema's one function: recoding raw addresses (MA_FLAG_RAW_ADDRESSES) into the adr
// coding, which `mematlas record` runs on the started program's trace before compressing it.
#include "mematlas_trace_schema.h"

struct cursor {
    const uint8_t *p, *end;
    int cut; /* the record goes on past the input */
    int bad; /* a malformed field */
};

static uint64_t get_uv(struct cursor *c) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (c->p >= c->end) {
            c->cut = 1;
            return 0;
        }
        uint8_t byte = *c->p++;
        if (shift < 64) v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) return v;
    }
    c->bad = 1;
    return 0;
}

static void skip_uvs(struct cursor *c, uint64_t count) {
    for (uint64_t i = 0; i < count && !c->cut && !c->bad; i++) get_uv(c);
}

static void skip_raw(struct cursor *c) {
    if (c->end - c->p < 8) c->cut = 1;
    else c->p += 8;
}

static void skip_str(struct cursor *c) {
    uint64_t length = get_uv(c);
    if (c->cut || c->bad) return;
    if (length > (uint64_t)(c->end - c->p)) c->cut = 1;
    else c->p += length;
}

/* Moves the cursor past a record without addresses (the tag read already); 0 for an unknown tag. */
static int skip_metadata(struct cursor *c, uint8_t tag) {
    switch (tag) {
    case MA_REC_PROCESS:
        skip_uvs(c, 8);
        skip_str(c);
        skip_str(c);
        return 1;
    case MA_REC_MODULES: {
        uint64_t modules = get_uv(c);
        for (uint64_t m = 0; m < modules && !c->cut && !c->bad; m++) {
            get_uv(c);
            skip_str(c);
            skip_str(c);
            uint64_t segments = get_uv(c);
            for (uint64_t s = 0; s < segments && !c->cut && !c->bad; s++) skip_uvs(c, 3);
        }
        return 1;
    }
    case MA_REC_STACK: skip_uvs(c, get_uv(c)); return 1;
    case MA_REC_THREAD: skip_uvs(c, 1); return 1;
    case MA_REC_TICK: case MA_REC_EXIT: skip_uvs(c, 2); return 1;
    case MA_REC_THREAD_NAME: skip_uvs(c, 1); skip_str(c); return 1;
    case MA_REC_EXEC: skip_str(c); return 1;
    case MA_REC_RESIDENCY: {
        get_uv(c);
        uint64_t regions = get_uv(c);
        for (uint64_t r = 0; r < regions && !c->cut && !c->bad; r++) {
            skip_uvs(c, 3);
            skip_uvs(c, get_uv(c));
        }
        return 1;
    }
    default: return 0;
    }
}

/* The event records as runs of varints around at most two addresses: `lead` varints, an address
 * (first: 'a' released, 'A' returned, 0 none), `middle` varints, an address (second). */
struct event_layout {
    uint8_t lead, first, middle, second;
};

static struct event_layout layout_of(uint8_t tag) {
    switch (tag) {
    case MA_REC_MALLOC: case MA_REC_CALLOC: case MA_REC_VALLOC: case MA_REC_PVALLOC: return (struct event_layout){2, 'A', 0, 0};
    case MA_REC_POSIX_MEMALIGN: case MA_REC_ALIGNED_ALLOC: case MA_REC_MEMALIGN: return (struct event_layout){3, 'A', 0, 0};
    case MA_REC_REALLOC: case MA_REC_REALLOCARRAY: return (struct event_layout){0, 'a', 2, 'A'};
    case MA_REC_FREE: return (struct event_layout){0, 'a', 0, 0};
    case MA_REC_MMAP: return (struct event_layout){4, 'A', 0, 0};
    case MA_REC_MUNMAP: return (struct event_layout){0, 'a', 1, 0};
    case MA_REC_MREMAP: return (struct event_layout){0, 'a', 3, 'A'};
    default: return (struct event_layout){0, 0, 0, 0};
    }
}

/* Bytes of `count` varints at p (at least 8 + 10 * count readable); 0 for an over-long varint. */
static inline size_t varints_length(const uint8_t *p, int count) {
    size_t length = 0;
    for (int k = 0; k < count; k++) {
        uint64_t word;
        memcpy(&word, p + length, 8);
        uint64_t stops = ~word & 0x8080808080808080ull; /* bytes that end the varint */
        if (stops) {
            length += (size_t)(__builtin_ctzll(stops) >> 3) + 1;
        } else if (!(p[length + 8] & 0x80)) {
            length += 9;
        } else if (!(p[length + 9] & 0x80)) {
            length += 10;
        } else {
            return 0;
        }
    }
    return length;
}

/* Copies `count` varints (at most 40 bytes; a fixed-size copy, which compiles to a few moves). */
static inline int copy_varints(uint8_t **out, const uint8_t **in, int count) {
    if (count == 0) return 1;
    size_t length = varints_length(*in, count);
    if (length == 0) return 0;
    memcpy(*out, *in, 48);
    *out += length;
    *in += length;
    return 1;
}

static inline void code_address(uint8_t **out, const uint8_t **in, struct ma_address_coder *coder, uint8_t kind) {
    uint64_t address;
    memcpy(&address, *in, 8); /* little-endian hosts only, as the recorder */
    *in += 8;
    *out = ma_put_adr(*out, coder, address, kind == 'a');
}

/* An event record with 64 input bytes and 96 output bytes to spare (more than any event needs):
 * one pass, no bounds checks. Returns 0 for a malformed varint. */
static inline int transcode_event(struct event_layout layout, struct ma_address_coder *coder, const uint8_t **in, uint8_t **out) {
    const uint8_t *p = *in;
    uint8_t *o = *out;
    *o++ = *p++;
    if (!copy_varints(&o, &p, layout.lead)) return 0;
    code_address(&o, &p, coder, layout.first);
    if (!copy_varints(&o, &p, layout.middle)) return 0;
    if (layout.second) code_address(&o, &p, coder, layout.second);
    *in = p;
    *out = o;
    return 1;
}

long ma_transcode_raw_addresses(struct ma_address_coder *coder, const uint8_t *input, size_t input_size,
                                uint8_t *output, size_t output_capacity, size_t *written) {
    const uint8_t *in = input, *in_end = input + input_size;
    uint8_t *out = output, *out_end = output + output_capacity;
    while (in < in_end) {
        uint8_t tag = *in;
        struct cursor c = {in + 1, in_end, 0, 0};
        struct event_layout layout = layout_of(tag);
        if (layout.first && in_end - in >= 64 && out_end - out >= 96) {
            if (!transcode_event(layout, coder, &in, &out)) goto unreadable;
            continue;
        }
        if (layout.first) {
            /* Near the end of the input or the output: measure the record first (a cut one writes
             * nothing), then code it from a copy padded as transcode_event reads. */
            skip_uvs(&c, layout.lead);
            if (!c.cut && !c.bad) skip_raw(&c);
            skip_uvs(&c, layout.middle);
            if (layout.second && !c.cut && !c.bad) skip_raw(&c);
        } else if (!skip_metadata(&c, tag)) {
            goto unreadable;
        }
        if (c.bad) goto unreadable;
        size_t length = (size_t)(c.p - in);
        if (c.cut || (size_t)(out_end - out) < length + 4) break;
        if (layout.first) {
            uint8_t record[64] = {0}, coded[96];
            memcpy(record, in, length); /* at most 49 bytes: 10 a varint, checked above */
            const uint8_t *r = record;
            uint8_t *o = coded;
            if (!transcode_event(layout, coder, &r, &o)) goto unreadable;
            memcpy(out, coded, (size_t)(o - coded));
            out += o - coded;
        } else {
            memcpy(out, in, length);
            out += length;
        }
        in += length;
    }
    *written = (size_t)(out - output);
    return (long)(in - input);
unreadable:
    *written = (size_t)(out - output);
    return -1;
}
