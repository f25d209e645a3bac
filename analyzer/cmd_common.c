/*
 * Option values, loading and finishing shared by the subcommands; see
 * cmd_common.h.
 */
#include "cmd_common.h"

#include <dirent.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cprof_format.h"
#include "help.h"
#include "progress.h"
#include "util.h"

int cmd_format_arg(const char *cmd, const char *arg, const struct fmt_ops **format)
{
    if ((*format = fmt_find(arg)))
        return 0;
    cprof_error("%s: unknown format '%s' (text, json or csv)", cmd, arg);
    return -1;
}

int cmd_id_arg(const char *cmd, const char *opt, const char *arg, uint64_t *id)
{
    if (cprof_parse_u64(arg, id) == 0 && *id != 0)
        return 0;
    cprof_error("%s: --%s wants a process or thread id, not '%s'", cmd, opt, arg);
    return -1;
}

void cmd_bad_option(const char *cmd, int optopt, const char *with_value, const char *arg)
{
    int is_long = arg && !strncmp(arg, "--", 2);
    char best[64];
    if (optopt && strchr(with_value, optopt) && is_long)
        cprof_error("%s: option '%.*s' needs a value", cmd, (int)strcspn(arg, "="), arg);
    else if (optopt && !is_long)
        cprof_error("%s: option '-%c' %s", cmd, optopt,
                    strchr(with_value, optopt) ? "needs a value" : "is unknown");
    else if (help_suggest_option(cmd, arg, best, sizeof best))
        cprof_error("%s: unknown option '%s'; did you mean '%s'?", cmd, arg, best);
    else
        cprof_error("%s: unknown option '%s'", cmd, arg);
    fprintf(stderr, "(cprof %s --help lists the options)\n", cmd);
}

/* Adds the files model_load_path(path) reads, and their bytes, to the
 * counts (for the progress line: what cannot be read is left to it). */
static void cmd_count_files(const char *path, size_t *nfiles, uint64_t *bytes)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        ++*nfiles;
        *bytes += (uint64_t)st.st_size;
        return;
    }
    DIR *dir = opendir(path);
    struct dirent *e;
    size_t k = strlen(CPROF_FILE_SUFFIX);
    while (dir && (e = readdir(dir))) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n <= k || strcmp(e->d_name + n - k, CPROF_FILE_SUFFIX))
            continue;
        char *file = cprof_xasprintf("%s/%s", path, e->d_name);
        if (stat(file, &st) == 0) {
            ++*nfiles;
            *bytes += (uint64_t)st.st_size;
        }
        free(file);
    }
    if (dir)
        closedir(dir);
}

int cmd_load(struct model *m, const struct m_filter *filter, char *const *paths,
             size_t npaths, int *nothing)
{
    m->filter = *filter;
    if (progress_wanted(&progress_stderr)) {
        size_t nfiles = 0;
        uint64_t bytes = 0;
        if (npaths == 0)
            cmd_count_files(CMD_DEFAULT_DATA, &nfiles, &bytes);
        for (size_t i = 0; i < npaths; i++)
            cmd_count_files(paths[i], &nfiles, &bytes);
        progress_begin(&progress_stderr, "reading", nfiles, bytes);
        m->progress = &progress_stderr;
    }
    int status = CPROF_EXIT_OK;
    struct stat st;
    if (npaths == 0 && stat(CMD_DEFAULT_DATA, &st) != 0) {
        progress_end(&progress_stderr);
        m->progress = NULL;
        cprof_error("no profile here: ./%s does not exist", CMD_DEFAULT_DATA);
        fputs(CMD_NO_DATA_HINT, stderr);
        *nothing = 1;
        return CPROF_EXIT_DATA;
    }
    if (npaths == 0)
        status = model_load_path(m, CMD_DEFAULT_DATA);
    for (size_t i = 0; i < npaths; i++)
        if (model_load_path(m, paths[i]) != CPROF_EXIT_OK)
            status = CPROF_EXIT_DATA;
    progress_end(&progress_stderr);
    m->progress = NULL;
    *nothing = m->nprocs == 0;
    if (*nothing) {
        if (status == CPROF_EXIT_OK)
            cprof_error("no process with pid %llu in the data",
                        (unsigned long long)filter->pid);
        else if (!filter->pid)
            fputs(CMD_NO_DATA_HINT, stderr);
        return CPROF_EXIT_DATA;
    }
    model_check_parents(m);
    size_t threads = 0;
    for (size_t i = 0; i < m->nprocs; i++)
        threads += m->procs[i]->nthreads;
    if (filter->tid && threads == 0)
        warn_add(&m->warnings, "no thread with tid %llu in the data",
                 (unsigned long long)filter->tid);
    return status;
}

int cmd_finish(const char *cmd, const struct model *m, const struct fmt_ops *format,
               int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cprof_error("%s: cannot write the output", cmd);
        status = CPROF_EXIT_DATA;
    }
    /* damaged or cut-short input: shown as far as it goes, but an error */
    for (size_t i = 0; i < m->damage.count; i++) {
        if (format != &fmt_csv)
            cprof_error("%s", m->damage.text[i]);
        status = CPROF_EXIT_DATA;
    }
    return status;
}

int cmd_take_flag(int *argc, char **argv, const char *flag)
{
    int found = 0, kept = 0, rest = 0;
    for (int i = 0; i < *argc; i++) {
        if (!rest && !strcmp(argv[i], flag)) {
            found = 1;
            continue;
        }
        rest |= !strcmp(argv[i], "--");
        argv[kept++] = argv[i];
    }
    *argc = kept;
    return found;
}

char *cmd_probe_line(const struct profile *pf)
{
    if (!pf->compensable)
        return cprof_xstrdup("probe cost: not in the data (count mode, or recorded "
                             "before format 1.5): nothing subtracted");
    return cprof_xasprintf("probe cost subtracted: %.1f ns a call (%.1f ns of it in the "
                           "call's own time), %.1f ns a line event%s",
                           pf->probe_call_ns, pf->probe_inner_ns, pf->probe_line_ns,
                           pf->probe_varies ? " (the first process's; others differ)"
                                            : "");
}

void cmd_show_adj_cols(struct fmt_col *cols, int show, int first, int last,
                       enum fmt_where where)
{
    for (int c = first; show && c <= last; c++)
        cols[c].where = where;
}

const char *cmd_short_path(const char *path, const char *cwd)
{
    size_t n = strlen(cwd);
    if (n > 1 && !strncmp(path, cwd, n) && path[n] == '/' && path[n + 1])
        return path + n + 1;
    return path;
}

char *cmd_location(const char *file, const char *module, unsigned line, const char *cwd)
{
    const char *where = cmd_short_path(file[0] ? file : module, cwd);
    return line ? cprof_xasprintf("%s:%u", where, line) : cprof_xstrdup(where);
}

/* The options of cmd_view_start into run. Returns 0, 1 after --help, -1
 * after saying what was wrong. */
static int cmd_view_parse(const struct cmd_view *view, int argc, char **argv,
                          struct cmd_view_run *run)
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
    const char *cmd = view->name;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, view->sort_key ? "f:s:n:h" : "f:n:h", longopts,
                            NULL)) != -1) {
        switch (c) {
        case 'f':
            if (cmd_format_arg(cmd, optarg, &run->format) < 0)
                return -1;
            break;
        case 's':
            if (!view->sort_key) {
                /* getopt_long knows --sort for every view: name it, not its value */
                cmd_bad_option(cmd, 0, "", "--sort");
                return -1;
            }
            if (view->sort_key(optarg, &run->sort) < 0) {
                cprof_error("%s: unknown sort key '%s' (see cprof %s --help)", cmd,
                            optarg, cmd);
                return -1;
            }
            run->sort_given = 1;
            break;
        case 'n':
            if (cprof_parse_u64(optarg, &run->limit) < 0) {
                cprof_error("%s: --limit wants a number, not '%s'", cmd, optarg);
                return -1;
            }
            run->limit_given = 1;
            break;
        case 'p':
        case 't':
            if (cmd_id_arg(cmd, c == 'p' ? "pid" : "tid", optarg,
                           c == 'p' ? &run->filter.pid : &run->filter.tid) < 0)
                return -1;
            break;
        case 'h':
            fputs(view->usage, stdout);
            return 1;
        default:
            cmd_bad_option(cmd, optopt, view->sort_key ? "fsn" : "fn", argv[optind - 1]);
            return -1;
        }
    }
    if (view->funcs) {
        cmd_split_args(argc, argv, optind, &run->paths, &run->npaths, &run->funcs,
                       &run->nfuncs);
    } else {
        run->paths = cprof_xcalloc((size_t)(argc - optind) + 1, sizeof(char *));
        for (int i = optind; i < argc; i++)
            run->paths[run->npaths++] = argv[i];
    }
    return 0;
}

int cmd_view_start(const struct cmd_view *view, int argc, char **argv,
                   struct cmd_view_run *run)
{
    memset(run, 0, sizeof(*run));
    run->format = &fmt_text;
    model_init(&run->model);
    int r = cmd_view_parse(view, argc, argv, run);
    if (r) {
        run->status = r > 0 ? CPROF_EXIT_OK : CPROF_EXIT_USAGE;
        return 0;
    }
    return cmd_view_load(run);
}

int cmd_view_load(struct cmd_view_run *run)
{
    int nothing;
    run->status = cmd_load(&run->model, &run->filter, run->paths, run->npaths, &nothing);
    if (nothing)
        return 0;
    run->syms = sym_cache_new();
    profile_build(&run->model, run->syms, &run->profile);
    for (size_t i = 0; i < sym_warning_count(run->syms); i++)
        warn_add(&run->model.warnings, "%s", sym_warning(run->syms, i));
    return 1;
}

void cmd_view_end(struct cmd_view_run *run)
{
    profile_free(&run->profile);
    if (run->syms)
        sym_cache_free(run->syms);
    model_free(&run->model);
    free(run->paths);
    free(run->funcs);
}

void cmd_split_args(int argc, char **argv, int first, char ***paths, size_t *npaths,
                    char ***funcs, size_t *nfuncs)
{
    size_t n = argc > first ? (size_t)(argc - first) : 0;
    *paths = cprof_xcalloc(n ? n : 1, sizeof(char *));
    *funcs = cprof_xcalloc(n ? n : 1, sizeof(char *));
    *npaths = *nfuncs = 0;
    struct stat st;
    for (int i = first; i < argc; i++) {
        size_t n = strlen(argv[i]), k = strlen(CPROF_FILE_SUFFIX);
        /* no function name has a '/' or ends in .cprof: a missing file */
        if (stat(argv[i], &st) == 0 || strchr(argv[i], '/') ||
            (n > k && !strcmp(argv[i] + n - k, CPROF_FILE_SUFFIX)))
            (*paths)[(*npaths)++] = argv[i];
        else
            (*funcs)[(*nfuncs)++] = argv[i];
    }
}

int cmd_select(const char *cmd, const struct profile *pf, char *const *patterns,
               size_t npatterns, unsigned char *matched)
{
    int status = 0;
    for (size_t k = 0; k < npatterns; k++) {
        int used = 0;
        for (size_t i = 0; i < pf->nrows; i++) {
            if (fnmatch(patterns[k], pf->rows[i].name, 0) == 0)
                matched[i] = used = 1;
        }
        if (!used) {
            cprof_error("%s: no function matches '%s' (cprof report lists them)", cmd,
                        patterns[k]);
            status = -1;
        }
    }
    return status;
}

enum cmd_heap_col {
    HC_PROCESSES,
    HC_ALLOC_CALLS,
    HC_FREE_CALLS,
    HC_ALLOC_BYTES,
    HC_FREED_BYTES,
    HC_PEAK,
    HC_PEAK_RSS,
    HC_LEAKED_BYTES,
    HC_LEAKED_BLOCKS,
    HC_FUNC_LEAKED_BYTES,
    HC_FUNC_LEAKED_BLOCKS,
    HC_OUTSIDE_LEAKED_BYTES,
    HC_OUTSIDE_LEAKED_BLOCKS,
    HC_OUTSIDE_ALLOC_CALLS,
    HC_OUTSIDE_ALLOC_BYTES,
    HC_OUTSIDE_FREE_CALLS,
    HC_OUTSIDE_FREED_BYTES,
    HC_FOREIGN_FREES,
    HC_COUNT
};
_Static_assert(HC_COUNT == CMD_HEAP_NCOLS, "room for every heap total");

static const struct fmt_col cmd_heap_cols[HC_COUNT] = {
    [HC_PROCESSES] = {"processes", "", FMT_UINT, FMT_DATA_ONLY, 0},
    [HC_ALLOC_CALLS] = {"alloc_calls", "", FMT_UINT, FMT_DATA_ONLY, 0},
    [HC_FREE_CALLS] = {"free_calls", "", FMT_UINT, FMT_DATA_ONLY, 0},
    [HC_ALLOC_BYTES] = {"alloc_bytes", "", FMT_BYTES, FMT_DATA_ONLY, 0},
    [HC_FREED_BYTES] = {"freed_bytes", "", FMT_BYTES, FMT_DATA_ONLY, 0},
    [HC_PEAK] = {"peak_bytes", "", FMT_BYTES, FMT_DATA_ONLY, 0},
    [HC_PEAK_RSS] = {"peak_rss_bytes", "", FMT_BYTES, FMT_DATA_ONLY, 0},
    [HC_LEAKED_BYTES] = {"leaked_bytes", "", FMT_BYTES, FMT_DATA_ONLY, 0},
    [HC_LEAKED_BLOCKS] = {"leaked_blocks", "", FMT_UINT, FMT_DATA_ONLY, 0},
    [HC_FUNC_LEAKED_BYTES] = {"function_leaked_bytes", "", FMT_BYTES, FMT_DATA_ONLY, 0},
    [HC_FUNC_LEAKED_BLOCKS] = {"function_leaked_blocks", "", FMT_UINT, FMT_DATA_ONLY, 0},
    [HC_OUTSIDE_LEAKED_BYTES] = {"outside_leaked_bytes", "", FMT_BYTES, FMT_DATA_ONLY, 0},
    [HC_OUTSIDE_LEAKED_BLOCKS] = {"outside_leaked_blocks", "", FMT_UINT, FMT_DATA_ONLY,
                                  0},
    [HC_OUTSIDE_ALLOC_CALLS] = {"outside_alloc_calls", "", FMT_UINT, FMT_DATA_ONLY, 0},
    [HC_OUTSIDE_ALLOC_BYTES] = {"outside_alloc_bytes", "", FMT_BYTES, FMT_DATA_ONLY, 0},
    [HC_OUTSIDE_FREE_CALLS] = {"outside_free_calls", "", FMT_UINT, FMT_DATA_ONLY, 0},
    [HC_OUTSIDE_FREED_BYTES] = {"outside_freed_bytes", "", FMT_BYTES, FMT_DATA_ONLY, 0},
    [HC_FOREIGN_FREES] = {"foreign_frees", "", FMT_UINT, FMT_DATA_ONLY, 0},
};

void cmd_heap_object(const struct model *m, struct fmt_cell *cells,
                     struct fmt_object *obj)
{
    struct m_heap_totals t;
    model_heap_totals(m, &t);
    const uint64_t values[HC_COUNT] = {
        [HC_PROCESSES] = t.procs,
        [HC_ALLOC_CALLS] = t.heap.alloc_calls,
        [HC_FREE_CALLS] = t.heap.free_calls,
        [HC_ALLOC_BYTES] = t.heap.alloc_bytes,
        [HC_FREED_BYTES] = t.heap.freed_bytes,
        [HC_PEAK] = t.peak_bytes,
        [HC_PEAK_RSS] = t.peak_rss_bytes,
        [HC_LEAKED_BYTES] = t.leaked_bytes,
        [HC_LEAKED_BLOCKS] = t.leaked_blocks,
        [HC_FUNC_LEAKED_BYTES] = t.func_leaked_bytes,
        [HC_FUNC_LEAKED_BLOCKS] = t.func_leaked_blocks,
        [HC_OUTSIDE_LEAKED_BYTES] = t.outside_leaked_bytes,
        [HC_OUTSIDE_LEAKED_BLOCKS] = t.outside_leaked_blocks,
        [HC_OUTSIDE_ALLOC_CALLS] = t.heap.outside_alloc_calls,
        [HC_OUTSIDE_ALLOC_BYTES] = t.heap.outside_alloc_bytes,
        [HC_OUTSIDE_FREE_CALLS] = t.heap.outside_free_calls,
        [HC_OUTSIDE_FREED_BYTES] = t.heap.outside_freed_bytes,
        [HC_FOREIGN_FREES] = t.foreign_frees,
    };
    for (size_t c = 0; c < HC_COUNT; c++)
        cells[c] = (struct fmt_cell){.num = (double)values[c]};
    *obj = (struct fmt_object){"heap", cmd_heap_cols, HC_COUNT, m->heap ? cells : NULL};
}
