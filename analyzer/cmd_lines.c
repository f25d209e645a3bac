/*
 * `cprof lines`: line_profiler's view of the functions built with line
 * instrumentation. For each function, its total time (as `cprof report`
 * shows it), then every source line from its first line to its last line
 * with data: hits, time from each hit to the next line of the call
 * (callees included), self time, time per hit and share of the function's
 * total, beside the source text. Line data comes from the model (merged
 * over threads and processes, model_lines.c); totals and names from the
 * per-function view, so both commands agree.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_common.h"
#include "commands.h"
#include "fmt.h"
#include "model.h"
#include "profile.h"
#include "source.h"
#include "sym.h"
#include "util.h"

/* A range longer than this between two lines with data (a function whose
 * lines come from far apart in a file) shows only the lines with data. */
#define LINES_MAX_GAP 1000

static const char lines_usage[] =
    "usage: cprof lines [FUNC...] [PATH...] [--format text|json|csv] [--limit N]\n"
    "                   [--pid PID] [--tid TID] [--compensate]\n"
    "\n"
    "Shows the functions built with line instrumentation (cprof-cc\n"
    "--cprof-lines=FUNC...) line by line, as Python's line_profiler does: each\n"
    "line's hits, time (from each hit to the next line of the same call,\n"
    "callees included), self time (less the instrumented callees), time per\n"
    "hit and share of the function's total time, beside the source text.\n"
    "\n"
    "  FUNC            a function name or glob (fnmatch: 'sum_*'); default all\n"
    "                  functions with line data, by total time\n"
    "  PATH            a .cprof file or a directory of them (default ./cprof.data);\n"
    "                  an argument that names an existing file or directory, has\n"
    "                  a '/' or ends in .cprof is a PATH, any other a FUNC\n"
    "  -f, --format F  text (default), json or csv\n"
    "  -n, --limit N   show the first N functions; 0 (default) shows all\n"
    "      --pid PID   only the process PID\n"
    "      --tid TID   only the thread with kernel thread id TID\n"
    "      --compensate  show each line's time and self time with the cost of its\n"
    "                  line events subtracted too (Time adj, Self adj: estimates;\n"
    "                  json and csv always have them: time_adj_ns, self_adj_ns)\n"
    "\n"
    "Examples:\n"
    "  cprof-cc --cprof-lines='parse_*' -O2 -o prog prog.c && ./prog\n"
    "  cprof lines parse_expr                       its lines: hits, time, self\n"
    "  cprof lines --format csv > lines.csv         every selected function\n"
    "\n"
    "Exit status: 0 shown, 1 bad command line or a FUNC that has no line data,\n"
    "2 no usable data, or a file damaged or cut short (the view then covers\n"
    "what it holds). See docs/cprof-lines.md.\n";

enum lines_col {
    LC_FILE,
    LC_LINE,
    LC_HITS,
    LC_TIME,
    LC_SELF,
    LC_TIME_ADJ,
    LC_SELF_ADJ,
    LC_PER_HIT,
    LC_PCT,
    LC_TEXT,
    LC_COUNT
};

static const struct fmt_col lines_cols[LC_COUNT] = {
    [LC_FILE] = {"file", "file", FMT_STR, FMT_DATA_ONLY, 0},
    [LC_LINE] = {"line", "Line #", FMT_UINT, FMT_ALL, 0},
    [LC_HITS] = {"hits", "Hits", FMT_UINT, FMT_ALL, 0},
    [LC_TIME] = {"time_ns", "Time", FMT_NS, FMT_ALL, 0},
    [LC_SELF] = {"self_ns", "Self", FMT_NS, FMT_ALL, 0},
    [LC_TIME_ADJ] = {"time_adj_ns", "Time adj", FMT_NS, FMT_DATA_ONLY, 0},
    [LC_SELF_ADJ] = {"self_adj_ns", "Self adj", FMT_NS, FMT_DATA_ONLY, 0},
    [LC_PER_HIT] = {"per_hit_ns", "Per Hit", FMT_NS, FMT_TEXT_ONLY, 0},
    [LC_PCT] = {"time_pct", "% Time", FMT_PCT, FMT_TEXT_ONLY, 0},
    [LC_TEXT] = {"text", "Line Contents", FMT_STR, FMT_ALL, FMT_WHOLE},
};

enum lines_group_col {
    LG_NAME,
    LG_FILE,
    LG_LINE,
    LG_CALLS,
    LG_TOTAL,
    LG_TOTAL_ADJ,
    LG_COUNT
};

static const struct fmt_col lines_group_cols[LG_COUNT] = {
    [LG_NAME] = {"name", "function", FMT_STR, FMT_ALL, FMT_IN_ROWS},
    [LG_FILE] = {"file", "file", FMT_STR, FMT_ALL, 0},
    [LG_LINE] = {"line", "line", FMT_UINT, FMT_ALL, 0},
    [LG_CALLS] = {"calls", "calls", FMT_UINT, FMT_ALL, 0},
    [LG_TOTAL] = {"total_ns", "total", FMT_NS, FMT_ALL, 0},
    [LG_TOTAL_ADJ] = {"total_adj_ns", "total adj", FMT_NS, FMT_ALL, 0},
};

/* A function with line data. */
struct ln_func {
    uint32_t func;        /* model.funcs index */
    const char *name;     /* as `cprof report` names it, else as recorded */
    const char *file;     /* where it is defined ("" unknown) */
    unsigned line;        /* its first line, 0 unknown */
    uint64_t calls, hits; /* hits: summed over its lines, for ordering */
    double total_ns;      /* inclusive, recursion counted once */
    double total_adj_ns;  /* the same, probe cost subtracted (profile.compensable) */
    const struct m_line **lines;
    size_t nlines, cap;
};

static const struct cmd_view lines_view = {"lines", lines_usage, NULL, 1};

static int lines_cmp_func(const void *pa, const void *pb)
{
    const struct ln_func *a = pa, *b = pb;
    if (a->total_ns != b->total_ns)
        return a->total_ns < b->total_ns ? 1 : -1;
    if (a->hits != b->hits)
        return a->hits < b->hits ? 1 : -1;
    int c = strcmp(a->name, b->name);
    if (!c)
        c = strcmp(a->file, b->file);
    if (!c)
        c = a->func < b->func ? -1 : a->func > b->func;
    return c;
}

static int lines_cmp_name(const void *pa, const void *pb)
{
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

/* The functions with line data, named and totalled from the profile, their
 * lines sorted. Returns the count; *out is allocated. */
static size_t lines_functions(const struct model *m, const struct profile *pf,
                              struct ln_func **out)
{
    uint32_t *index = cprof_xcalloc(m->nfuncs, sizeof(*index));
    for (size_t f = 0; f < m->nfuncs; f++)
        index[f] = M_NONE;
    struct ln_func *funcs = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < m->nlines; i++) {
        const struct m_line *l = &m->lines[i];
        if (index[l->func] == M_NONE) {
            cprof_grow(&funcs, &cap, n + 1, sizeof(*funcs));
            memset(&funcs[n], 0, sizeof(*funcs));
            funcs[n].func = l->func;
            funcs[n].name = l->func_name;
            funcs[n].file = "";
            index[l->func] = (uint32_t)n++;
        }
        struct ln_func *lf = &funcs[index[l->func]];
        cprof_grow(&lf->lines, &lf->cap, lf->nlines + 1, sizeof(*lf->lines));
        lf->lines[lf->nlines++] = l;
        lf->hits += l->hits;
    }
    for (size_t i = 0; i < pf->nrows; i++) {
        const struct pf_row *r = &pf->rows[i];
        if (index[r->func] == M_NONE)
            continue;
        struct ln_func *lf = &funcs[index[r->func]];
        if (r->quality != SYM_OFFSET || !lf->name[0])
            lf->name = r->name;
        lf->file = r->file;
        lf->line = r->line;
        lf->calls = r->calls;
        lf->total_ns = r->total_ns;
        lf->total_adj_ns = r->total_adj_ns;
    }
    for (size_t i = 0; i < n; i++) {
        struct ln_func *lf = &funcs[i];
        if (!lf->file[0]) {
            lf->file = lf->lines[0]->file;
            lf->line = 0;
        }
        model_lines_sort(lf->lines, lf->nlines, lf->file);
        if (!lf->line && model_same_file(lf->lines[0]->file, lf->file))
            lf->line = lf->lines[0]->line;
    }
    free(index);
    *out = funcs;
    return n;
}

static void lines_free_functions(struct ln_func *funcs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(funcs[i].lines);
    free(funcs);
}

/* Keeps the functions a pattern names (all when there is none). Returns
 * the count kept, or -1 after saying which pattern matched nothing. */
static long lines_select(struct ln_func *funcs, size_t n, char **patterns,
                         size_t npatterns)
{
    if (npatterns == 0)
        return (long)n;
    int *used = cprof_xcalloc(npatterns, sizeof(*used));
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        int keep = 0;
        for (size_t k = 0; k < npatterns; k++) {
            const char *rec_name = funcs[i].lines[0]->func_name;
            if (fnmatch(patterns[k], funcs[i].name, 0) == 0 ||
                fnmatch(patterns[k], rec_name, 0) == 0)
                keep = used[k] = 1;
        }
        if (keep) {
            struct ln_func tmp = funcs[kept];
            funcs[kept++] = funcs[i];
            funcs[i] = tmp;
        }
    }
    long result = (long)kept;
    for (size_t k = 0; k < npatterns; k++) {
        if (used[k])
            continue;
        struct strbuf sb = {0};
        const char **names = cprof_xcalloc(n, sizeof(*names));
        for (size_t i = 0; i < n; i++)
            names[i] = funcs[i].name;
        qsort(names, n, sizeof(*names), lines_cmp_name);
        for (size_t i = 0; i < n && i < 20; i++)
            sb_printf(&sb, "%s%s", i ? ", " : "", names[i]);
        if (n > 20)
            sb_printf(&sb, " and %zu more", n - 20);
        if (n)
            cprof_error("lines: no function with line data matches '%s' (functions "
                        "with line data: %s)",
                        patterns[k], sb.s);
        else
            cprof_error("lines: no function with line data matches '%s': the data has "
                        "none (build with cprof-cc --cprof-lines=FUNC...)",
                        patterns[k]);
        sb_free(&sb);
        free(names);
        result = -1;
    }
    free(used);
    return result;
}

/* What the view is built into. */
struct lines_view {
    struct fmt_cell *cells;
    size_t nrows, cap;
    struct fmt_group *groups;
    size_t ngroups, groups_cap;
    struct fmt_cell *group_cells; /* LG_COUNT per function */
    struct strpool owned;         /* strings made here */
    int compensate;               /* --compensate: text shows the adjusted times */
};

/* A row for source line number line of file; l its data or NULL; line_ns
 * the cost of a line event, < 0 when not known. A line's time holds the part
 * of its line event after the event's clock read and the part of the next
 * event before it: about one line event's cost a hit. */
static void lines_row(struct lines_view *v, const struct ln_func *lf, const char *file,
                      unsigned line, const struct m_line *l, const char *text, int timed,
                      double line_ns)
{
    cprof_grow(&v->cells, &v->cap, (v->nrows + 1) * LC_COUNT, sizeof(*v->cells));
    struct fmt_cell *cell = &v->cells[v->nrows++ * LC_COUNT];
    for (int c = 0; c < LC_COUNT; c++)
        cell[c] = (struct fmt_cell){0};
    cell[LC_FILE].str = file;
    cell[LC_LINE].num = line;
    cell[LC_TEXT].str = text;
    cell[LC_TEXT].blank = text == NULL;
    if (!l) {
        for (int c = LC_HITS; c <= LC_PCT; c++)
            cell[c].blank = 1;
        return;
    }
    cell[LC_HITS].num = (double)l->hits;
    cell[LC_TIME].num = l->time_ns;
    cell[LC_SELF].num = l->self_ns;
    double cost = (double)l->hits * line_ns;
    cell[LC_TIME_ADJ].num = l->time_ns > cost ? l->time_ns - cost : 0;
    cell[LC_SELF_ADJ].num = l->self_ns > cost ? l->self_ns - cost : 0;
    cell[LC_TIME_ADJ].null = cell[LC_SELF_ADJ].null = line_ns < 0;
    cell[LC_PER_HIT].num = l->hits ? l->time_ns / (double)l->hits : 0;
    cell[LC_PER_HIT].null = l->hits == 0;
    cell[LC_PCT].num = lf->total_ns > 0 ? l->time_ns * 100 / lf->total_ns : 0;
    cell[LC_PCT].null = !(lf->total_ns > 0);
    if (!timed)
        for (int c = LC_TIME; c <= LC_PCT; c++)
            cell[c].null = 1;
}

static void lines_group(struct lines_view *v, size_t fn, size_t first, const char **text,
                        size_t ntext)
{
    cprof_grow(&v->groups, &v->groups_cap, v->ngroups + 1, sizeof(*v->groups));
    struct fmt_group *g = &v->groups[v->ngroups++];
    g->cells = &v->group_cells[fn * LG_COUNT];
    g->first = first;
    g->count = v->nrows - first;
    const char **copy = cprof_xcalloc(ntext ? ntext : 1, sizeof(*copy));
    memcpy(copy, text, ntext * sizeof(*text));
    g->text = copy;
    g->ntext = ntext;
}

/*
 * One function's groups: for text, one per file its lines are in (its own
 * file first), with every source line of the range; for data, one with
 * the lines that have data.
 */
static void lines_function(struct lines_view *v, size_t fn, const struct ln_func *lf,
                           struct src_cache *src, const char *cwd, int text_view,
                           int timed, double line_ns, struct warnings *notes)
{
    struct fmt_cell *gc = &v->group_cells[fn * LG_COUNT];
    gc[LG_NAME].str = lf->name;
    gc[LG_FILE].str = lf->file;
    gc[LG_LINE].num = lf->line;
    gc[LG_LINE].null = lf->line == 0;
    gc[LG_CALLS].num = (double)lf->calls;
    gc[LG_TOTAL].num = lf->total_ns;
    gc[LG_TOTAL].null = !timed;
    gc[LG_TOTAL_ADJ].num = lf->total_adj_ns;
    gc[LG_TOTAL_ADJ].null = !timed || line_ns < 0;

    const char *header[4];
    size_t nheader = 0;
    size_t first_row = v->nrows;
    char total[32], adj[96] = "";
    fmt_human_ns(lf->total_ns, total, sizeof total);
    if (v->compensate && line_ns >= 0) {
        char buf[32];
        fmt_human_ns(lf->total_adj_ns, buf, sizeof buf);
        snprintf(adj, sizeof adj, " (%s with the probe cost subtracted)", buf);
    }
    const char *where = cmd_short_path(lf->file, cwd);
    if (text_view) {
        header[nheader++] = strpool_own(
            &v->owned,
            lf->line ? cprof_xasprintf("Function: %s at %s:%u", lf->name, where, lf->line)
            : *where ? cprof_xasprintf("Function: %s in %s", lf->name, where)
                     : cprof_xasprintf("Function: %s", lf->name));
        header[nheader++] = strpool_own(
            &v->owned,
            timed ? cprof_xasprintf("Total time: %s in %llu call%s%s", total,
                                    (unsigned long long)lf->calls,
                                    lf->calls == 1 ? "" : "s", adj)
                  : cprof_xasprintf("Calls: %llu", (unsigned long long)lf->calls));
    }
    for (size_t i = 0; i < lf->nlines;) {
        /* one file's lines: [i, end) */
        const char *file = lf->lines[i]->file;
        size_t end = i;
        while (end < lf->nlines && lf->lines[end]->file == file)
            end++;
        if (text_view && i > 0)
            header[nheader++] =
                strpool_own(&v->owned, cprof_xasprintf("%s, lines in %s:", lf->name,
                                                       cmd_short_path(file, cwd)));
        if (file[0] && !src_readable(src, file)) {
            char *note = cprof_xasprintf("source file not found: %s (lines are shown "
                                         "without their text)",
                                         cmd_short_path(file, cwd));
            if (text_view)
                header[nheader++] =
                    strpool_own(&v->owned, cprof_xasprintf("Note: %s", note));
            else
                warn_add(notes, "%s", note);
            free(note);
        }
        if (!text_view) {
            for (size_t k = i; k < end; k++)
                lines_row(v, lf, file, lf->lines[k]->line, lf->lines[k],
                          src_line(src, file, lf->lines[k]->line), timed, line_ns);
            i = end;
            continue;
        }
        unsigned line = lf->lines[i]->line;
        if (i == 0 && lf->line && lf->line < line && line - lf->line <= LINES_MAX_GAP)
            line = lf->line;
        for (size_t k = i; k < end;) {
            const struct m_line *l = lf->lines[k];
            if (line < l->line && l->line - line > LINES_MAX_GAP)
                line = l->line;
            if (line == l->line) {
                lines_row(v, lf, file, line, l, src_line(src, file, line), timed,
                          line_ns);
                k++;
            } else {
                lines_row(v, lf, file, line, NULL, src_line(src, file, line), timed,
                          line_ns);
            }
            line++;
        }
        lines_group(v, fn, first_row, header, nheader);
        first_row = v->nrows;
        nheader = 0;
        i = end;
    }
    if (!text_view)
        lines_group(v, fn, first_row, header, 0);
}

int cmd_lines(int argc, char **argv)
{
    struct cmd_view_run run;
    int compensate = cmd_take_flag(&argc, argv, "--compensate");
    if (!cmd_view_start(&lines_view, argc, argv, &run)) {
        cmd_view_end(&run);
        return run.status;
    }
    struct model *m = &run.model;
    int status = run.status;
    struct ln_func *funcs;
    size_t nfuncs = lines_functions(m, &run.profile, &funcs);
    long kept = lines_select(funcs, nfuncs, run.funcs, run.nfuncs);
    if (kept < 0) {
        status = CPROF_EXIT_USAGE;
        goto out;
    }
    size_t shown = (size_t)kept;
    qsort(funcs, shown, sizeof(*funcs), lines_cmp_func);
    if (run.limit && run.limit < shown)
        shown = (size_t)run.limit;

    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    int text_view = run.format == &fmt_text;
    struct src_cache *src = src_cache_new();
    struct lines_view v = {.compensate = compensate};
    v.group_cells = cprof_xcalloc(shown * LG_COUNT, sizeof(*v.group_cells));
    double line_ns = run.profile.compensable ? run.profile.probe_line_ns : -1;
    for (size_t i = 0; i < shown; i++)
        lines_function(&v, i, &funcs[i], src, cwd, text_view, m->timed, line_ns,
                       &m->warnings);
    struct fmt_col cols[LC_COUNT];
    memcpy(cols, lines_cols, sizeof cols);
    cmd_show_adj_cols(cols, compensate && line_ns >= 0, LC_TIME_ADJ, LC_SELF_ADJ,
                      FMT_ALL);

    struct fmt_groups groups = {
        .rows_key = "lines",
        .cols = lines_group_cols,
        .ncols = LG_COUNT,
        .groups = v.groups,
        .ngroups = v.ngroups,
    };
    struct fmt_table table = {
        .name = "functions",
        .cols = cols,
        .ncols = LC_COUNT,
        .cells = v.cells,
        .nrows = v.nrows,
        .text_rows = v.nrows,
        .empty = nfuncs ? "(no function selected)"
                        : "(no line data: build functions with cprof-cc "
                          "--cprof-lines=FUNC... to get some)",
        .groups = &groups,
    };
    const char *summary[2];
    size_t nsummary = 0;
    if (!m->timed)
        summary[nsummary++] = "count mode: hits only (no times were recorded)";
    char *probe = compensate && m->timed ? cmd_probe_line(&run.profile) : NULL;
    if (probe)
        summary[nsummary++] = probe;
    struct fmt_doc doc = {
        .title = m->timed ? "line by line, functions by total time"
                          : "line by line, functions by hits",
        .model = m,
        .table = &table,
        .summary = summary,
        .nsummary = nsummary,
        .warnings = &m->warnings,
    };
    run.format->write(stdout, &doc);
    status = cmd_finish("lines", m, run.format, status);

    for (size_t i = 0; i < v.ngroups; i++)
        free((void *)v.groups[i].text);
    strpool_free(&v.owned);
    free(v.groups);
    free(v.group_cells);
    free(v.cells);
    src_cache_free(src);
    free(probe);
out:
    lines_free_functions(funcs, nfuncs);
    cmd_view_end(&run);
    return status;
}

const char *const cmd_lines_help = lines_usage;
