/*
 * The .cprof reader; see reader.h. The file is read through a window: a
 * record that does not fit makes the window grow (up to RD_MAX_RECORD), and
 * records already handed out are dropped from its front when it refills,
 * which it does once less than half of it is left unread.
 *
 * A record is normally walked here to find its end before it is handed
 * out. Trace chunks, nearly all of a trace file's bytes, are handed out
 * open instead (reader.h): finding their end would be a second walk of
 * every event, a sixth of a trace's replay. Their consumer walks them,
 * asks for refills (rd_more) and reports damage it finds (rd_damage) with
 * the messages this walk would give; the fields it leaves unread are
 * skipped when the next record is asked for.
 */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cprof_format.h"
#include "util.h"

/* The window's first size: small enough that what one read() copies in is
 * still in the processor's cache when the replay gets to it (1 MiB: fib
 * 32's trace report took 1 ms more of its 67), and grown for a longer
 * record (a trace chunk is walked in place instead, rd_more). */
#define RD_WINDOW (1u << 18)
#define RD_MAX_RECORD (1ull << 30)

struct rd_file {
    int fd;              /* -1 when reading from memory */
    uint8_t *buf;        /* the window; owned unless reading from memory */
    size_t cap;          /* bytes allocated for buf */
    size_t len;          /* bytes of the file in buf */
    size_t pos;          /* next unread byte in buf */
    uint64_t buf_offset; /* file offset of buf[0] */
    int eof;
    int failed;
    struct rd_record *open_rec; /* the open record handed out last, or NULL */
    char error[256];
    struct rd_header header;
};

static void rd_fail(struct rd_file *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void rd_fail(struct rd_file *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->error, sizeof f->error, fmt, ap);
    va_end(ap);
    f->failed = 1;
}

/* Reports damage (an mp_* error) found in the record at byte at. */
static void rd_fail_at(struct rd_file *f, uint64_t at, int err)
{
    if (err == MP_ETRUNC)
        rd_fail(f, "truncated at byte %llu (the file ends inside a record)",
                (unsigned long long)at);
    else
        rd_fail(f, "damaged at byte %llu: %s", (unsigned long long)at, mp_strerror(err));
}

/* Makes room and reads more of the file into the window. Returns 0, or -1
 * on a read error (reported) or when the record would exceed the limit. */
static int rd_fill(struct rd_file *f)
{
    if (f->fd < 0) {
        f->eof = 1;
        return 0;
    }
    if (f->pos > 0) {
        memmove(f->buf, f->buf + f->pos, f->len - f->pos);
        f->buf_offset += f->pos;
        f->len -= f->pos;
        f->pos = 0;
    }
    if (f->len == f->cap) {
        if (f->cap >= RD_MAX_RECORD) {
            rd_fail(f, "record at byte %llu is larger than %llu MiB",
                    (unsigned long long)f->buf_offset, RD_MAX_RECORD >> 20);
            return -1;
        }
        size_t cap = f->cap;
        cprof_grow(&f->buf, &cap, f->cap * 2, 1);
        f->cap = cap;
    }
    while (f->len < f->cap) {
        ssize_t n = read(f->fd, f->buf + f->len, f->cap - f->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rd_fail(f, "read error at byte %llu: %s",
                    (unsigned long long)(f->buf_offset + f->len), strerror(errno));
            return -1;
        }
        if (n == 0) {
            f->eof = 1;
            break;
        }
        f->len += (size_t)n;
    }
    return 0;
}

/* The elements of an array of scalars (a trace chunk's events), skipped
 * inline while they are integers. Returns MP_OK, or 1 when the array
 * holds something else or ends early: the caller asks mp_skip. */
static int rd_skip_scalars(struct mp_in *in, uint32_t n)
{
    const uint8_t *p = in->pos, *end = in->end;
    for (; n; n--) {
        if (p == end)
            return 1;
        uint8_t b = *p;
        size_t size = 1;
        if (b >= 0xcc && b <= 0xd3)
            size = 1 + ((size_t)1 << ((b - 0xcc) & 3));
        else if (b >= 0x80 && b < 0xe0)
            return 1;
        if ((size_t)(end - p) < size)
            return 1;
        p += size;
    }
    in->pos = p;
    return MP_OK;
}

/* What mp_skip does with a record, faster on the usual shape: an array
 * of scalars and arrays of integers is walked here, anything else (maps,
 * deeper nesting, damage, a record cut by the window) by mp_skip from the
 * start, so results and errors are mp_skip's. */
static int rd_skip(struct mp_in *in)
{
    struct mp_in probe = *in;
    uint32_t n, k;
    if (mp_peek(&probe) != MP_T_ARRAY || mp_read_array(&probe, &n) != MP_OK)
        return mp_skip(in);
    for (; n; n--) {
        enum mp_type t = mp_peek(&probe);
        int err = t == MP_T_MAP                        ? 1
                  : t != MP_T_ARRAY                    ? mp_skip(&probe)
                  : mp_read_array(&probe, &k) != MP_OK ? 1
                                                       : rd_skip_scalars(&probe, k);
        if (err != MP_OK)
            return mp_skip(in);
    }
    in->pos = probe.pos;
    return MP_OK;
}

/* Finds the extent of the next object, refilling as needed. Returns 1 with
 * *in spanning exactly the object, 0 at the clean end, -1 on damage. The
 * window is refilled before it runs low, so that a record is walked once,
 * not once more for every refill it needs. */
static int rd_object(struct rd_file *f, struct mp_in *in)
{
    for (;;) {
        /* a read error here is reported once the records already in the
         * window are handed out (rd_next checks failed first) */
        if (!f->failed && !f->eof && f->len - f->pos < f->cap / 2)
            rd_fill(f);
        struct mp_in probe = {f->buf + f->pos, f->buf + f->len};
        if (f->pos == f->len && f->eof)
            return 0;
        int err = f->pos == f->len ? MP_ETRUNC : rd_skip(&probe);
        if (err == MP_OK) {
            in->pos = f->buf + f->pos;
            in->end = probe.pos;
            return 1;
        }
        if (err == MP_ETRUNC && !f->eof) {
            if (rd_fill(f) < 0)
                return -1;
            continue;
        }
        rd_fail_at(f, f->buf_offset + f->pos, err);
        return -1;
    }
}

static char *rd_strdup_field(struct mp_in *in)
{
    const char *s;
    uint32_t n;
    if (mp_read_str(in, &s, &n) != MP_OK)
        return NULL;
    return cprof_xstrndup(s, n);
}

/* A string field into *dst, replacing what a repeated key set before. */
static int rd_set_str(struct mp_in *in, char **dst)
{
    char *s = rd_strdup_field(in);
    if (!s)
        return -1;
    free(*dst);
    *dst = s;
    return 0;
}

static void rd_free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* An array of strings into a newly allocated vector (replacing *out). */
static int rd_str_array(struct mp_in *in, char ***out, size_t *count)
{
    uint32_t n;
    if (mp_read_array(in, &n) != MP_OK || n > (size_t)(in->end - in->pos))
        return -1; /* each string takes a byte at least */
    rd_free_strs(*out, *count);
    char **v = cprof_xcalloc(n ? n : 1, sizeof(*v));
    *out = v;
    *count = 0;
    for (uint32_t i = 0; i < n; i++) {
        v[i] = rd_strdup_field(in);
        if (!v[i])
            return -1;
        *count = i + 1;
    }
    return 0;
}

/* A probe cost (1.5): a number of ns, finite, from 0 to a millisecond (a
 * probe that costs more was not measured). Returns nonzero when bad. */
static int rd_probe_ns(struct mp_in *in, double *ns)
{
    return mp_read_f64(in, ns) != MP_OK || !(*ns >= 0 && *ns <= 1e6);
}

/* Reads the header map. Returns 0, or -1 with f->error set. */
static int rd_read_header(struct rd_file *f)
{
    struct mp_in in;
    int r = rd_object(f, &in);
    if (r == 0) {
        rd_fail(f,
                "empty file (the program was probably killed before it wrote anything)");
        return -1;
    }
    if (r < 0 || mp_peek(&in) != MP_T_MAP) {
        rd_fail(f, "not a cprof file (it does not start with a cprof header)");
        return -1;
    }
    struct rd_header *h = &f->header;
    uint32_t n;
    mp_read_map(&in, &n);
    int magic = 0, version = 0;
    for (uint32_t i = 0; i < n; i++) {
        int bad = 0;
        uint64_t u;
        if (mp_match_str(&in, "magic")) {
            magic = mp_match_str(&in, CPROF_MAGIC);
            bad = !magic;
        } else if (mp_match_str(&in, "version")) {
            uint32_t k;
            uint64_t major, minor;
            bad = mp_read_array(&in, &k) || k < 2 || mp_read_uint(&in, &major) ||
                  mp_read_uint(&in, &minor) || major > 1000 || minor > 1000000;
            for (uint32_t j = 2; !bad && j < k; j++)
                bad = mp_skip(&in) != MP_OK;
            if (!bad) {
                h->major = (unsigned)major;
                h->minor = (unsigned)minor;
                version = 1;
            }
        } else if (mp_match_str(&in, "mode")) {
            bad = rd_set_str(&in, &h->mode) < 0;
        } else if (mp_match_str(&in, "clock")) {
            bad = rd_set_str(&in, &h->clock) < 0;
        } else if (mp_match_str(&in, "exe")) {
            bad = rd_set_str(&in, &h->exe) < 0;
        } else if (mp_match_str(&in, "ticks_per_sec")) {
            bad = mp_read_f64(&in, &h->ticks_per_sec) != MP_OK;
        } else if (mp_match_str(&in, "start_ticks")) {
            bad = mp_read_uint(&in, &h->start_ticks) != MP_OK;
        } else if (mp_match_str(&in, "start_mono_ns")) {
            bad = mp_read_uint(&in, &h->start_mono_ns) != MP_OK;
        } else if (mp_match_str(&in, "start_unix_ns")) {
            bad = mp_read_uint(&in, &h->start_unix_ns) != MP_OK;
        } else if (mp_match_str(&in, "pid")) {
            bad = mp_read_uint(&in, &h->pid) != MP_OK;
        } else if (mp_match_str(&in, "ppid")) {
            bad = mp_read_uint(&in, &h->ppid) != MP_OK;
        } else if (mp_match_str(&in, "fork_parent")) {
            bad = mp_read_uint(&in, &h->fork_parent) != MP_OK;
        } else if (mp_match_str(&in, "hist_sub_bits")) {
            bad = mp_read_uint(&in, &u) != MP_OK || u > 8;
            h->hist_sub_bits = (unsigned)u;
        } else if (mp_match_str(&in, "probe_call_ns")) {
            bad = rd_probe_ns(&in, &h->probe_call_ns);
            h->has_probe = !bad;
        } else if (mp_match_str(&in, "probe_call_inner_ns")) {
            bad = rd_probe_ns(&in, &h->probe_inner_ns);
        } else if (mp_match_str(&in, "probe_line_ns")) {
            bad = rd_probe_ns(&in, &h->probe_line_ns);
        } else if (mp_match_str(&in, "argv")) {
            bad = rd_str_array(&in, &h->argv, &h->argc) < 0;
        } else if (mp_match_str(&in, "cpu_time")) {
            bad = rd_set_str(&in, &h->cpu_time) < 0;
        } else if (mp_match_str(&in, "config_warnings")) {
            bad = rd_str_array(&in, &h->config_warnings, &h->nconfig_warnings) < 0;
        } else {
            bad = mp_skip(&in) != MP_OK || mp_skip(&in) != MP_OK;
        }
        if (bad) {
            if (!magic && i == 0)
                rd_fail(f, "not a cprof file (it does not start with a cprof header)");
            else
                rd_fail(f, "damaged header (entry %u of %u has a wrong type)", i + 1, n);
            return -1;
        }
    }
    if (!magic) {
        rd_fail(f, "not a cprof file (its header has no cprof magic)");
        return -1;
    }
    if (!version || !h->mode) {
        rd_fail(f, "damaged header (no %s)", version ? "mode" : "version");
        return -1;
    }
    if (h->major > CPROF_FORMAT_MAJOR) {
        rd_fail(f, "format %u.%u is newer than this cprof reads (%d.%d): update cprof",
                h->major, h->minor, CPROF_FORMAT_MAJOR, CPROF_FORMAT_MINOR);
        return -1;
    }
    if (h->major < 1) {
        rd_fail(f, "format %u.%u is older than any cprof release", h->major, h->minor);
        return -1;
    }
    if (!h->clock)
        h->clock = cprof_xstrdup("none");
    if (!h->exe)
        h->exe = cprof_xstrdup("");
    f->pos = (size_t)(in.end - f->buf);
    return 0;
}

static struct rd_file *rd_start(struct rd_file *f, char *err, size_t errlen)
{
    if (rd_read_header(f) == 0)
        return f;
    snprintf(err, errlen, "%s", f->error);
    rd_close(f);
    return NULL;
}

struct rd_file *rd_open(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "is a directory");
        return NULL;
    }
    struct rd_file *f = cprof_xcalloc(1, sizeof(*f));
    f->fd = fd;
    f->cap = RD_WINDOW;
    f->buf = cprof_xmalloc(f->cap);
    return rd_start(f, err, errlen);
}

struct rd_file *rd_open_mem(const void *data, size_t len, char *err, size_t errlen)
{
    struct rd_file *f = cprof_xcalloc(1, sizeof(*f));
    f->fd = -1;
    f->buf = (uint8_t *)data;
    f->cap = f->len = len;
    f->eof = 1;
    return rd_start(f, err, errlen);
}

void rd_close(struct rd_file *f)
{
    if (!f)
        return;
    if (f->fd >= 0) {
        close(f->fd);
        free(f->buf);
    }
    struct rd_header *h = &f->header;
    free(h->mode);
    free(h->clock);
    free(h->cpu_time);
    free(h->exe);
    rd_free_strs(h->argv, h->argc);
    rd_free_strs(h->config_warnings, h->nconfig_warnings);
    free(f);
}

const struct rd_header *rd_header(const struct rd_file *f)
{
    return &f->header;
}

/* Ends the open record handed out last where its consumer left it: the
 * fields it did not read are skipped (and checked) here. Returns 0, or -1
 * on damage, reported at the record's first byte. */
static int rd_end_open(struct rd_file *f)
{
    struct rd_record *rec = f->open_rec;
    f->open_rec = NULL;
    f->pos = (size_t)(rec->body.pos - f->buf);
    while (rec->nfields) {
        struct mp_in in = {f->buf + f->pos, f->buf + f->len};
        int err = mp_skip(&in);
        if (err == MP_OK) {
            f->pos = (size_t)(in.pos - f->buf);
            rec->nfields--;
        } else if (err == MP_ETRUNC && !f->eof) {
            if (rd_fill(f) < 0)
                return -1;
        } else {
            rd_fail_at(f, rec->offset, err);
            return -1;
        }
    }
    return 0;
}

/* Hands out the trace chunk at the window's next byte open, when its
 * first three fields and the events' array header are in the window.
 * Returns 1, or 0 when this is another record (or a short or odd one),
 * which rd_next walks as any other. */
static int rd_open_trace(struct rd_file *f, struct rd_record *rec)
{
    struct mp_in in = {f->buf + f->pos, f->buf + f->len};
    uint32_t n, count;
    uint64_t type;
    if (mp_read_array(&in, &n) != MP_OK || n < 4 || mp_read_uint(&in, &type) != MP_OK ||
        type != CPROF_REC_TRACE)
        return 0;
    const uint8_t *fields = in.pos;
    if (mp_skip(&in) != MP_OK || mp_skip(&in) != MP_OK ||
        mp_read_array(&in, &count) != MP_OK)
        return 0;
    rec->type = CPROF_REC_TRACE;
    rec->nfields = n - 1;
    rec->body.pos = fields;
    rec->body.end = f->buf + f->len;
    rec->offset = f->buf_offset + f->pos;
    rec->open = 1;
    rec->file = f;
    f->open_rec = rec;
    return 1;
}

int rd_next(struct rd_file *f, struct rd_record *rec)
{
    if (f->open_rec && !f->failed && rd_end_open(f) < 0)
        return -1;
    if (f->failed)
        return -1;
    /* as rd_object does first: an open record starts with the window at
     * least half full, so that most need one refill at most */
    if (!f->eof && f->len - f->pos < f->cap / 2)
        rd_fill(f);
    if (!f->failed && rd_open_trace(f, rec))
        return 1;
    struct mp_in in;
    int r = rd_object(f, &in);
    if (r <= 0)
        return r;
    uint64_t at = f->buf_offset + f->pos;
    uint32_t n;
    uint64_t type;
    if (mp_read_array(&in, &n) != MP_OK || n == 0 || mp_read_uint(&in, &type) != MP_OK ||
        type > UINT32_MAX) {
        rd_fail(f,
                "damaged at byte %llu: a record is not an array starting with its type",
                (unsigned long long)at);
        return -1;
    }
    rec->type = (unsigned)type;
    rec->nfields = n - 1;
    rec->body = in;
    rec->offset = at;
    rec->open = 0;
    rec->file = NULL;
    f->pos = (size_t)(in.end - f->buf);
    return 1;
}

const char *rd_error(const struct rd_file *f)
{
    return f->error;
}

int rd_failed(const struct rd_file *f)
{
    return f->failed;
}

int rd_more(struct rd_record *rec)
{
    struct rd_file *f = rec->file;
    if (f->failed)
        return -1;
    if (f->eof)
        return 0;
    f->pos = (size_t)(rec->body.pos - f->buf);
    size_t had = f->len - f->pos;
    if (rd_fill(f) < 0)
        return -1;
    rec->body.pos = f->buf + f->pos;
    rec->body.end = f->buf + f->len;
    return f->len - f->pos > had;
}

void rd_damage(struct rd_record *rec, int err)
{
    rd_fail_at(rec->file, rec->offset, err);
}

uint64_t rd_offset(const struct rd_file *f)
{
    return f->buf_offset + f->pos;
}

int rd_field_uint(struct rd_record *rec, uint64_t *v)
{
    if (rec->nfields == 0 || mp_read_uint(&rec->body, v) != MP_OK)
        return -1;
    rec->nfields--;
    return 0;
}

int rd_field_str(struct rd_record *rec, const char **s, uint32_t *len)
{
    if (rec->nfields == 0 || mp_read_str(&rec->body, s, len) != MP_OK)
        return -1;
    rec->nfields--;
    return 0;
}
