/*
 * `cprof report`: the exact per-function table, merged over every process
 * and thread recorded (or those --pid/--tid select), in text, JSON or CSV.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "fmt.h"
#include "model.h"
#include "profile.h"
#include "sym.h"
#include "util.h"

#define REPORT_TEXT_LIMIT 50

static const char report_usage[] =
    "usage: cprof report [PATH...] [--format text|json|csv] [--sort KEY] [--limit N]\n"
    "                    [--pid PID] [--tid TID]\n"
    "\n"
    "Prints each function's exact call count, self and total time (recursion\n"
    "counted once), time per call, fastest and slowest call, and share of all\n"
    "self time, merged over every process and thread recorded.\n"
    "\n"
    "  PATH            a .cprof file or a directory of them (default ./cprof.data)\n"
    "  -f, --format F  text (default), json or csv\n"
    "  -s, --sort KEY  self (default), total, calls, self_per_call, total_per_call,\n"
    "                  min, max, name or file\n"
    "  -n, --limit N   show the first N functions; 0 shows all (text shows 50 by\n"
    "                  default, json and csv all)\n"
    "      --pid PID   only the process PID\n"
    "      --tid TID   only the thread with kernel thread id TID\n"
    "\n"
    "Exit status: 0 report printed, 1 bad command line, 2 no usable data, or a\n"
    "file damaged or cut short (the report then covers what it holds). See\n"
    "docs/cprof.md.\n";

enum report_col {
    RC_NAME,
    RC_LOCATION,
    RC_FILE,
    RC_LINE,
    RC_CALLS,
    RC_SELF,
    RC_TOTAL,
    RC_SELF_PER_CALL,
    RC_TOTAL_PER_CALL,
    RC_MIN,
    RC_MAX,
    RC_SELF_PCT,
    RC_MODULE,
    RC_COUNT
};

static const struct fmt_col report_cols[RC_COUNT] = {
    [RC_NAME] = {"name", "function", FMT_STR, FMT_ALL},
    [RC_LOCATION] = {"location", "file:line", FMT_STR, FMT_TEXT_ONLY},
    [RC_FILE] = {"file", "file", FMT_STR, FMT_DATA_ONLY},
    [RC_LINE] = {"line", "line", FMT_UINT, FMT_DATA_ONLY},
    [RC_CALLS] = {"calls", "calls", FMT_UINT, FMT_ALL},
    [RC_SELF] = {"self_ns", "self", FMT_NS, FMT_ALL},
    [RC_TOTAL] = {"total_ns", "total", FMT_NS, FMT_ALL},
    [RC_SELF_PER_CALL] = {"self_per_call_ns", "self/call", FMT_NS, FMT_ALL},
    [RC_TOTAL_PER_CALL] = {"total_per_call_ns", "total/call", FMT_NS, FMT_ALL},
    [RC_MIN] = {"min_ns", "min", FMT_NS, FMT_ALL},
    [RC_MAX] = {"max_ns", "max", FMT_NS, FMT_ALL},
    [RC_SELF_PCT] = {"self_pct", "self%", FMT_PCT, FMT_ALL},
    [RC_MODULE] = {"module", "module", FMT_STR, FMT_DATA_ONLY},
};

static const char *const report_titles[] = {
    [PF_SORT_SELF] = "functions by self time",
    [PF_SORT_TOTAL] = "functions by total time",
    [PF_SORT_CALLS] = "functions by calls",
    [PF_SORT_SELF_PER_CALL] = "functions by self time per call",
    [PF_SORT_TOTAL_PER_CALL] = "functions by total time per call",
    [PF_SORT_MIN] = "functions by fastest call",
    [PF_SORT_MAX] = "functions by slowest call",
    [PF_SORT_NAME] = "functions by name",
    [PF_SORT_FILE] = "functions by file",
};

/* path relative to the directory cprof runs in when it lies below it: the
 * text table's file:line column stays short for the usual case of a
 * report made from the project's top directory. */
static const char *report_short_path(const char *path, const char *cwd)
{
    size_t n = strlen(cwd);
    if (n > 1 && !strncmp(path, cwd, n) && path[n] == '/' && path[n + 1])
        return path + n + 1;
    return path;
}

/* Fills one row of cells from a profile row; location is owned by the
 * caller's list of strings. */
static void report_row(const struct profile *pf, const struct pf_row *r, const char *cwd,
                       struct fmt_cell *cell, char **location)
{
    for (int c = 0; c < RC_COUNT; c++)
        cell[c] = (struct fmt_cell){0};
    cell[RC_NAME].str = r->name;
    const char *where = report_short_path(r->file[0] ? r->file : r->module, cwd);
    *location = r->line ? cprof_xasprintf("%s:%u", where, r->line) : cprof_xstrdup(where);
    cell[RC_LOCATION].str = *location;
    cell[RC_FILE].str = r->file;
    cell[RC_LINE].num = r->line;
    cell[RC_LINE].null = r->line == 0;
    cell[RC_CALLS].num = (double)r->calls;
    cell[RC_SELF].num = r->self_ns;
    cell[RC_TOTAL].num = r->total_ns;
    cell[RC_SELF_PER_CALL].num = r->calls ? r->self_ns / (double)r->calls : 0;
    cell[RC_SELF_PER_CALL].null = r->calls == 0;
    cell[RC_TOTAL_PER_CALL].num = r->calls ? r->total_ns / (double)r->calls : 0;
    cell[RC_TOTAL_PER_CALL].null = r->calls == 0;
    cell[RC_MIN].num = r->min_ns;
    cell[RC_MIN].null = r->completed == 0;
    cell[RC_MAX].num = r->max_ns;
    cell[RC_MAX].null = r->completed == 0;
    cell[RC_SELF_PCT].num = r->self_pct;
    cell[RC_MODULE].str = r->module;
    if (!pf->timed)
        for (int c = RC_SELF; c <= RC_SELF_PCT; c++)
            cell[c].null = 1;
}

struct report_opts {
    const struct fmt_ops *format;
    enum pf_sort sort;
    int sort_given;
    uint64_t limit;
    int limit_given;
    struct m_filter filter;
};

static int report_parse(int argc, char **argv, struct report_opts *o, int *first_path)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"sort", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'n'},
        {"pid", required_argument, NULL, 'p'},
        {"tid", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->format = &fmt_text;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "f:s:n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!(o->format = fmt_find(optarg))) {
                cprof_error("report: unknown format '%s' (text, json or csv)", optarg);
                return -1;
            }
            break;
        case 's':
            if (profile_sort_key(optarg, &o->sort) < 0) {
                cprof_error("report: unknown sort key '%s' (see cprof report --help)",
                            optarg);
                return -1;
            }
            o->sort_given = 1;
            break;
        case 'n':
            if (cprof_parse_u64(optarg, &o->limit) < 0) {
                cprof_error("report: --limit wants a number, not '%s'", optarg);
                return -1;
            }
            o->limit_given = 1;
            break;
        case 'p':
        case 't':
            if (cprof_parse_u64(optarg, c == 'p' ? &o->filter.pid : &o->filter.tid) < 0 ||
                !strcmp(optarg, "0")) {
                cprof_error("report: --%s wants a process or thread id, not '%s'",
                            c == 'p' ? "pid" : "tid", optarg);
                return -1;
            }
            break;
        case 'h':
            fputs(report_usage, stdout);
            return 1;
        default:
            if (optopt)
                cprof_error("report: option '-%c' %s", optopt,
                            strchr("fsn", optopt) ? "needs a value" : "is unknown");
            else
                cprof_error("report: unknown option '%s'", argv[optind - 1]);
            fputs("(cprof report --help lists the options)\n", stderr);
            return -1;
        }
    }
    *first_path = optind;
    return 0;
}

int cmd_report(int argc, char **argv)
{
    struct report_opts o;
    int first_path;
    int r = report_parse(argc, argv, &o, &first_path);
    if (r)
        return r > 0 ? CPROF_EXIT_OK : CPROF_EXIT_USAGE;

    struct model m;
    model_init(&m);
    m.filter = o.filter;
    int status = CPROF_EXIT_OK;
    if (first_path == argc)
        status = model_load_path(&m, "cprof.data");
    for (int i = first_path; i < argc; i++)
        if (model_load_path(&m, argv[i]) != CPROF_EXIT_OK)
            status = CPROF_EXIT_DATA;
    if (m.nprocs == 0) {
        if (status == CPROF_EXIT_OK)
            cprof_error("no process with pid %llu in the data",
                        (unsigned long long)o.filter.pid);
        model_free(&m);
        return CPROF_EXIT_DATA;
    }
    size_t threads = 0;
    for (size_t i = 0; i < m.nprocs; i++)
        threads += m.procs[i]->nthreads;
    if (o.filter.tid && threads == 0)
        warn_add(&m.warnings, "no thread with tid %llu in the data",
                 (unsigned long long)o.filter.tid);

    struct sym_cache *syms = sym_cache_new();
    struct profile pf;
    profile_build(&m, syms, &pf);
    if (!o.sort_given)
        o.sort = pf.timed ? PF_SORT_SELF : PF_SORT_CALLS;
    profile_sort(&pf, o.sort);
    for (size_t i = 0; i < sym_warning_count(syms); i++)
        warn_add(&m.warnings, "%s", sym_warning(syms, i));

    size_t nrows = pf.nrows;
    if (o.limit_given && o.limit && o.limit < nrows)
        nrows = (size_t)o.limit;
    struct fmt_col cols[RC_COUNT];
    memcpy(cols, report_cols, sizeof cols);
    if (!pf.timed)
        for (int c = RC_SELF; c <= RC_SELF_PCT; c++)
            cols[c].where = FMT_DATA_ONLY;
    struct fmt_cell *cells = cprof_xcalloc(nrows * RC_COUNT, sizeof(*cells));
    char **locations = cprof_xcalloc(nrows, sizeof(*locations));
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    for (size_t i = 0; i < nrows; i++)
        report_row(&pf, &pf.rows[i], cwd, &cells[i * RC_COUNT], &locations[i]);

    struct fmt_table table = {
        .name = "functions",
        .cols = cols,
        .ncols = RC_COUNT,
        .cells = cells,
        .nrows = nrows,
        .text_rows = o.limit_given ? nrows : REPORT_TEXT_LIMIT,
    };
    char *summary[2];
    size_t nsummary = 0;
    summary[nsummary++] = cprof_xasprintf("calls: %llu to %zu function%s",
                                          (unsigned long long)pf.total_calls, pf.nrows,
                                          pf.nrows == 1 ? "" : "s");
    if (pf.timed) {
        char buf[32];
        fmt_human_ns(pf.total_self_ns, buf, sizeof buf);
        summary[nsummary++] = cprof_xasprintf("time in instrumented functions: %s", buf);
    }
    struct fmt_doc doc = {
        .title = report_titles[o.sort],
        .model = &m,
        .table = &table,
        .summary = (const char *const *)summary,
        .nsummary = nsummary,
        .warnings = &m.warnings,
    };
    o.format->write(stdout, &doc);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cprof_error("report: cannot write the output");
        status = CPROF_EXIT_DATA;
    }
    /* damaged or cut-short input: reported on what it holds, but an error
     * (the CSV format has already put every warning on stderr) */
    for (size_t i = 0; i < m.damage.count; i++) {
        if (o.format != &fmt_csv)
            cprof_error("%s", m.damage.text[i]);
        status = CPROF_EXIT_DATA;
    }

    for (size_t i = 0; i < nsummary; i++)
        free(summary[i]);
    for (size_t i = 0; i < nrows; i++)
        free(locations[i]);
    free(locations);
    free(cells);
    profile_free(&pf);
    sym_cache_free(syms);
    model_free(&m);
    return status;
}
