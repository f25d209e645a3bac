/*
 * The facts and expectations of `cprof audit`; see audit.h. Nothing here
 * prints a report: cmd_audit.c turns these into tables and statuses.
 */
#include "audit.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define STAT(key, field, loss)                                                           \
    {                                                                                    \
        key, offsetof(struct m_stats, field), loss                                       \
    }
const struct audit_stat audit_stats[] = {
    STAT("dropped_reentrant", dropped_reentrant, 1),
    STAT("dropped_depth", dropped_depth, 1),
    STAT("dropped_nodes", dropped_nodes, 1),
    STAT("dropped_events", dropped_events, 1),
    STAT("unmatched_exits", unmatched_exits, 1),
    STAT("lines_unmatched", lines_unmatched, 1),
    STAT("lines_dropped", lines_dropped, 1),
    STAT("heap_owners_lost", heap_owners_lost, 1),
    STAT("hist_dropped", hist_dropped, 1),
    STAT("trace_stopped_calls", trace_stopped_calls, 1),
    STAT("repaired_longjmp", repaired_longjmp, 0),
    STAT("closed_at_end", closed_at_end, 0),
    STAT("cut_open", cut_open, 0),
    STAT("enters", enters, 0),
    STAT("trace_bytes", trace_bytes, 0),
    STAT("recording_off", recording_off, 0),
    STAT("folded_threads", folded_threads, 0),
};
#undef STAT
const size_t audit_nstats = sizeof audit_stats / sizeof *audit_stats;

uint64_t audit_stat_value(const struct m_stats *st, const struct audit_stat *s)
{
    return *(const uint64_t *)((const char *)st + s->offset);
}

static void audit_thread_facts(const struct m_thread *t, struct audit_thread *at)
{
    memset(at, 0, sizeof(*at));
    at->thread = t;
    for (size_t i = 1; i < t->nnodes; i++) {
        at->calls += t->nodes[i].calls;
        at->completed += t->nodes[i].completed;
    }
    const struct m_stats *st = &t->stats;
    at->completed_known = strcmp(t->proc->mode, "count") != 0;
    at->open_at_end = st->closed_at_end + st->cut_open;
    uint64_t ended = at->completed + at->open_at_end;
    if (at->completed_known && t->proc->fork_parent && ended > at->calls)
        at->inherited = ended - at->calls;
    at->balanced = !at->completed_known || at->calls + at->inherited == ended;
    for (size_t k = 0; k < audit_nstats; k++) {
        if (audit_stats[k].loss)
            at->lost += audit_stat_value(st, &audit_stats[k]);
    }
    at->repaired = st->repaired_longjmp + at->open_at_end;
}

/* How far rate is from the header's, in parts per million; NAN when
 * either is unknown. */
static double audit_drift_ppm(double rate, double header)
{
    if (!(rate > 0) || !(header > 0))
        return NAN;
    return (rate / header - 1) * 1e6;
}

static int audit_damaged(const struct model *m, const struct m_process *p)
{
    size_t n = strlen(p->file);
    for (size_t i = 0; i < m->damage.count; i++)
        if (!strncmp(m->damage.text[i], p->file, n) && m->damage.text[i][n] == ':')
            return 1;
    return 0;
}

int audit_period_ticks(const struct m_process *p, const struct m_period *per,
                       uint64_t *ticks)
{
    uint64_t off = per->off_ticks;
    if (!off && !p->complete)
        return -1;
    if (!off)
        off = p->end_ticks; /* still on when the process ended */
    *ticks = off > per->on_ticks ? off - per->on_ticks : 0;
    return 0;
}

static void audit_period_facts(const struct m_process *p, struct audit_process *ap)
{
    ap->nperiods = p->nperiods;
    ap->recorded_ns = ap->run_ns = NAN;
    if (p->complete && p->ns_per_tick > 0 && p->end_ticks >= p->start_ticks)
        ap->run_ns = (double)(p->end_ticks - p->start_ticks) * p->ns_per_tick;
    if (!p->nperiods)
        return;
    uint64_t sum = 0, ticks;
    int known = p->ns_per_tick > 0;
    ap->never_on = 1;
    for (size_t i = 0; i < p->nperiods; i++) {
        const struct m_period *per = &p->periods[i];
        if (!per->off_ticks || per->off_ticks > per->on_ticks)
            ap->never_on = 0;
        if (audit_period_ticks(p, per, &ticks) < 0)
            known = 0;
        else
            sum += ticks;
    }
    if (known)
        ap->recorded_ns = (double)sum * p->ns_per_tick;
}

static void audit_process_facts(const struct model *m, const struct m_process *p,
                                struct audit_process *ap)
{
    ap->proc = p;
    if (p->nclocks >= 2 && p->clock_last_ticks > p->clock_first_ticks &&
        p->clock_last_ns > p->clock_first_ns)
        ap->clock_ticks_per_sec = (double)(p->clock_last_ticks - p->clock_first_ticks) *
                                  1e9 / (double)(p->clock_last_ns - p->clock_first_ns);
    ap->clock_drift_ppm =
        audit_drift_ppm(ap->clock_ticks_per_sec, p->header_ticks_per_sec);
    ap->end_drift_ppm = audit_drift_ppm(p->end_ticks_per_sec, p->header_ticks_per_sec);
    ap->damaged = audit_damaged(m, p) || !p->complete;
    ap->killed = p->complete && p->end_reason &&
                 (!strcmp(p->end_reason, "signal") || !strcmp(p->end_reason, "killed"));
    ap->lost += p->threads_lost + p->heap_dropped;
    audit_period_facts(p, ap);
}

void audit_build(const struct model *m, struct audit *a)
{
    memset(a, 0, sizeof(*a));
    size_t nthreads = 0;
    for (size_t i = 0; i < m->nprocs; i++)
        nthreads += m->procs[i]->nthreads;
    a->procs = cprof_xcalloc(m->nprocs + 1, sizeof(*a->procs));
    a->threads = cprof_xcalloc(nthreads + 1, sizeof(*a->threads));
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct m_process *p = m->procs[i];
        struct audit_process *ap = &a->procs[a->nprocs++];
        ap->first_thread = a->nthreads;
        ap->nthreads = p->nthreads;
        for (size_t k = 0; k < p->nthreads; k++) {
            struct audit_thread *at = &a->threads[a->nthreads++];
            audit_thread_facts(p->threads[k], at);
            ap->lost += at->lost;
            ap->repaired += at->repaired;
        }
        audit_process_facts(m, p, ap);
        a->lost += ap->lost;
        a->repaired += ap->repaired;
        a->lossy_procs += ap->lost || ap->damaged || ap->killed || p->parent_missing;
        a->damaged_procs += ap->damaged;
        a->killed_procs += ap->killed;
    }
}

void audit_free(struct audit *a)
{
    free(a->procs);
    free(a->threads);
    memset(a, 0, sizeof(*a));
}

/* ---- expectations -------------------------------------------------------- */

void audit_expect_free(struct audit_expect *e)
{
    for (size_t i = 0; i < e->count; i++) {
        free(e->checks[i].func);
        free(e->checks[i].file);
        free(e->checks[i].want);
    }
    free(e->checks);
    memset(e, 0, sizeof(*e));
}

/* A count at *s (digits only), moving *s past it. 0, or -1. */
static int audit_count(const char **s, uint64_t *v)
{
    const char *p = *s;
    if (!isdigit((unsigned char)*p))
        return -1;
    uint64_t n = 0;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    *s = p;
    *v = n;
    return 0;
}

/* The expected count of one line, after the function's name: "N",
 * "N..M", ">= N" or "<= N" (blanks after the operator optional). */
static const char *audit_want(const char *s, struct audit_check *c)
{
    const char *op = s;
    c->lo = 0;
    c->hi = UINT64_MAX;
    if ((s[0] == '>' || s[0] == '<') && s[1] == '=') {
        s += 2;
        s += strspn(s, " \t");
        uint64_t n;
        if (audit_count(&s, &n) < 0)
            return "want a count after >= or <=";
        if (op[0] == '>')
            c->lo = n;
        else
            c->hi = n;
    } else {
        if (audit_count(&s, &c->lo) < 0)
            return "want `function count`, `function N..M`, `function >= N` or "
                   "`function <= N`";
        c->hi = c->lo;
        if (s[0] == '.' && s[1] == '.') {
            s += 2;
            if (audit_count(&s, &c->hi) < 0)
                return "want a count after ..";
            if (c->hi < c->lo)
                return "the range is empty (its end is below its start)";
        }
    }
    s += strspn(s, " \t\r");
    if (*s)
        return "unexpected text after the count";
    return NULL;
}

int audit_expect_parse(const char *path, const char *text, struct audit_expect *e,
                       char *msg, size_t msglen)
{
    unsigned line_no = 0;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char *buf = cprof_xstrndup(line, len);
        line = nl ? nl + 1 : NULL;
        line_no++;
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = 0; /* a comment */
        char *s = buf + strspn(buf, " \t\r");
        /* blank, or a directive of other tools (the samples' `!exit 3`) */
        if (!*s || *s == '!') {
            free(buf);
            continue;
        }
        size_t name_len = strcspn(s, " \t\r");
        struct audit_check c = {0};
        const char *why = NULL;
        if (!s[name_len])
            why = "want `function count` (no count)";
        else if (name_len == 0 || s[0] == '@' || s[name_len - 1] == '@')
            why = "want a function name, or name@file";
        else
            why = audit_want(s + name_len + strspn(s + name_len, " \t"), &c);
        if (why) {
            snprintf(msg, msglen, "%s:%u: %s: \"%s\"", path, line_no, why, s);
            free(buf);
            return -1;
        }
        const char *want = s + name_len + strspn(s + name_len, " \t");
        size_t want_len = strcspn(want, "\r");
        while (want_len && (want[want_len - 1] == ' ' || want[want_len - 1] == '\t'))
            want_len--;
        c.want = cprof_xstrndup(want, want_len);
        s[name_len] = 0;
        char *at = strchr(s, '@');
        if (at) {
            *at = 0;
            c.file = cprof_xstrdup(at + 1);
        }
        c.func = cprof_xstrdup(s);
        c.line = line_no;
        cprof_grow(&e->checks, &e->cap, e->count + 1, sizeof(*e->checks));
        e->checks[e->count++] = c;
        free(buf);
    }
    return 0;
}

int audit_expect_load(const char *path, struct audit_expect *e, char *msg, size_t msglen)
{
    int is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "r");
    if (!f) {
        snprintf(msg, msglen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct strbuf sb = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sb_add(&sb, chunk, n);
    int bad = ferror(f);
    if (!is_stdin)
        fclose(f);
    int r = -1;
    if (bad)
        snprintf(msg, msglen, "%s: cannot read it", path);
    else if (sb.len && memchr(sb.s, 0, sb.len))
        snprintf(msg, msglen, "%s: not a text file", path);
    else
        r = audit_expect_parse(is_stdin ? "(stdin)" : path, sb.s ? sb.s : "", e, msg,
                               msglen);
    sb_free(&sb);
    return r;
}

/* Whether source file path is file, or ends in "/file". */
static int audit_file_is(const char *path, const char *file)
{
    size_t n = strlen(path), k = strlen(file);
    return n >= k && !strcmp(path + n - k, file) && (n == k || path[n - k - 1] == '/');
}

uint64_t audit_calls(const struct profile *pf, const char *func, const char *file)
{
    uint64_t calls = 0;
    for (size_t i = 0; i < pf->nrows; i++) {
        const struct pf_row *r = &pf->rows[i];
        if (!strcmp(r->name, func) && (!file || audit_file_is(r->file, file)))
            calls += r->calls;
    }
    return calls;
}

int audit_check_ok(const struct audit_check *c, uint64_t calls)
{
    return calls >= c->lo && calls <= c->hi;
}

static int audit_cmp_rows(const void *a, const void *b)
{
    const struct pf_row *x = *(const struct pf_row *const *)a;
    const struct pf_row *y = *(const struct pf_row *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->file, y->file);
}

/* The shortest way to name row's file among the rows [first, end) of its
 * name: its last component when no other file of those has it, else the
 * whole path. */
static const char *audit_file_name(const struct pf_row *const *rows, size_t first,
                                   size_t end, const struct pf_row *row)
{
    const char *base = model_basename(row->file);
    for (size_t i = first; i < end; i++)
        if (strcmp(rows[i]->file, row->file) &&
            !strcmp(model_basename(rows[i]->file), base))
            return row->file;
    return base;
}

void audit_write_expect(FILE *out, const struct profile *pf, const char *what)
{
    const struct pf_row **rows = cprof_xcalloc(pf->nrows + 1, sizeof(*rows));
    size_t n = 0;
    for (size_t i = 0; i < pf->nrows; i++)
        if (pf->rows[i].calls)
            rows[n++] = &pf->rows[i];
    qsort(rows, n, sizeof(*rows), audit_cmp_rows);
    fprintf(out,
            "# Exact calls per function of %s, written by cprof audit --write-expect.\n"
            "# `function count` per line; a count may become a range (f 10..20) or a\n"
            "# bound (f >= 10, f <= 20). Check a run with cprof audit --expect FILE.\n",
            what);
    for (size_t i = 0; i < n;) {
        size_t end = i + 1;
        int files = 0; /* the name is in several source files */
        while (end < n && !strcmp(rows[end]->name, rows[i]->name)) {
            files |= strcmp(rows[end]->file, rows[i]->file) != 0;
            end++;
        }
        for (size_t k = i; k < end;) {
            const struct pf_row *r = rows[k];
            uint64_t calls = 0;
            for (; k < end && (!files || !strcmp(rows[k]->file, r->file)); k++)
                calls += rows[k]->calls;
            if (strpbrk(r->name, " \t#@") || (files && !r->file[0]))
                fprintf(out, "# %s %llu (not a name an expectation can give)\n", r->name,
                        (unsigned long long)calls);
            else if (files)
                fprintf(out, "%s@%s %llu\n", r->name, audit_file_name(rows, i, end, r),
                        (unsigned long long)calls);
            else
                fprintf(out, "%s %llu\n", r->name, (unsigned long long)calls);
        }
        i = end;
    }
    free(rows);
}
