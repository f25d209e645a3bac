/*
 * Decoding raw .cprof files for the runtime tests (test_runtime.c,
 * test_lines_runtime.c), which check what the runtime wrote rather than
 * what cprof makes of it. msgpack-c, an independent decoder, walks the
 * file; the record numbers and field positions used here are written out
 * from the format's documentation in common/cprof_format.h, not included
 * from it, so that a mistake there is caught rather than shared.
 *
 * Unlike e2e_util, these helpers know the file format, and they fail the
 * running Criterion test (with a message naming what was wrong) on a file
 * they cannot read.
 */
#ifndef CPROF_E2E_MP_H
#define CPROF_E2E_MP_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

/* Record types: the first element of every record array. */
enum e2e_mp_record {
    E2E_MP_THREAD = 2,     /* [2, thread, tid, name] */
    E2E_MP_TRACE = 4,      /* [4, thread, base_ticks, events] */
    E2E_MP_THREAD_END = 6, /* [6, thread, stats] */
    E2E_MP_END = 7,        /* [7, info] */
    E2E_MP_LINE = 8,       /* [8, thread, fn, func, file, line, hits, time, self] */
    E2E_MP_LINE_SITE = 9,  /* [9, thread, site, fn, func, file, line] */
};

/* Called with one object of a file and the ctx given to e2e_mp_read_file.
 * The object lives only during the call. */
typedef void e2e_mp_fn(const msgpack_object *obj, void *ctx);

/* Reads the .cprof file at path and calls on_header with its header map,
 * then on_record with each record array in file order (either may be
 * NULL). Fails the test when the file cannot be read, does not start with
 * a map, holds anything but arrays after it, or is not msgpack to its
 * last byte. */
void e2e_mp_read_file(const char *path, e2e_mp_fn *on_header, e2e_mp_fn *on_record,
                      void *ctx);

/* Element i of record, which must be there and be an unsigned integer
 * (else the test fails). e2e_mp_uint_at(record, 0) is the record type. */
uint64_t e2e_mp_uint_at(const msgpack_object *record, uint32_t i);

/* The value under the string key in map; NULL when there is none or map
 * is not a map. */
const msgpack_object *e2e_mp_get(const msgpack_object *map, const char *key);

/* The unsigned integer under key in map; 0 when absent or not an unsigned
 * integer (the format leaves out counters that are 0). */
long e2e_mp_get_uint(const msgpack_object *map, const char *key);

/* Copies the string o into dst (size > 0), cut to size - 1 bytes and
 * NUL-terminated; "" when o is NULL or not a string. */
void e2e_mp_copy_str(char *dst, size_t size, const msgpack_object *o);

/* Appends the header's config_warnings to dst (size bytes, holding a
 * string), each followed by a newline, cut to fit. */
void e2e_mp_config_warnings(const msgpack_object *header, char *dst, size_t size);

/* The map of counters of a THREAD_END record, or of an END record (which
 * also holds "reason", "signal", "ticks_per_sec"...); NULL for any other
 * record. */
const msgpack_object *e2e_mp_stats(const msgpack_object *record);

#endif
