/*
 * msgpack encoding and decoding for cprof files (see cprof_mp.h).
 *
 * The encoder is built into the runtime, so it uses no libc beyond what the
 * compiler inlines, and every function here is safe in a signal handler.
 * The decoder is bounds-checked on every byte: it is what the analyzer runs
 * on files that may be truncated, corrupted or hostile.
 */
#include "cprof_mp.h"

#include <string.h>

#define MP_MAX_DEPTH 64

/* ---- encoding ---------------------------------------------------------- */

void mp_int(struct mp_out *o, int64_t v)
{
    if (v >= 0) {
        mp_uint(o, (uint64_t)v);
        return;
    }
    if (!mp_room(o, 9))
        return;
    uint8_t *p = o->pos;
    if (v >= -32) {
        *p = (uint8_t)(int8_t)v;
        o->pos = p + 1;
    } else if (v >= INT8_MIN) {
        p[0] = 0xd0;
        p[1] = (uint8_t)(int8_t)v;
        o->pos = p + 2;
    } else if (v >= INT16_MIN) {
        p[0] = 0xd1;
        mp_put_be(p + 1, (uint64_t)v, 2);
        o->pos = p + 3;
    } else if (v >= INT32_MIN) {
        p[0] = 0xd2;
        mp_put_be(p + 1, (uint64_t)v, 4);
        o->pos = p + 5;
    } else {
        p[0] = 0xd3;
        mp_put_be(p + 1, (uint64_t)v, 8);
        o->pos = p + 9;
    }
}

void mp_f64(struct mp_out *o, double v)
{
    if (!mp_room(o, 9))
        return;
    uint64_t bits;
    __builtin_memcpy(&bits, &v, sizeof bits);
    o->pos[0] = 0xcb;
    mp_put_be(o->pos + 1, bits, 8);
    o->pos += 9;
}

void mp_nil(struct mp_out *o)
{
    if (mp_room(o, 1))
        *o->pos++ = 0xc0;
}

void mp_bool(struct mp_out *o, int v)
{
    if (mp_room(o, 1))
        *o->pos++ = v ? 0xc3 : 0xc2;
}

static void mp_container(struct mp_out *o, uint32_t n, uint8_t fix, uint8_t b16,
                         uint8_t b32)
{
    if (!mp_room(o, 5))
        return;
    if (n < 16) {
        *o->pos++ = (uint8_t)(fix | n);
    } else if (n < 65536) {
        o->pos[0] = b16;
        mp_put_be(o->pos + 1, n, 2);
        o->pos += 3;
    } else {
        o->pos[0] = b32;
        mp_put_be(o->pos + 1, n, 4);
        o->pos += 5;
    }
}

void mp_array(struct mp_out *o, uint32_t n)
{
    mp_container(o, n, 0x90, 0xdc, 0xdd);
}

void mp_map(struct mp_out *o, uint32_t n)
{
    mp_container(o, n, 0x80, 0xde, 0xdf);
}

void mp_array32(struct mp_out *o, uint32_t n)
{
    if (!mp_room(o, 5))
        return;
    o->pos[0] = 0xdd;
    mp_put_be(o->pos + 1, n, 4);
    o->pos += 5;
}

void mp_patch_array32(uint8_t *header, uint32_t n)
{
    mp_put_be(header + 1, n, 4);
}

static void mp_bytes(struct mp_out *o, const void *b, size_t len, int is_str)
{
    if (len > 0xffffffffu) {
        o->overflow = 1;
        return;
    }
    if (!mp_room(o, len + 5))
        return;
    uint8_t *p = o->pos;
    if (is_str && len < 32) {
        *p++ = (uint8_t)(0xa0 | len);
    } else if (len < 256) {
        *p++ = is_str ? 0xd9 : 0xc4;
        *p++ = (uint8_t)len;
    } else if (len < 65536) {
        *p++ = is_str ? 0xda : 0xc5;
        mp_put_be(p, len, 2);
        p += 2;
    } else {
        *p++ = is_str ? 0xdb : 0xc6;
        mp_put_be(p, len, 4);
        p += 4;
    }
    __builtin_memcpy(p, b, len);
    o->pos = p + len;
}

void mp_str(struct mp_out *o, const char *s, size_t len)
{
    mp_bytes(o, s, len, 1);
}

void mp_cstr(struct mp_out *o, const char *s)
{
    size_t len = 0;
    if (s)
        while (s[len])
            len++;
    mp_bytes(o, s ? s : "", len, 1);
}

void mp_bin(struct mp_out *o, const void *b, size_t len)
{
    mp_bytes(o, b, len, 0);
}

/* ---- decoding ---------------------------------------------------------- */

static uint64_t mp_get_be(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = (v << 8) | p[i];
    return v;
}

static size_t mp_avail(const struct mp_in *in)
{
    return (size_t)(in->end - in->pos);
}

enum mp_type mp_peek(const struct mp_in *in)
{
    if (in->pos >= in->end)
        return MP_T_INVALID;
    uint8_t b = *in->pos;
    if (b <= 0x7f || b == 0xcc || b == 0xcd || b == 0xce || b == 0xcf)
        return MP_T_UINT;
    if (b >= 0xe0 || (b >= 0xd0 && b <= 0xd3))
        return MP_T_INT;
    if (b <= 0x8f || b == 0xde || b == 0xdf)
        return MP_T_MAP;
    if (b <= 0x9f || b == 0xdc || b == 0xdd)
        return MP_T_ARRAY;
    if (b <= 0xbf || b == 0xd9 || b == 0xda || b == 0xdb)
        return MP_T_STR;
    switch (b) {
    case 0xc0:
        return MP_T_NIL;
    case 0xc2:
    case 0xc3:
        return MP_T_BOOL;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        return MP_T_BIN;
    case 0xca:
    case 0xcb:
        return MP_T_FLOAT;
    case 0xc7:
    case 0xc8:
    case 0xc9:
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        return MP_T_EXT;
    default:
        return MP_T_INVALID; /* 0xc1 */
    }
}

/* Reads an integer of either sign. *neg tells which field holds it. */
static int mp_read_integer(struct mp_in *in, uint64_t *u, int64_t *s, int *neg)
{
    size_t n = mp_avail(in);
    if (n == 0)
        return MP_ETRUNC;
    const uint8_t *p = in->pos;
    uint8_t b = p[0];
    int len;
    *neg = 0;
    if (b <= 0x7f) {
        *u = b;
        in->pos++;
        return MP_OK;
    }
    if (b >= 0xe0) {
        *s = (int8_t)b;
        *neg = *s < 0;
        in->pos++;
        return MP_OK;
    }
    switch (b) {
    case 0xcc:
    case 0xd0:
        len = 1;
        break;
    case 0xcd:
    case 0xd1:
        len = 2;
        break;
    case 0xce:
    case 0xd2:
        len = 4;
        break;
    case 0xcf:
    case 0xd3:
        len = 8;
        break;
    default:
        return mp_peek(in) == MP_T_INVALID ? MP_EBAD : MP_ETYPE;
    }
    if (n < (size_t)len + 1)
        return MP_ETRUNC;
    uint64_t raw = mp_get_be(p + 1, len);
    if (b >= 0xd0) {
        int64_t v;
        if (len == 1)
            v = (int8_t)raw;
        else if (len == 2)
            v = (int16_t)raw;
        else if (len == 4)
            v = (int32_t)raw;
        else
            v = (int64_t)raw;
        if (v < 0) {
            *s = v;
            *neg = 1;
        } else {
            *u = (uint64_t)v;
        }
    } else {
        *u = raw;
    }
    in->pos += len + 1;
    return MP_OK;
}

int mp_read_uint(struct mp_in *in, uint64_t *v)
{
    const uint8_t *save = in->pos;
    uint64_t u = 0;
    int64_t s = 0;
    int neg;
    int err = mp_read_integer(in, &u, &s, &neg);
    if (err)
        return err;
    if (neg) {
        in->pos = save;
        return MP_ETYPE;
    }
    *v = u;
    return MP_OK;
}

int mp_read_int(struct mp_in *in, int64_t *v)
{
    const uint8_t *save = in->pos;
    uint64_t u = 0;
    int64_t s = 0;
    int neg;
    int err = mp_read_integer(in, &u, &s, &neg);
    if (err)
        return err;
    if (!neg && u > (uint64_t)INT64_MAX) {
        in->pos = save;
        return MP_ETYPE;
    }
    *v = neg ? s : (int64_t)u;
    return MP_OK;
}

int mp_read_f64(struct mp_in *in, double *v)
{
    size_t n = mp_avail(in);
    if (n == 0)
        return MP_ETRUNC;
    uint8_t b = in->pos[0];
    if (b == 0xca || b == 0xcb) {
        int len = b == 0xca ? 4 : 8;
        if (n < (size_t)len + 1)
            return MP_ETRUNC;
        uint64_t raw = mp_get_be(in->pos + 1, len);
        if (len == 4) {
            uint32_t r32 = (uint32_t)raw;
            float f;
            memcpy(&f, &r32, sizeof f);
            *v = f;
        } else {
            memcpy(v, &raw, sizeof *v);
        }
        in->pos += len + 1;
        return MP_OK;
    }
    uint64_t u = 0;
    int64_t s = 0;
    int neg;
    int err = mp_read_integer(in, &u, &s, &neg);
    if (err)
        return err;
    *v = neg ? (double)s : (double)u;
    return MP_OK;
}

int mp_read_bool(struct mp_in *in, int *v)
{
    if (mp_avail(in) == 0)
        return MP_ETRUNC;
    uint8_t b = in->pos[0];
    if (b != 0xc2 && b != 0xc3)
        return MP_ETYPE;
    *v = b == 0xc3;
    in->pos++;
    return MP_OK;
}

int mp_read_nil(struct mp_in *in)
{
    if (mp_avail(in) == 0)
        return MP_ETRUNC;
    if (in->pos[0] != 0xc0)
        return MP_ETYPE;
    in->pos++;
    return MP_OK;
}

static int mp_read_container(struct mp_in *in, uint32_t *count, enum mp_type want)
{
    size_t n = mp_avail(in);
    if (n == 0)
        return MP_ETRUNC;
    enum mp_type t = mp_peek(in);
    if (t == MP_T_INVALID)
        return MP_EBAD;
    if (t != want)
        return MP_ETYPE;
    uint8_t b = in->pos[0];
    if (b == 0xdc || b == 0xde) {
        if (n < 3)
            return MP_ETRUNC;
        *count = (uint32_t)mp_get_be(in->pos + 1, 2);
        in->pos += 3;
    } else if (b == 0xdd || b == 0xdf) {
        if (n < 5)
            return MP_ETRUNC;
        *count = (uint32_t)mp_get_be(in->pos + 1, 4);
        in->pos += 5;
    } else {
        *count = b & 0x0f;
        in->pos++;
    }
    return MP_OK;
}

int mp_read_array(struct mp_in *in, uint32_t *n)
{
    return mp_read_container(in, n, MP_T_ARRAY);
}

int mp_read_map(struct mp_in *in, uint32_t *n)
{
    return mp_read_container(in, n, MP_T_MAP);
}

static int mp_read_bytes(struct mp_in *in, const uint8_t **b, uint32_t *len,
                         enum mp_type want)
{
    size_t n = mp_avail(in);
    if (n == 0)
        return MP_ETRUNC;
    enum mp_type t = mp_peek(in);
    if (t == MP_T_INVALID)
        return MP_EBAD;
    if (t != want)
        return MP_ETYPE;
    uint8_t c = in->pos[0];
    size_t hdr;
    uint64_t l;
    if (c >= 0xa0 && c <= 0xbf) {
        hdr = 1;
        l = c & 0x1f;
    } else {
        int lb = (c == 0xd9 || c == 0xc4) ? 1 : (c == 0xda || c == 0xc5) ? 2 : 4;
        hdr = 1 + (size_t)lb;
        if (n < hdr)
            return MP_ETRUNC;
        l = mp_get_be(in->pos + 1, lb);
    }
    if (n - hdr < l)
        return MP_ETRUNC;
    *b = in->pos + hdr;
    *len = (uint32_t)l;
    in->pos += hdr + l;
    return MP_OK;
}

/* The pointer is converted, not written through a cast pointer-to-pointer:
 * that would break strict aliasing (and did, with gcc -O2). */
int mp_read_str(struct mp_in *in, const char **s, uint32_t *len)
{
    const uint8_t *bytes;
    int err = mp_read_bytes(in, &bytes, len, MP_T_STR);
    if (err == MP_OK)
        *s = (const char *)bytes;
    return err;
}

int mp_read_bin(struct mp_in *in, const void **b, uint32_t *len)
{
    const uint8_t *bytes;
    int err = mp_read_bytes(in, &bytes, len, MP_T_BIN);
    if (err == MP_OK)
        *b = bytes;
    return err;
}

/* Skips objects iteratively: `pending` counts the objects still to skip at
 * each open container level, so hostile nesting cannot overflow the stack. */
int mp_skip(struct mp_in *in)
{
    const uint8_t *save = in->pos;
    uint64_t pending[MP_MAX_DEPTH];
    int depth = 0;
    pending[0] = 1;
    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;
        size_t n = mp_avail(in);
        if (n == 0) {
            in->pos = save;
            return MP_ETRUNC;
        }
        uint8_t b = in->pos[0];
        uint64_t skip = 0, children = 0;
        size_t hdr = 1;
        enum mp_type t = mp_peek(in);
        switch (t) {
        case MP_T_INVALID:
            in->pos = save;
            return MP_EBAD;
        case MP_T_NIL:
        case MP_T_BOOL:
            break;
        case MP_T_UINT:
        case MP_T_INT:
            if (b == 0xcc || b == 0xd0)
                skip = 1;
            else if (b == 0xcd || b == 0xd1)
                skip = 2;
            else if (b == 0xce || b == 0xd2)
                skip = 4;
            else if (b == 0xcf || b == 0xd3)
                skip = 8;
            break;
        case MP_T_FLOAT:
            skip = b == 0xca ? 4 : 8;
            break;
        case MP_T_STR:
        case MP_T_BIN: {
            const uint8_t *bytes;
            uint32_t len;
            int err = mp_read_bytes(in, &bytes, &len, t);
            if (err) {
                in->pos = save;
                return err;
            }
            continue;
        }
        case MP_T_ARRAY:
        case MP_T_MAP: {
            uint32_t count;
            int err = mp_read_container(in, &count, t);
            if (err) {
                in->pos = save;
                return err;
            }
            children = t == MP_T_MAP ? 2ull * count : count;
            if (children) {
                if (depth + 1 >= MP_MAX_DEPTH) {
                    in->pos = save;
                    return MP_EDEPTH;
                }
                pending[++depth] = children;
            }
            continue;
        }
        case MP_T_EXT:
            if (b >= 0xd4 && b <= 0xd8) {
                skip = 1 + (1u << (b - 0xd4));
            } else {
                int lb = b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4;
                if (n < 1 + (size_t)lb) {
                    in->pos = save;
                    return MP_ETRUNC;
                }
                skip = 1 + mp_get_be(in->pos + 1, lb);
                hdr = 1 + (size_t)lb;
            }
            break;
        }
        if (n - hdr < skip) {
            in->pos = save;
            return MP_ETRUNC;
        }
        in->pos += hdr + skip;
    }
    return MP_OK;
}

int mp_match_str(struct mp_in *in, const char *key)
{
    struct mp_in probe = *in;
    const char *s = "";
    uint32_t len = 0;
    if (mp_read_str(&probe, &s, &len) != MP_OK)
        return 0;
    if (strlen(key) != len || memcmp(s, key, len) != 0)
        return 0;
    *in = probe;
    return 1;
}

const char *mp_strerror(int err)
{
    switch (err) {
    case MP_OK:
        return "no error";
    case MP_ETRUNC:
        return "truncated";
    case MP_ETYPE:
        return "unexpected type";
    case MP_EBAD:
        return "not msgpack";
    case MP_EDEPTH:
        return "nested too deeply";
    default:
        return "unknown error";
    }
}
