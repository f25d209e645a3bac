/*
 * The reader: walks one .cprof file record by record without holding more
 * of it in memory than the record being read (a window of 1 MiB, doubled
 * until the largest record fits, normally a trace chunk of about a megabyte).
 *
 * It checks the header (magic, major version) and the framing of every
 * record: each is a msgpack array whose first element is a known or unknown
 * record type. What a record's fields mean is the model's business; the
 * reader hands it the fields as a bounded msgpack input. Damage (a cut-off
 * file, bytes that are not msgpack) ends the walk with a message that names
 * the byte where the damage starts; everything before it stays usable.
 */
#ifndef CPROF_READER_H
#define CPROF_READER_H

#include <stddef.h>
#include <stdint.h>

#include "cprof_mp.h"

struct rd_header {
    unsigned major, minor;
    char *mode;  /* "summary", "trace", "count" or what a newer runtime wrote */
    char *clock; /* "tsc", "monotonic", "none" */
    double ticks_per_sec;
    uint64_t start_ticks, start_mono_ns, start_unix_ns;
    uint64_t pid, ppid;
    uint64_t fork_parent; /* 0 unless the process was forked */
    unsigned hist_sub_bits;
    char *exe;
    char **argv;
    size_t argc;
    char **config_warnings;
    size_t nconfig_warnings;
    char *cpu_time; /* 1.5: how CPU time per node was measured; NULL: none */
    /* the probe cost the runtime measured at start (1.5; has_probe: the
     * keys were there), in ns: a call's enter+exit pair, the part of it
     * inside the call's own time, a line event */
    int has_probe;
    double probe_call_ns, probe_inner_ns, probe_line_ns;
};

struct rd_record {
    unsigned type;     /* CPROF_REC_*, or a type this reader does not know */
    uint32_t nfields;  /* fields not read yet (the type excluded) */
    struct mp_in body; /* positioned at the first field; bounded by the record,
                        * or by the window when open */
    uint64_t offset;   /* the record's first byte in the file */
    /* An open record (trace chunks: [4, thread, base, events]) is handed
     * out before its end is found, so that its events are walked once, by
     * the replay: body ends where the window does, its first three fields
     * are in it, and rd_more() reads further. */
    int open;
    struct rd_file *file; /* an open record's file */
};

struct rd_file;

/*
 * Opens path and reads its header. On failure returns NULL and writes a
 * one-line reason (without the path) into err of size errlen: "no such
 * file", "not a cprof file", "format 2.0 is newer than this cprof reads
 * (1.0)", ...
 */
struct rd_file *rd_open(const char *path, char *err, size_t errlen);
/* The same over a buffer the caller keeps alive until rd_close(). */
struct rd_file *rd_open_mem(const void *data, size_t len, char *err, size_t errlen);
void rd_close(struct rd_file *f);

const struct rd_header *rd_header(const struct rd_file *f);

/*
 * The next record. Returns 1 with *rec filled (valid until the next call),
 * 0 at the clean end of the file, -1 when the file is damaged from here on:
 * rd_error() says how and where. A record's fields are read from rec->body;
 * fields it does not read are simply ignored.
 */
int rd_next(struct rd_file *f, struct rd_record *rec);
const char *rd_error(const struct rd_file *f);
/* Has the walk ended on damage or a read error (rd_error() says which)? */
int rd_failed(const struct rd_file *f);

/*
 * Open records. The consumer reads an open record's fields from body and
 * leaves body.pos at the end of the last field it read (or where it
 * stopped on damage): the next rd_next() takes the record's end from
 * there, skipping (and checking) the fields it did not read, so rec must
 * be the struct rd_next() filled, unchanged but for body and nfields.
 *
 * rd_more() reads more of the file for an open record whose body ran out
 * inside a field: body.pos stays on the same byte of the file (the
 * window may have moved) and body.end moves on. Returns 1 when more bytes
 * came, 0 at the end of the file (the record is cut short: report it
 * with rd_damage(rec, MP_ETRUNC)), -1 on a read error (reported).
 *
 * rd_damage() reports damage that the consumer of an open record found
 * inside it (err: MP_ETRUNC, MP_EBAD, MP_EDEPTH) as rd_next() reports it
 * in any other record: at the record's first byte. rd_next() then returns
 * -1.
 */
int rd_more(struct rd_record *rec);
void rd_damage(struct rd_record *rec, int err);
/* Bytes consumed so far (the offset of the next record). */
uint64_t rd_offset(const struct rd_file *f);

/*
 * Field helpers for record bodies: read the next field as the given type.
 * Return 0, or -1 when the record has no more fields or the field has
 * another type.
 */
int rd_field_uint(struct rd_record *rec, uint64_t *v);
int rd_field_str(struct rd_record *rec, const char **s, uint32_t *len);

#endif
