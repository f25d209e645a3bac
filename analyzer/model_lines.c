/*
 * Line data in the model (format 1.1): line records, which every mode
 * writes with a thread's hits and times per source line, and line site
 * records, which define the site indexes a trace's LINE events use.
 *
 * A process's line records wait in the process until it is finished: only
 * then are its functions mapped to module + link-time address and its tick
 * rate known. They are then summed into model.lines by function, file and
 * line, in nanoseconds, so that threads, processes and runs merge the way
 * the per-function view merges them. Trace replay only checks LINE events
 * (model_trace.c): the runtime writes the same line records in trace mode.
 */
#define _GNU_SOURCE /* qsort_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cprof_format.h"
#include "model.h"
#include "reader.h"

/* Site indexes above this are taken as damage, not data. */
#define LN_MAX_SITE (1u << 24)

const char *model_intern(struct model *m, const char *s, size_t n)
{
    uint32_t i = hm_strings_add(&m->strings, s, n); /* may move items */
    return m->strings.items[i].s;
}

void model_lines_free(struct model *m)
{
    hm_strings_free(&m->strings);
    free(m->lines);
    hm_free(&m->line_index);
}

/* Field readers of records that name what is wrong (see model.h). */
const char *model_field_uint(struct rd_record *rec, uint64_t *v, uint64_t max)
{
    if (rec->nfields == 0)
        return "missing";
    if (rd_field_uint(rec, v) < 0)
        return "not an unsigned integer";
    if (*v > max)
        return "out of range";
    return NULL;
}

const char *model_field_str(struct model *m, struct rd_record *rec, const char **s)
{
    const char *text;
    uint32_t len;
    if (rec->nfields == 0)
        return "missing";
    if (rd_field_str(rec, &text, &len) < 0)
        return "not a string";
    if (memchr(text, 0, len))
        return "a string with a NUL byte";
    *s = model_intern(m, text, len);
    return NULL;
}

/* The fields both records share after the thread: fn, func, file, line. */
struct ln_site {
    uint64_t fn, line;
    const char *func, *file;
};

static const char *ln_site_fields(struct model *m, struct rd_record *rec,
                                  struct ln_site *site, const char **field)
{
    const char *why;
    if ((why = model_field_uint(rec, &site->fn, UINT64_MAX))) {
        *field = "fn";
        return why;
    }
    if ((why = model_field_str(m, rec, &site->func))) {
        *field = "func";
        return why;
    }
    if ((why = model_field_str(m, rec, &site->file))) {
        *field = "file";
        return why;
    }
    *field = "line";
    return model_field_uint(rec, &site->line, UINT32_MAX);
}

int model_line_rec(struct model *m, struct m_process *p, struct rd_record *rec, char *msg,
                   size_t msglen)
{
    uint64_t serial = 0, hits = 0, time = 0, self = 0;
    struct ln_site site;
    const char *field = "thread", *why = model_field_uint(rec, &serial, UINT32_MAX);
    if (!why)
        why = ln_site_fields(m, rec, &site, &field);
    if (!why && (why = model_field_uint(rec, &hits, UINT64_MAX)))
        field = "hits";
    if (!why && (why = model_field_uint(rec, &time, UINT64_MAX)))
        field = "time_ticks";
    if (!why && (why = model_field_uint(rec, &self, UINT64_MAX)))
        field = "self_ticks";
    if (!why && self > time) {
        field = "self_ticks";
        why = "larger than time_ticks";
    }
    if (why) {
        snprintf(msg, msglen, "bad line record: its %s field is %s", field, why);
        return -1;
    }
    struct m_thread *t = model_thread(p, (uint32_t)serial);
    if (t->nnodes == 1 && !t->ended && m->filter.tid && !t->tid)
        t->excluded = 1; /* until its thread record says otherwise */
    cprof_grow(&p->lines, &p->lines_cap, p->nlines + 1, sizeof(*p->lines));
    p->lines[p->nlines++] = (struct m_proc_line){
        .thread = t,
        .local_fn = model_local_fn(p, site.fn),
        .func_name = site.func,
        .file = site.file,
        .line = (uint32_t)site.line,
        .hits = hits,
        .time_ticks = time,
        .self_ticks = self,
    };
    return 0;
}

int model_line_site_rec(struct model *m, struct m_process *p, struct rd_record *rec,
                        char *msg, size_t msglen)
{
    uint64_t serial = 0, index = 0;
    struct ln_site site;
    const char *field = "thread", *why = model_field_uint(rec, &serial, UINT32_MAX);
    if (!why && (why = model_field_uint(rec, &index, LN_MAX_SITE - 1)))
        field = "site";
    if (!why)
        why = ln_site_fields(m, rec, &site, &field);
    if (why) {
        snprintf(msg, msglen, "bad line site record: its %s field is %s", field, why);
        return -1;
    }
    struct m_thread *t = model_thread(p, (uint32_t)serial);
    model_index_set(&t->line_sites, &t->nline_sites, index, model_local_fn(p, site.fn));
    return 0;
}

int model_line_site_defined(const struct m_thread *t, uint64_t site)
{
    return site < t->nline_sites && t->line_sites[site] != M_NONE;
}

void model_lines_drop_excluded(struct m_process *p)
{
    size_t kept = 0;
    for (size_t i = 0; i < p->nlines; i++)
        if (!p->lines[i].thread->excluded)
            p->lines[kept++] = p->lines[i];
    p->nlines = kept;
}

void model_lines_merge(struct model *m, struct m_process *p)
{
    for (size_t i = 0; i < p->nlines; i++) {
        const struct m_proc_line *pl = &p->lines[i];
        uint32_t func = p->local_to_func[pl->local_fn];
        uint64_t key = (uint64_t)func << 32 | pl->line;
        uint32_t idx = hm_get(&m->line_index, key), last = M_NONE;
        while (idx != M_NONE && m->lines[idx].file != pl->file) {
            last = idx;
            idx = m->lines[idx].next;
        }
        if (idx == M_NONE) { /* HM_NONE too */
            cprof_grow(&m->lines, &m->lines_cap, m->nlines + 1, sizeof(*m->lines));
            idx = (uint32_t)m->nlines++;
            m->lines[idx] = (struct m_line){
                .func = func,
                .next = M_NONE,
                .func_name = pl->func_name,
                .file = pl->file,
                .line = pl->line,
            };
            if (last == M_NONE)
                hm_put(&m->line_index, key, idx);
            else
                m->lines[last].next = idx;
        }
        struct m_line *l = &m->lines[idx];
        l->hits += pl->hits;
        l->time_ns += (double)pl->time_ticks * p->ns_per_tick;
        l->self_ns += (double)pl->self_ticks * p->ns_per_tick;
        if (!m->funcs[func].node_limit)
            m->funcs[func].has_lines = 1; /* [line limit] is no function to look at */
    }
    free(p->lines);
    p->lines = NULL;
    p->nlines = p->lines_cap = 0;
}

int model_same_file(const char *a, const char *b)
{
    if (!strcmp(a, b))
        return 1;
    size_t na = strlen(a), nb = strlen(b);
    if (na > nb && a[0] == '/' && b[0] != '/')
        return a[na - nb - 1] == '/' && !strcmp(a + na - nb, b);
    if (nb > na && b[0] == '/' && a[0] != '/')
        return b[nb - na - 1] == '/' && !strcmp(b + nb - na, a);
    return 0;
}

static int model_cmp_line(const void *pa, const void *pb, void *own_file)
{
    const struct m_line *a = *(const struct m_line *const *)pa;
    const struct m_line *b = *(const struct m_line *const *)pb;
    int own_a = model_same_file(a->file, own_file),
        own_b = model_same_file(b->file, own_file);
    if (own_a != own_b)
        return own_b - own_a;
    int c = a->file == b->file ? 0 : strcmp(a->file, b->file);
    if (c)
        return c;
    return a->line < b->line ? -1 : a->line > b->line;
}

void model_lines_sort(const struct m_line **lines, size_t n, const char *own_file)
{
    qsort_r(lines, n, sizeof(*lines), model_cmp_line, (void *)own_file);
}
