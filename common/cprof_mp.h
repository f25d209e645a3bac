/*
 * The msgpack codec shared by the runtime (encoding) and the analyzer
 * (decoding). Only the subset cprof writes is encoded; the decoder reads and
 * skips any valid msgpack so that newer minor versions stay readable.
 *
 * Encoding never allocates, never calls libc and is safe in signal handlers:
 * the runtime encodes on its hot path and from fatal-signal handlers. Every
 * encoder writes into a struct mp_out and reports overflow there instead of
 * writing past the end.
 */
#ifndef CPROF_MP_H
#define CPROF_MP_H

#include <stddef.h>
#include <stdint.h>

/* ---- encoding ---------------------------------------------------------- */

struct mp_out {
    uint8_t *pos;
    uint8_t *end;
    int overflow; /* set when something did not fit; pos stays at end */
};

static inline int mp_room(struct mp_out *o, size_t n)
{
    if ((size_t)(o->end - o->pos) < n) {
        o->overflow = 1;
        o->pos = o->end;
        return 0;
    }
    return 1;
}

static inline void mp_put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* Hot path: the smallest encoding of v, at most 9 bytes, no bounds check.
 * The caller guarantees 9 bytes of room. Returns the new position. */
static inline uint8_t *mp_put_uint_unchecked(uint8_t *p, uint64_t v)
{
    if (v < 128) {
        *p = (uint8_t)v;
        return p + 1;
    }
    if (v < 256) {
        p[0] = 0xcc;
        p[1] = (uint8_t)v;
        return p + 2;
    }
    if (v < 65536) {
        p[0] = 0xcd;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)v;
        return p + 3;
    }
    if (v <= 0xffffffffu) {
        p[0] = 0xce;
        mp_put_be(p + 1, v, 4);
        return p + 5;
    }
    p[0] = 0xcf;
    mp_put_be(p + 1, v, 8);
    return p + 9;
}

/* The same bytes as mp_put_uint_unchecked, without a branch: the trace
 * hooks encode time deltas whose size varies from one event to the next,
 * where the branches above are mispredicted and wait for the clock read.
 * Always stores 9 bytes (those past the encoding are left for the next
 * one to overwrite): the caller guarantees 9 bytes of room. */
/* Hot path (trace events): v as a positive fixint below 128, as a uint 16
 * up to 65535 (uint 8's range included: not the shortest form there, which
 * msgpack allows), else in its shortest form. The trace hooks write time
 * deltas whose size varies from event to event around 256: a branch there
 * is mispredicted, and waits for the clock read. At most 9 bytes, no bounds
 * check. */
static inline uint8_t *mp_put_uint_token(uint8_t *p, uint64_t v)
{
    if (v < 128) {
        *p = (uint8_t)v;
        return p + 1;
    }
    if (v < 65536) {
        p[0] = 0xcd;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)v;
        return p + 3;
    }
    return mp_put_uint_unchecked(p, v);
}

static inline void mp_uint(struct mp_out *o, uint64_t v)
{
    if (mp_room(o, 9))
        o->pos = mp_put_uint_unchecked(o->pos, v);
}

/* A uint always 9 bytes long, so that it can be patched later in place. */
static inline void mp_uint64_fixed(struct mp_out *o, uint64_t v)
{
    if (mp_room(o, 9)) {
        o->pos[0] = 0xcf;
        mp_put_be(o->pos + 1, v, 8);
        o->pos += 9;
    }
}

void mp_int(struct mp_out *o, int64_t v);
void mp_f64(struct mp_out *o, double v);
void mp_nil(struct mp_out *o);
void mp_bool(struct mp_out *o, int v);
void mp_array(struct mp_out *o, uint32_t n);
/* An array32 header, 5 bytes, whose count is patched later with
 * mp_patch_array32(). */
void mp_array32(struct mp_out *o, uint32_t n);
void mp_patch_array32(uint8_t *header, uint32_t n);
void mp_map(struct mp_out *o, uint32_t n);
void mp_str(struct mp_out *o, const char *s, size_t len);
/* A NUL-terminated string (NULL writes ""). */
void mp_cstr(struct mp_out *o, const char *s);
void mp_bin(struct mp_out *o, const void *b, size_t len);

/* ---- decoding ---------------------------------------------------------- */

/* Decoder results: 0 is success. */
enum mp_err {
    MP_OK = 0,
    MP_ETRUNC = -1, /* the buffer ended inside the object */
    MP_ETYPE = -2,  /* a valid object, but not of the type asked for */
    MP_EBAD = -3,   /* not msgpack (reserved byte 0xc1, absurd length) */
    MP_EDEPTH = -4, /* nested deeper than the decoder follows */
};

enum mp_type {
    MP_T_NIL,
    MP_T_BOOL,
    MP_T_UINT,
    MP_T_INT, /* negative integers */
    MP_T_FLOAT,
    MP_T_STR,
    MP_T_BIN,
    MP_T_ARRAY,
    MP_T_MAP,
    MP_T_EXT,
    MP_T_INVALID,
};

struct mp_in {
    const uint8_t *pos;
    const uint8_t *end;
};

/* The type of the next object, without consuming it (MP_T_INVALID at the
 * end of the buffer or on a reserved byte). */
enum mp_type mp_peek(const struct mp_in *in);
/* Each reader consumes one object on success and leaves pos unchanged on
 * failure. */
int mp_read_uint(struct mp_in *in, uint64_t *v);
int mp_read_int(struct mp_in *in, int64_t *v); /* any integer in range */
int mp_read_f64(struct mp_in *in, double *v);  /* float or integer */
int mp_read_bool(struct mp_in *in, int *v);
int mp_read_nil(struct mp_in *in);
int mp_read_array(struct mp_in *in, uint32_t *n);
int mp_read_map(struct mp_in *in, uint32_t *n);
/* The string's bytes stay in the input buffer; they are not NUL-terminated. */
int mp_read_str(struct mp_in *in, const char **s, uint32_t *len);
int mp_read_bin(struct mp_in *in, const void **b, uint32_t *len);
/* Skips one whole object, nested ones included. */
int mp_skip(struct mp_in *in);
/* Is the next object the string key? Consumes it only when it is. */
int mp_match_str(struct mp_in *in, const char *key);

const char *mp_strerror(int err);

#endif
