/*
 * The hotspot rules; see hotspots.h. Each rule looks at one function (the
 * imbalance rule at the threads of one process), and when its thresholds
 * are reached adds a finding: the numbers it went by, advice that quotes
 * them, and the time at stake, an estimate of what acting on it could save
 * (the function's self time for a hot or tiny function, the waiting time,
 * the slow calls' time above the median, the slowest thread's time above
 * the mean, the allocations times an assumed cost each). Leaks put no time
 * at stake: they rank after the findings that do, by bytes.
 */
#define _GNU_SOURCE /* open_memstream */
#include "hotspots.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "util.h"

const struct hs_threshold hs_thresholds[HS_NTHRESHOLDS] = {
    [HS_SELF_PCT] = {"self_pct", 25,
                     "hot_self: share of all self time (%) a function takes"},
    [HS_TINY_CALLS_MIN] = {"tiny_calls", 100000, "tiny_calls: calls at least"},
    [HS_TINY_NS] = {"tiny_ns", 100, "tiny_calls: self time per call (ns) at most"},
    [HS_TINY_PCT] = {"tiny_pct", 5, "tiny_calls: share of all self time (%) at least"},
    [HS_ALLOC_CALLS_MIN] = {"alloc_calls", 1000,
                            "hot_alloc: calls of the function at least"},
    [HS_ALLOC_PER_CALL] = {"alloc_per_call", 1,
                           "hot_alloc: allocations per call at least"},
    [HS_ALLOC_BLOCKS_MIN] = {"alloc_blocks", 10000,
                             "hot_alloc: or this many allocations, at least"},
    [HS_ALLOC_FREED_PCT] = {"alloc_freed_pct", 90,
                            "hot_alloc: ... of which it frees this share (%) itself"},
    [HS_ALLOC_COST_NS] = {"alloc_cost_ns", 100,
                          "hot_alloc: assumed cost of a malloc and free (ns), for "
                          "the time at stake"},
    [HS_LEAK_BYTES] = {"leak_bytes", 65536,
                       "leak: bytes left allocated at exit at least, or"},
    [HS_LEAK_BLOCKS] = {"leak_blocks", 100,
                        "leak: blocks left allocated at exit at least"},
    [HS_LATENCY_RATIO] = {"latency_ratio", 10, "latency: p99 / p50 at least"},
    [HS_LATENCY_CALLS_MIN] = {"latency_calls", 100, "latency: completed calls at least"},
    [HS_LATENCY_GAP_NS] = {"latency_gap_ns", 10000, "latency: p99 - p50 (ns) at least"},
    [HS_LATENCY_PCT] = {"latency_pct", 1,
                        "latency: time above the median as a share of all self time "
                        "(%) at least"},
    [HS_WAIT_PCT] = {"wait_pct", 50,
                     "waiting: share of its self time (%) off the CPU at least"},
    [HS_WAIT_SHARE_PCT] = {"wait_share_pct", 5,
                           "waiting: the waiting as a share of all self time (%) "
                           "at least"},
    [HS_IMBALANCE_RATIO] = {"imbalance_ratio", 2,
                            "imbalance: slowest / fastest thread at least"},
    [HS_IMBALANCE_NS] = {"imbalance_ns", 1000000,
                         "imbalance: the slowest thread's time (ns) at least"},
};

static const char *const hs_rule_names[HS_NRULES] = {
    [HS_HOT_SELF] = "hot_self",   [HS_TINY_CALLS] = "tiny_calls",
    [HS_HOT_ALLOC] = "hot_alloc", [HS_LEAK] = "leak",
    [HS_LATENCY] = "latency",     [HS_WAITING] = "waiting",
    [HS_IMBALANCE] = "imbalance",
};

const char *hs_rule_name(enum hs_rule rule)
{
    return hs_rule_names[rule];
}

void hs_config_default(struct hs_config *c)
{
    for (size_t i = 0; i < HS_NTHRESHOLDS; i++)
        c->value[i] = hs_thresholds[i].value;
}

int hs_config_set(struct hs_config *c, const char *arg, char *msg, size_t msglen)
{
    const char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
    for (size_t i = 0; i < HS_NTHRESHOLDS; i++) {
        if (strlen(hs_thresholds[i].name) != n || strncmp(arg, hs_thresholds[i].name, n))
            continue;
        char *end = NULL;
        double v = eq && eq[1] ? strtod(eq + 1, &end) : NAN;
        if (!end || *end || !isfinite(v) || v < 0) {
            snprintf(msg, msglen, "threshold %s wants a number (0 or more), not '%s'",
                     hs_thresholds[i].name, eq ? eq + 1 : "");
            return -1;
        }
        c->value[i] = v;
        return 0;
    }
    struct strbuf names = {0};
    for (size_t i = 0; i < HS_NTHRESHOLDS; i++)
        sb_printf(&names, "%s%s", i ? ", " : "", hs_thresholds[i].name);
    snprintf(msg, msglen, "unknown threshold '%.*s' (valid: %s)", (int)n, arg, names.s);
    sb_free(&names);
    return -1;
}

/* hot_self names the hottest lines down to this share of the function. */
#define HS_LINE_MIN_PCT 5

/* What the rules share while they run. */
struct hs_ctx {
    const struct model *m;
    const struct profile *pf;
    const double *t; /* thresholds */
    struct hs_result *out;
    unsigned char *fired; /* per row: bit (1 << rule) when that rule fired */
    /* per row, the self time hot_self and tiny_calls go by (hs_measure),
     * and its sum over the rows; cpu: it is CPU time */
    double *self, self_total;
    int cpu;
};

/*
 * The self time of row r that hot_self and tiny_calls compare: its CPU
 * self time when the data has it; else its wall self time with no call
 * counted above the function's p99 (calls x p99 at most). A thread
 * descheduled for milliseconds on a loaded machine charges that time to
 * whatever call it was in: one rare slow call of a microsecond function,
 * which would otherwise make it look hot. What the slowest 1% of calls
 * really cost is the latency rule's business.
 */
static double hs_measure(const struct profile *pf, const struct pf_row *r)
{
    if (pf->cpu)
        return r->cpu_self_ns;
    if (!r->has_pct || r->p99_ns <= 0 || (double)r->calls * r->p99_ns >= r->self_ns)
        return r->self_ns;
    return (double)r->calls * r->p99_ns;
}

/* A count with thousands separators: "4,012,331". */
static const char *hs_count(double v, char *buf, size_t len)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", v);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
    return buf;
}

static const char *hs_ns(double ns, char *buf, size_t len)
{
    fmt_human_ns(ns, buf, len);
    return buf;
}

static const char *hs_bytes(double bytes, char *buf, size_t len)
{
    fmt_human_bytes(bytes, 0, buf, len);
    return buf;
}

/* A new finding of rule on row; the caller adds evidence and advice. */
static struct hs_finding *hs_add(struct hs_ctx *x, enum hs_rule rule, size_t row,
                                 double at_stake_ns)
{
    struct hs_result *r = x->out;
    cprof_grow(&r->items, &r->cap, r->count + 1, sizeof(*r->items));
    struct hs_finding *f = &r->items[r->count++];
    *f = (struct hs_finding){.rule = rule, .row = row, .at_stake_ns = at_stake_ns};
    x->fired[row] |= (unsigned char)(1u << rule);
    return f;
}

static void hs_ev(struct hs_finding *f, const char *key, double value, enum hs_unit unit)
{
    if (f->nevidence < HS_MAX_EVIDENCE)
        f->evidence[f->nevidence++] = (struct hs_evidence){key, value, unit};
}

static void hs_advice(struct hs_finding *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void hs_advice(struct hs_finding *f, const char *fmt, ...)
{
    struct strbuf sb = {0};
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    f->advice = sb.s;
}

/* waiting: much of the function's own wall time was off the CPU. */
static void hs_rule_waiting(struct hs_ctx *x, size_t i)
{
    const struct pf_row *r = &x->pf->rows[i];
    double wait = r->self_ns - r->cpu_self_ns;
    if (!x->pf->cpu || !x->pf->timed || r->self_ns <= 0 || wait <= 0 ||
        x->pf->total_self_ns <= 0)
        return;
    double pct = wait * 100 / r->self_ns, share = wait * 100 / x->pf->total_self_ns;
    if (pct < x->t[HS_WAIT_PCT] || share < x->t[HS_WAIT_SHARE_PCT])
        return;
    struct hs_finding *f = hs_add(x, HS_WAITING, i, wait);
    hs_ev(f, "self_ns", r->self_ns, HS_NS);
    hs_ev(f, "cpu_self_ns", r->cpu_self_ns, HS_NS);
    hs_ev(f, "wait_ns", wait, HS_NS);
    hs_ev(f, "wait_pct", pct, HS_PCT);
    char a[32], b[32];
    hs_advice(f,
              "%s: %s of its %s self time (%.0f%%) was spent off the CPU (blocked in "
              "I/O, sleep, a lock or page faults); overlap the waiting with work "
              "(asynchronous I/O, another thread), batch the requests, or find what it "
              "blocks on (strace -T)",
              r->name, hs_ns(wait, a, sizeof a), hs_ns(r->self_ns, b, sizeof b), pct);
}

/* tiny_calls: the time is in very many calls that each do almost nothing. */
static void hs_rule_tiny(struct hs_ctx *x, size_t i)
{
    const struct pf_row *r = &x->pf->rows[i];
    if (!x->pf->timed || !r->calls || x->self_total <= 0 ||
        (x->fired[i] & (1u << HS_WAITING)))
        return;
    double self = x->self[i], pct = self * 100 / x->self_total;
    double per_call = self / (double)r->calls;
    if ((double)r->calls < x->t[HS_TINY_CALLS_MIN] || per_call > x->t[HS_TINY_NS] ||
        pct < x->t[HS_TINY_PCT])
        return;
    struct hs_finding *f = hs_add(x, HS_TINY_CALLS, i, self);
    hs_ev(f, "calls", (double)r->calls, HS_COUNT);
    hs_ev(f, "self_per_call_ns", per_call, HS_NS);
    hs_ev(f, "self_ns", r->self_ns, HS_NS);
    hs_ev(f, x->cpu ? "cpu_self_ns" : "typical_self_ns", self, HS_NS);
    hs_ev(f, x->cpu ? "cpu_self_pct" : "typical_self_pct", pct, HS_PCT);
    char a[48], b[32];
    /* with the probe cost in the data: what its calls' probes cost, in it
     * and in its callers (the pair per call) */
    double pair = x->pf->compensable ? x->pf->probe_call_ns : 0;
    if (pair > 0) {
        double all = pair * (double)r->calls;
        hs_ev(f, "probe_per_call_ns", pair, HS_NS);
        char c[32];
        hs_advice(
            f,
            "%s: %s calls at %.1f ns %sself each = %.0f%% of self time (%s); the "
            "probes on these calls alone cost about %s (%.1f ns a call, in it and its "
            "callers), so they also inflate the times around it. If it is inline "
            "already (static inline, or the optimizer inlined it), its calls cost "
            "nothing without cprof: leave it out of the instrumentation "
            "(__attribute__((no_instrument_function)) on %s) for truer times of the "
            "rest; if not, make it static inline in its header, or batch the work so "
            "one call handles many items",
            r->name, hs_count((double)r->calls, a, sizeof a), per_call,
            x->cpu ? "CPU " : "", pct, hs_ns(self, b, sizeof b), hs_ns(all, c, sizeof c),
            pair, r->name);
        return;
    }
    hs_advice(f,
              "%s: %s calls at %.1f ns %sself each = %.0f%% of self time (%s); the call "
              "itself is most of it: make it static inline in its header (or define it "
              "where it is called, so -O2 inlines it), or batch the work so one call "
              "handles many items",
              r->name, hs_count((double)r->calls, a, sizeof a), per_call,
              x->cpu ? "CPU " : "", pct, hs_ns(self, b, sizeof b));
}

/* The hottest lines of function func by self time: up to max of them into
 * best (model.lines indexes), most first; returns how many, with *sum the
 * self time of all its lines. */
static size_t hs_hot_lines(const struct model *m, uint32_t func, size_t *best, size_t max,
                           double *sum)
{
    size_t n = 0;
    *sum = 0;
    for (size_t i = 0; i < m->nlines; i++) {
        const struct m_line *l = &m->lines[i];
        if (l->func != func || l->self_ns <= 0)
            continue;
        *sum += l->self_ns;
        size_t k = n < max ? n++ : max;
        while (k > 0 && m->lines[best[k - 1]].self_ns < l->self_ns) {
            if (k < max)
                best[k] = best[k - 1];
            k--;
        }
        if (k < max)
            best[k] = i;
    }
    return n;
}

/* hot_self: a large share of all self time (as hs_measure counts it). Not
 * when tiny_calls or waiting already explain the function's time better. */
static void hs_rule_hot_self(struct hs_ctx *x, size_t i)
{
    const struct pf_row *r = &x->pf->rows[i];
    if (!x->pf->timed || x->self_total <= 0)
        return;
    double self = x->self[i], pct = self * 100 / x->self_total;
    if (pct < x->t[HS_SELF_PCT] ||
        (x->fired[i] & (1u << HS_TINY_CALLS | 1u << HS_WAITING)))
        return;
    struct hs_finding *f = hs_add(x, HS_HOT_SELF, i, self);
    hs_ev(f, "self_ns", r->self_ns, HS_NS);
    hs_ev(f, "self_pct", r->self_pct, HS_PCT);
    hs_ev(f, x->cpu ? "cpu_self_ns" : "typical_self_ns", self, HS_NS);
    hs_ev(f, x->cpu ? "cpu_self_pct" : "typical_self_pct", pct, HS_PCT);
    hs_ev(f, "calls", (double)r->calls, HS_COUNT);
    hs_ev(f, "self_per_call_ns", r->calls ? r->self_ns / (double)r->calls : 0, HS_NS);
    char a[32], b[48], c[32];
    struct strbuf sb = {0};
    sb_printf(&sb, "%s: %s %sself = %.0f%% of all %sself time in %s call%s", r->name,
              hs_ns(self, a, sizeof a), x->cpu ? "CPU " : "", pct, x->cpu ? "CPU " : "",
              hs_count((double)r->calls, b, sizeof b), r->calls == 1 ? "" : "s");
    if (!x->cpu && self < r->self_ns * 0.9)
        sb_printf(&sb, " (no call counted above its p99; %s with them)",
                  hs_ns(r->self_ns, c, sizeof c));
    sb_puts(&sb, "; ");
    size_t best[3];
    double sum;
    size_t n = x->m->funcs[r->func].has_lines
                   ? hs_hot_lines(x->m, r->func, best, sizeof best / sizeof *best, &sum)
                   : 0;
    if (n) {
        const struct m_line *top = &x->m->lines[best[0]];
        hs_ev(f, "hot_line", top->line, HS_COUNT);
        hs_ev(f, "hot_line_pct", top->self_ns * 100 / sum, HS_PCT);
        sb_puts(&sb, "hot lines: ");
        for (size_t k = 0; k < n; k++) {
            const struct m_line *l = &x->m->lines[best[k]];
            if (k && l->self_ns * 100 / sum < HS_LINE_MIN_PCT)
                break;
            sb_printf(&sb, "%s%s:%u (%.0f%% of %s's time)", k ? ", " : "",
                      model_basename(l->file), l->line, l->self_ns * 100 / sum, r->name);
        }
        sb_puts(&sb, "; make those cheaper or run them less often");
    } else {
        sb_printf(&sb,
                  "rebuild with cprof-cc --cprof-lines=%s to see which lines take it "
                  "(then cprof lines %s)",
                  r->name, r->name);
    }
    f->advice = sb.s;
}

/* hot_alloc: a frequent function allocating on every call, or many blocks
 * freed by the function that allocated them (short-lived). */
static void hs_rule_alloc(struct hs_ctx *x, size_t i)
{
    const struct pf_row *r = &x->pf->rows[i];
    double allocs = (double)r->alloc_calls;
    if (!x->pf->heap || !r->calls || !r->alloc_calls)
        return;
    double per_call = allocs / (double)r->calls;
    double freed_pct = (double)r->free_calls * 100 / allocs;
    int per_call_hit = (double)r->calls >= x->t[HS_ALLOC_CALLS_MIN] &&
                       per_call >= x->t[HS_ALLOC_PER_CALL];
    int short_lived =
        allocs >= x->t[HS_ALLOC_BLOCKS_MIN] && freed_pct >= x->t[HS_ALLOC_FREED_PCT];
    if (!per_call_hit && !short_lived)
        return;
    struct hs_finding *f = hs_add(x, HS_HOT_ALLOC, i, allocs * x->t[HS_ALLOC_COST_NS]);
    hs_ev(f, "calls", (double)r->calls, HS_COUNT);
    hs_ev(f, "alloc_calls", allocs, HS_COUNT);
    hs_ev(f, "allocs_per_call", per_call, HS_RATIO);
    hs_ev(f, "free_calls", (double)r->free_calls, HS_COUNT);
    hs_ev(f, "alloc_bytes", (double)r->alloc_bytes, HS_BYTES);
    char a[48], b[48], c[32];
    hs_count(allocs, a, sizeof a);
    hs_count((double)r->calls, b, sizeof b);
    hs_bytes((double)r->alloc_bytes / allocs, c, sizeof c);
    if (freed_pct >= x->t[HS_ALLOC_FREED_PCT])
        hs_advice(f,
                  "%s: %s allocations in %s calls (%.1f a call, %s each on average), "
                  "%.0f%% of them freed by %s itself: the blocks are short-lived; reuse "
                  "one buffer (allocate it once outside the loop, or let the caller "
                  "pass it in) instead of malloc and free each time",
                  r->name, a, b, per_call, c, freed_pct > 100 ? 100 : freed_pct, r->name);
    else
        hs_advice(f,
                  "%s: %s allocations in %s calls (%.1f a call, %s each on average): "
                  "hoist the allocation out of the hot path (allocate once per batch, "
                  "or keep freed blocks in a pool for the next call)",
                  r->name, a, b, per_call, c);
}

/* leak: blocks it allocated were still allocated when the program ended. */
static void hs_rule_leak(struct hs_ctx *x, size_t i)
{
    const struct pf_row *r = &x->pf->rows[i];
    if (!x->pf->heap || !r->leaked_blocks ||
        ((double)r->leaked_bytes < x->t[HS_LEAK_BYTES] &&
         (double)r->leaked_blocks < x->t[HS_LEAK_BLOCKS]))
        return;
    struct hs_finding *f = hs_add(x, HS_LEAK, i, 0);
    f->at_stake_bytes = (double)r->leaked_bytes;
    hs_ev(f, "leaked_blocks", (double)r->leaked_blocks, HS_COUNT);
    hs_ev(f, "leaked_bytes", (double)r->leaked_bytes, HS_BYTES);
    hs_ev(f, "alloc_calls", (double)r->alloc_calls, HS_COUNT);
    hs_ev(f, "alloc_bytes", (double)r->alloc_bytes, HS_BYTES);
    char a[48], b[32], c[48];
    hs_advice(f,
              "%s: %s block%s (%s) it allocated were never freed, of %s allocations; "
              "free each where its last user is done with it, or keep the blocks in one "
              "owner that frees them at exit (cprof heap %s; valgrind --leak-check=full "
              "names the call sites)",
              r->name, hs_count((double)r->leaked_blocks, a, sizeof a),
              r->leaked_blocks == 1 ? "" : "s",
              hs_bytes((double)r->leaked_bytes, b, sizeof b),
              hs_count((double)r->alloc_calls, c, sizeof c), r->name);
}

/* latency: the slowest calls take far longer than the median one. */
static void hs_rule_latency(struct hs_ctx *x, size_t i)
{
    const struct pf_row *r = &x->pf->rows[i];
    if (!x->pf->timed || !r->has_pct || r->p50_ns <= 0 ||
        (double)r->completed < x->t[HS_LATENCY_CALLS_MIN])
        return;
    double ratio = r->p99_ns / r->p50_ns;
    if (ratio < x->t[HS_LATENCY_RATIO] || r->p99_ns - r->p50_ns < x->t[HS_LATENCY_GAP_NS])
        return;
    double above = r->total_ns - (double)r->completed * r->p50_ns;
    if (x->pf->total_self_ns <= 0 ||
        above * 100 / x->pf->total_self_ns < x->t[HS_LATENCY_PCT])
        return;
    /* ranked by the share of that time that is the function's own: a
     * caller whose slow calls are slow in its callees ranks after them
     * (they have findings of their own) */
    double own =
        r->total_ns > 0 && r->self_ns < r->total_ns ? r->self_ns / r->total_ns : 1;
    struct hs_finding *f = hs_add(x, HS_LATENCY, i, above * own);
    hs_ev(f, "calls", (double)r->completed, HS_COUNT);
    hs_ev(f, "p50_ns", r->p50_ns, HS_NS);
    hs_ev(f, "p90_ns", r->p90_ns, HS_NS);
    hs_ev(f, "p99_ns", r->p99_ns, HS_NS);
    hs_ev(f, "max_ns", r->max_ns, HS_NS);
    hs_ev(f, "p99_over_p50", ratio, HS_RATIO);
    char a[32], b[32], c[32], d[48];
    hs_advice(f,
              "%s: p99 %s is %.0fx its median %s (slowest %s) over %s calls; find what "
              "the slow calls do differently: record a trace (cprof record --mode "
              "trace) and look at them in cprof export --format chrome",
              r->name, hs_ns(r->p99_ns, a, sizeof a), ratio,
              hs_ns(r->p50_ns, b, sizeof b), hs_ns(r->max_ns, c, sizeof c),
              hs_count((double)r->completed, d, sizeof d));
}

/* One thread's time in one function it started with (a child of its
 * root): the work the thread was given. */
struct hs_entry {
    uint32_t func;
    uint64_t tid;
    double ns;
};

static int hs_entry_cmp(const void *a, const void *b)
{
    const struct hs_entry *x = a, *y = b;
    if (x->func != y->func)
        return x->func < y->func ? -1 : 1;
    return x->ns < y->ns ? -1 : x->ns > y->ns;
}

/* imbalance: within process p, threads that start in the same function
 * (the same work) took unequal times: CPU time when recorded, else wall. */
static void hs_rule_imbalance(struct hs_ctx *x, const struct m_process *p,
                              const size_t *row_of)
{
    struct hs_entry *e = NULL;
    size_t n = 0, cap = 0;
    for (size_t k = 0; k < p->nthreads; k++) {
        const struct m_thread *t = p->threads[k];
        if (t->excluded || !t->nnodes)
            continue;
        for (uint32_t c = t->nodes[0].first_child; c != M_NONE;
             c = t->nodes[c].next_sibling) {
            const struct m_node *node = &t->nodes[c];
            double ns = p->has_cpu ? (double)node->cpu_ns
                                   : (double)node->incl_ticks * p->ns_per_tick;
            /* the same function twice at the top of one thread: one share */
            if (n && e[n - 1].tid == t->tid && e[n - 1].func == node->func) {
                e[n - 1].ns += ns;
                continue;
            }
            cprof_grow(&e, &cap, n + 1, sizeof(*e));
            e[n++] = (struct hs_entry){node->func, t->tid, ns};
        }
    }
    if (n)
        qsort(e, n, sizeof *e, hs_entry_cmp);
    for (size_t a = 0, b; a < n; a = b) {
        double sum = 0;
        for (b = a; b < n && e[b].func == e[a].func; b++)
            sum += e[b].ns;
        size_t threads = b - a, row = row_of[e[a].func];
        const struct hs_entry *lo = &e[a], *hi = &e[b - 1];
        if (threads < 2 || row == SIZE_MAX || lo->ns <= 0 ||
            hi->ns / lo->ns < x->t[HS_IMBALANCE_RATIO] || hi->ns < x->t[HS_IMBALANCE_NS])
            continue;
        double mean = sum / (double)threads;
        struct hs_finding *f = hs_add(x, HS_IMBALANCE, row, hi->ns - mean);
        hs_ev(f, "pid", (double)p->pid, HS_COUNT);
        hs_ev(f, "threads", (double)threads, HS_COUNT);
        hs_ev(f, "slowest_ns", hi->ns, HS_NS);
        hs_ev(f, "fastest_ns", lo->ns, HS_NS);
        hs_ev(f, "mean_ns", mean, HS_NS);
        hs_ev(f, "slowest_over_fastest", hi->ns / lo->ns, HS_RATIO);
        hs_ev(f, "slowest_tid", (double)hi->tid, HS_COUNT);
        char s[32], l[32], mn[32];
        hs_advice(f,
                  "%s: %zu threads of pid %llu start with it, the slowest (tid %llu) "
                  "takes %s, the fastest %s (%.1fx), the mean %s%s; give out the work "
                  "in smaller pieces on demand (a shared queue or an atomic counter) "
                  "instead of fixed shares",
                  x->pf->rows[row].name, threads, (unsigned long long)p->pid,
                  (unsigned long long)hi->tid, hs_ns(hi->ns, s, sizeof s),
                  hs_ns(lo->ns, l, sizeof l), hi->ns / lo->ns, hs_ns(mean, mn, sizeof mn),
                  p->has_cpu ? " of CPU time" : "");
    }
    free(e);
}

static int hs_finding_cmp(const void *a, const void *b)
{
    const struct hs_finding *x = a, *y = b;
    if (x->at_stake_ns != y->at_stake_ns)
        return x->at_stake_ns > y->at_stake_ns ? -1 : 1;
    if (x->at_stake_bytes != y->at_stake_bytes)
        return x->at_stake_bytes > y->at_stake_bytes ? -1 : 1;
    if (x->rule != y->rule)
        return x->rule < y->rule ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

void hs_find(const struct model *m, const struct profile *pf, const struct hs_config *c,
             struct hs_result *out)
{
    memset(out, 0, sizeof(*out));
    struct hs_ctx x = {.m = m,
                       .pf = pf,
                       .t = c->value,
                       .out = out,
                       .fired = cprof_xcalloc(pf->nrows + 1, 1)};
    x.cpu = pf->cpu;
    x.self = cprof_xcalloc(pf->nrows + 1, sizeof(*x.self));
    for (size_t i = 0; i < pf->nrows; i++) {
        x.self[i] = hs_measure(pf, &pf->rows[i]);
        x.self_total += x.self[i];
    }
    size_t *row_of = cprof_xmalloc((m->nfuncs + 1) * sizeof(*row_of));
    for (size_t f = 0; f < m->nfuncs; f++)
        row_of[f] = SIZE_MAX;
    for (size_t i = 0; i < pf->nrows; i++) {
        const struct m_func *fn = &m->funcs[pf->rows[i].func];
        /* a region or the node-limit pseudo-function is nothing to rewrite */
        if (fn->region || fn->node_limit)
            continue;
        row_of[pf->rows[i].func] = i;
        hs_rule_waiting(&x, i);
        hs_rule_tiny(&x, i);
        hs_rule_hot_self(&x, i);
        hs_rule_alloc(&x, i);
        hs_rule_leak(&x, i);
        hs_rule_latency(&x, i);
    }
    for (size_t i = 0; i < m->nprocs; i++)
        hs_rule_imbalance(&x, m->procs[i], row_of);
    free(row_of);
    free(x.fired);
    free(x.self);
    if (out->count)
        qsort(out->items, out->count, sizeof *out->items, hs_finding_cmp);
}

void hs_result_free(struct hs_result *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->items[i].advice);
    free(r->items);
    memset(r, 0, sizeof(*r));
}

static void hs_evidence_write(FILE *out, const struct hs_finding *f)
{
    fputc('{', out);
    for (size_t i = 0; i < f->nevidence; i++) {
        const struct hs_evidence *e = &f->evidence[i];
        fprintf(out,
                e->unit == HS_PCT || e->unit == HS_RATIO ? "%s\"%s\": %.2f"
                                                         : "%s\"%s\": %.0f",
                i ? ", " : "", e->key, e->value);
    }
    fputc('}', out);
}

/* A stream into memory (*s, allocated, once it is closed). */
static FILE *hs_memstream(char **s, size_t *len)
{
    FILE *out = open_memstream(s, len);
    if (!out) {
        cprof_error("out of memory");
        exit(CPROF_EXIT_DATA);
    }
    return out;
}

char *hs_evidence_json(const struct hs_finding *f)
{
    char *s = NULL;
    size_t len = 0;
    FILE *out = hs_memstream(&s, &len);
    hs_evidence_write(out, f);
    fclose(out);
    return s;
}

char *hs_row_json(const struct hs_result *r, size_t row)
{
    char *s = NULL;
    size_t len = 0;
    FILE *out = hs_memstream(&s, &len);
    int any = 0;
    fputc('[', out);
    for (size_t i = 0; i < r->count; i++) {
        const struct hs_finding *f = &r->items[i];
        if (f->row != row)
            continue;
        fprintf(out, "%s{\"rule\": \"%s\", \"evidence\": ", any ? ", " : "",
                hs_rule_name(f->rule));
        hs_evidence_write(out, f);
        fputs(", \"advice\": ", out);
        fmt_json_str(out, f->advice);
        fputc('}', out);
        any = 1;
    }
    fputc(']', out);
    fclose(out);
    return s;
}
