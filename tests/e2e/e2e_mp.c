/*
 * Implementation of the .cprof decoding helpers declared in e2e_mp.h:
 * a read loop over a whole file with msgpack-c, and small accessors for
 * the maps and arrays of its records.
 */
#include "e2e_mp.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_util.h"

void e2e_mp_read_file(const char *path, e2e_mp_fn *on_header, e2e_mp_fn *on_record,
                      void *ctx)
{
    size_t len;
    char *data = e2e_read_file(path, &len);
    cr_assert(data, "cannot read %s", path);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int first = 1;
    while (msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *o = &u.data;
        if (first) {
            first = 0;
            cr_assert_eq(o->type, MSGPACK_OBJECT_MAP, "%s: no header", path);
            if (on_header)
                on_header(o, ctx);
            continue;
        }
        cr_assert_eq(o->type, MSGPACK_OBJECT_ARRAY, "%s: a record that is not an array",
                     path);
        if (on_record)
            on_record(o, ctx);
    }
    cr_assert_eq(off, len, "%s: not msgpack after byte %zu", path, off);
    msgpack_unpacked_destroy(&u);
    free(data);
}

uint64_t e2e_mp_uint_at(const msgpack_object *record, uint32_t i)
{
    cr_assert(i < record->via.array.size, "record too short");
    cr_assert_eq(record->via.array.ptr[i].type, MSGPACK_OBJECT_POSITIVE_INTEGER,
                 "element %u is not a uint", i);
    return record->via.array.ptr[i].via.u64;
}

static int key_is(const msgpack_object *k, const char *s)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(s) &&
           memcmp(k->via.str.ptr, s, k->via.str.size) == 0;
}

const msgpack_object *e2e_mp_get(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (key_is(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

long e2e_mp_get_uint(const msgpack_object *map, const char *key)
{
    const msgpack_object *v = e2e_mp_get(map, key);
    return v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (long)v->via.u64 : 0;
}

void e2e_mp_copy_str(char *dst, size_t size, const msgpack_object *o)
{
    size_t n = o && o->type == MSGPACK_OBJECT_STR ? o->via.str.size : 0;
    if (n >= size)
        n = size - 1;
    if (n)
        memcpy(dst, o->via.str.ptr, n);
    dst[n] = 0;
}

void e2e_mp_config_warnings(const msgpack_object *header, char *dst, size_t size)
{
    const msgpack_object *w = e2e_mp_get(header, "config_warnings");
    for (uint32_t i = 0; w && w->type == MSGPACK_OBJECT_ARRAY && i < w->via.array.size;
         i++) {
        char one[256];
        e2e_mp_copy_str(one, sizeof one, &w->via.array.ptr[i]);
        strncat(dst, one, size - strlen(dst) - 2);
        strcat(dst, "\n");
    }
}

const msgpack_object *e2e_mp_stats(const msgpack_object *record)
{
    uint64_t type = e2e_mp_uint_at(record, 0);
    uint32_t at = type == E2E_MP_THREAD_END ? 2 : type == E2E_MP_END ? 1 : 0;
    cr_assert(!at || at < record->via.array.size, "record %llu too short",
              (unsigned long long)type);
    return at ? &record->via.array.ptr[at] : NULL;
}
