/*
 * The msgpack codec and the file format as the runtime writes it: encoder
 * to decoder round trips over the edges of every integer width, the decoder's
 * refusal of truncated and malformed input, and files written by the real
 * runtime in every mode walked with msgpack-c, an independent decoder, to
 * hold the format's promise that any msgpack reader can walk a .cprof file.
 */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cprof_format.h"
#include "cprof_mp.h"
#include "testprog.h"

static const uint64_t uint_edges[] = {
    0,
    1,
    127,
    128,
    255,
    256,
    65535,
    65536,
    0xffffffff,
    0x100000000,
    UINT64_MAX - 1,
    UINT64_MAX,
};
static const int64_t int_edges[] = {
    -1,        -32, -33, -128, -129, -32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1,
    INT64_MIN,
};

Test(codec, uint_round_trip_and_msgpack_c_agrees)
{
    uint8_t buf[256];
    struct mp_out o = {buf, buf + sizeof buf, 0};
    size_t n = sizeof uint_edges / sizeof *uint_edges;
    for (size_t i = 0; i < n; i++)
        mp_uint(&o, uint_edges[i]);
    cr_assert(!o.overflow);
    struct mp_in in = {buf, o.pos};
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        cr_assert_eq(mp_read_uint(&in, &v), MP_OK);
        cr_assert_eq(v, uint_edges[i], "edge %zu", i);
    }
    cr_assert_eq(in.pos, o.pos);

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(
            msgpack_unpack_next(&u, (const char *)buf, (size_t)(o.pos - buf), &off),
            MSGPACK_UNPACK_SUCCESS);
        cr_assert_eq(u.data.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
        cr_assert_eq(u.data.via.u64, uint_edges[i]);
    }
    msgpack_unpacked_destroy(&u);
}

/* The trace hooks' encoder: every value reads back (ours and msgpack-c's),
 * 128..65535 as a uint 16, the rest as short as mp_uint writes it. */
Test(codec, trace_token_encoding_round_trips)
{
    uint8_t buf[512];
    uint8_t *p = buf;
    size_t n = sizeof uint_edges / sizeof *uint_edges;
    for (size_t i = 0; i < n; i++) {
        uint8_t *next = mp_put_uint_token(p, uint_edges[i]);
        uint64_t v = uint_edges[i];
        size_t want = v < 128 ? 1 : v < 65536 ? 3 : v <= 0xffffffffu ? 5 : 9;
        cr_assert_eq((size_t)(next - p), want, "edge %zu", i);
        if (v >= 128 && v < 65536)
            cr_assert_eq(*p, 0xcd);
        p = next;
    }
    struct mp_in in = {buf, p};
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        cr_assert_eq(mp_read_uint(&in, &v), MP_OK);
        cr_assert_eq(v, uint_edges[i], "edge %zu", i);
        cr_assert_eq(msgpack_unpack_next(&u, (const char *)buf, (size_t)(p - buf), &off),
                     MSGPACK_UNPACK_SUCCESS);
        cr_assert_eq(u.data.via.u64, uint_edges[i]);
    }
    cr_assert_eq(in.pos, p);
    msgpack_unpacked_destroy(&u);
}

Test(codec, negative_ints_floats_strings_containers)
{
    uint8_t buf[70000];
    struct mp_out o = {buf, buf + sizeof buf, 0};
    size_t n = sizeof int_edges / sizeof *int_edges;
    for (size_t i = 0; i < n; i++)
        mp_int(&o, int_edges[i]);
    mp_f64(&o, 2299.5e6);
    mp_cstr(&o, "");
    mp_cstr(&o, "thirty-one bytes of string data");
    static char big[66000];
    memset(big, 'x', sizeof big);
    mp_str(&o, big, sizeof big);
    mp_array(&o, 15);
    mp_array(&o, 16);
    mp_map(&o, 65536);
    mp_bool(&o, 1);
    mp_nil(&o);
    cr_assert(!o.overflow);

    struct mp_in in = {buf, o.pos};
    for (size_t i = 0; i < n; i++) {
        int64_t v = 0;
        cr_assert_eq(mp_read_int(&in, &v), MP_OK);
        cr_assert_eq(v, int_edges[i]);
    }
    double d = 0;
    cr_assert_eq(mp_read_f64(&in, &d), MP_OK);
    cr_assert_eq(d, 2299.5e6);
    const char *s;
    uint32_t len, count;
    cr_assert_eq(mp_read_str(&in, &s, &len), MP_OK);
    cr_assert_eq(len, 0);
    cr_assert_eq(mp_read_str(&in, &s, &len), MP_OK);
    cr_assert_eq(len, 31);
    cr_assert(memcmp(s, "thirty-one bytes of string data", 31) == 0);
    cr_assert_eq(mp_read_str(&in, &s, &len), MP_OK);
    cr_assert_eq(len, sizeof big);
    cr_assert_eq(mp_read_array(&in, &count), MP_OK);
    cr_assert_eq(count, 15);
    cr_assert_eq(mp_read_array(&in, &count), MP_OK);
    cr_assert_eq(count, 16);
    cr_assert_eq(mp_read_map(&in, &count), MP_OK);
    cr_assert_eq(count, 65536);
    int b = 0;
    cr_assert_eq(mp_read_bool(&in, &b), MP_OK);
    cr_assert(b);
    cr_assert_eq(mp_read_nil(&in), MP_OK);
    cr_assert_eq(in.pos, o.pos);
}

Test(codec, encoder_reports_overflow_instead_of_writing_past_the_end)
{
    uint8_t buf[8 + 16];
    memset(buf, 0xee, sizeof buf);
    struct mp_out o = {buf, buf + 8, 0};
    mp_uint(&o, UINT64_MAX); /* needs 9 */
    cr_assert(o.overflow);
    mp_cstr(&o, "long enough to overflow");
    for (size_t i = 8; i < sizeof buf; i++)
        cr_assert_eq(buf[i], 0xee, "byte %zu written past the end", i);
}

Test(codec, decoder_refuses_truncated_and_malformed_input)
{
    uint8_t buf[64];
    struct mp_out o = {buf, buf + sizeof buf, 0};
    mp_array(&o, 2);
    mp_uint(&o, 0x100000000ull);
    mp_cstr(&o, "abcdef");
    size_t full = (size_t)(o.pos - buf);
    for (size_t cut = 0; cut < full; cut++) {
        struct mp_in in = {buf, buf + cut};
        cr_assert_eq(mp_skip(&in), MP_ETRUNC, "cut at %zu", cut);
        cr_assert_eq(in.pos, buf, "a failed skip must not consume");
    }
    struct mp_in in = {buf, buf + full};
    cr_assert_eq(mp_skip(&in), MP_OK);

    const uint8_t reserved[] = {0xc1};
    struct mp_in bad = {reserved, reserved + 1};
    cr_assert_eq(mp_skip(&bad), MP_EBAD);
    uint64_t v;
    cr_assert_eq(mp_read_uint(&bad, &v), MP_EBAD);

    const uint8_t str[] = {0xa3, 'a', 'b', 'c'};
    struct mp_in wrong = {str, str + sizeof str};
    cr_assert_eq(mp_read_uint(&wrong, &v), MP_ETYPE);
    cr_assert_eq(wrong.pos, str);

    /* nesting deeper than the decoder follows is an error, not a crash */
    uint8_t deep[200];
    memset(deep, 0x91, sizeof deep); /* [[[[...]]]] */
    struct mp_in nest = {deep, deep + sizeof deep};
    cr_assert_eq(mp_skip(&nest), MP_EDEPTH);
}

Test(codec, histogram_buckets_bound_their_values)
{
    for (unsigned bits = 1; bits <= 5; bits++) {
        unsigned long long prev_low = 0;
        for (unsigned b = 0; b < 40u << bits; b++) {
            unsigned long long low = cprof_hist_bucket_low(b, bits);
            cr_assert(b == 0 || low > prev_low, "buckets increase (bits %u, b %u)", bits,
                      b);
            cr_assert_eq(cprof_hist_bucket(low, bits), b);
            if (b > 0)
                cr_assert_eq(cprof_hist_bucket(low - 1, bits), b - 1);
            prev_low = low;
        }
    }
}

/* ---- files written by the real runtime -------------------------------- */

static const char prog_src[] =
    "#include <pthread.h>\n"
    "#include <stdio.h>\n"
    "int leaf(int i) { return i * 3; }\n"
    "int mid(int n) { int s = 0; for (int i = 0; i < n; i++) s += leaf(i); return s; }\n"
    "void *worker(void *a) { (void)a; return (void *)(long)mid(100); }\n"
    "int main(void) {\n"
    "    pthread_t t; pthread_create(&t, 0, worker, 0); pthread_join(t, 0);\n"
    "    printf(\"%d\\n\", mid(50)); return 0; }\n";

static void build_prog(const char *dir)
{
    tp_build(dir, "prog", prog_src, "");
}

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void walk_with_msgpack_c(const char *mode)
{
    char dir[] = "/tmp/cprof-codec-XXXXXX";
    cr_assert(mkdtemp(dir));
    build_prog(dir);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && CPROF_MODE=%s CPROF_DIR=%s/data ./prog >/dev/null && "
             "ls %s/data/prog.*.cprof > %s/list",
             dir, mode, dir, dir, dir);
    cr_assert_eq(system(cmd), 0, "the profiled program failed");
    char list[4200], path[4200];
    snprintf(list, sizeof list, "%s/list", dir);
    FILE *lf = fopen(list, "r");
    cr_assert(lf && fgets(path, sizeof path, lf), "no data file written");
    fclose(lf);
    path[strcspn(path, "\n")] = 0;

    size_t len;
    char *data = read_whole(path, &len);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int objects = 0, saw_end = 0, threads = 0, nodes = 0, chunks = 0;
    while (msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS) {
        msgpack_object *obj = &u.data;
        cr_assert(!saw_end, "an object follows the end record");
        if (objects++ == 0) {
            cr_assert_eq(obj->type, MSGPACK_OBJECT_MAP, "the header is a map");
            int magic = 0;
            for (uint32_t i = 0; i < obj->via.map.size; i++) {
                msgpack_object_kv *kv = &obj->via.map.ptr[i];
                if (kv->key.via.str.size == 5 && !memcmp(kv->key.via.str.ptr, "magic", 5))
                    magic = kv->val.via.str.size == 5 &&
                            !memcmp(kv->val.via.str.ptr, "cprof", 5);
            }
            cr_assert(magic, "the header has magic \"cprof\"");
            continue;
        }
        cr_assert_eq(obj->type, MSGPACK_OBJECT_ARRAY, "record %d is an array", objects);
        cr_assert_gt(obj->via.array.size, 0);
        cr_assert_eq(obj->via.array.ptr[0].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
        uint64_t type = obj->via.array.ptr[0].via.u64;
        cr_assert(type >= CPROF_REC_MODULE && type <= CPROF_REC_FREED, "record type %lu",
                  (unsigned long)type);
        threads += type == CPROF_REC_THREAD;
        nodes += type == CPROF_REC_NODE;
        saw_end = type == CPROF_REC_END;
        if (type == CPROF_REC_TRACE) {
            chunks++;
            msgpack_object *events = &obj->via.array.ptr[3];
            cr_assert_eq(events->type, MSGPACK_OBJECT_ARRAY);
            for (uint32_t i = 0; i < events->via.array.size; i++)
                cr_assert_eq(events->via.array.ptr[i].type,
                             MSGPACK_OBJECT_POSITIVE_INTEGER,
                             "every event token is a uint");
        }
    }
    cr_assert_eq(off, len, "msgpack-c stopped at byte %zu of %zu", off, len);
    cr_assert(saw_end, "the file ends with an end record");
    cr_assert_eq(threads, 2, "both threads are in the file");
    if (!strcmp(mode, "trace"))
        cr_assert_geq(chunks, 2);
    else
        cr_assert_geq(nodes, 5); /* main, worker, mid x2, leaf x2 */
    msgpack_unpacked_destroy(&u);
    free(data);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    system(cmd);
}

Test(format, summary_file_walks_with_msgpack_c)
{
    walk_with_msgpack_c("summary");
}

Test(format, trace_file_walks_with_msgpack_c)
{
    walk_with_msgpack_c("trace");
}

Test(format, count_file_walks_with_msgpack_c)
{
    walk_with_msgpack_c("count");
}
