/*
 * Data-driven end-to-end tests over samples/: every sample program is built
 * with cprof-cc, run, and reported on with `cprof report --format csv`, and
 * the call counts must equal, exactly, the ones its samples/<name>/expected
 * file lists. One Criterion test per sample and case, so a failure names
 * both:
 *   <sample>_O0, <sample>_O2     built at -O0 / -O2, default (summary) mode
 *   <sample>_O2_trace, _O2_count the -O2 build run in trace / count mode:
 *                                the three modes must agree
 *   <sample>_plain               built with plain clang: the instrumented
 *                                build must print the same, byte for byte
 *   all_listed                   every sample with an `expected` file has
 *                                tests here
 *
 * The expected file has one `name calls` line per function, `#` comments,
 * and directives: `!exit N` (the program's exit status, default 0) and
 * `!files N` (how many .cprof files a run writes, default 1).
 *
 * Each sample is compiled once per optimisation level per run of the
 * suite, into a cache directory the runner makes before the tests start
 * (a PRE_ALL hook) and removes after (POST_ALL; CPROF_E2E_KEEP=1 keeps it
 * for a look). Tests run in parallel, so a build is guarded by a lock file.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e_util.h"

#define SAMPLES_DIR CPROF_SOURCE_DIR "/samples"
#define CPROF_CC_PATH CPROF_BINARY_DIR "/bin/cprof-cc"
#define CPROF_PATH CPROF_BINARY_DIR "/bin/cprof"
#define CACHE_ENV "CPROF_E2E_SAMPLES_CACHE"
#define MAX_SOURCES 32
#define COMPILE_TIMEOUT_S 120
#define RUN_TIMEOUT_S 60

/* The samples under test. A sample with an `expected` file that is
 * missing here fails all_listed. */
#define CPROF_E2E_SAMPLES(X)                                                             \
    X(fib)                                                                               \
    X(mutual)                                                                            \
    X(inline)                                                                            \
    X(fnptr)                                                                             \
    X(longjmp)                                                                           \
    X(exit_deep)                                                                         \
    X(threads)                                                                           \
    X(fork)                                                                              \
    X(quickstart)                                                                        \
    X(lines)                                                                             \
    X(heap)                                                                              \
    X(latency)                                                                           \
    X(steady)                                                                            \
    X(hot_self)                                                                          \
    X(hot_tiny_calls)                                                                    \
    X(hot_alloc)                                                                         \
    X(hot_leak)                                                                          \
    X(hot_latency)                                                                       \
    X(hot_imbalance)                                                                     \
    X(hot_wait)                                                                          \
    X(balanced)                                                                          \
    X(cputime)

/* The run environment variables a test sets itself: inherited values would
 * change what is measured. */
static char *const run_env_unset[] = {"CPROF_DIR", "CPROF_MODE", "CPROF_VERBOSE",
                                      "CPROF_CPU", NULL};

struct expected_call {
    char name[128];
    unsigned long long calls;
};

struct expected_line {
    char func[128];
    unsigned line;
    unsigned long long hits;
};

/* The heap figures of one function, in the columns of `cprof heap`'s CSV. */
#define HEAP_FIELDS(X)                                                                   \
    X(alloc_calls)                                                                       \
    X(alloc_bytes) X(free_calls) X(freed_bytes) X(leaked_blocks) X(leaked_bytes)
#define HEAP_FIELD_MEMBER(f) unsigned long long f;
#define HEAP_FIELD_NAME(f) #f,
#define HEAP_FIELD_COUNT(f) +1
enum { N_HEAP_FIELDS = 0 HEAP_FIELDS(HEAP_FIELD_COUNT) };
static const char *const heap_field_names[] = {HEAP_FIELDS(HEAP_FIELD_NAME)};

struct expected_heap {
    char func[128];
    unsigned long long value[N_HEAP_FIELDS];
};

/* What samples/<name>/expected (and expected-lines and expected-heap, when
 * the sample has them) promises. */
struct sample_spec {
    int exit_status;
    int files;
    char cflags[256]; /* space-separated cprof-cc options of the build */
    size_t n_calls;
    struct expected_call calls[64];
    size_t n_lines;
    struct expected_line lines[256];
    size_t n_heap;
    struct expected_heap heap[32];
};

ReportHook(PRE_ALL)(struct criterion_test_set *tests)
{
    (void)tests;
    char *cache = e2e_make_temp_dir(NULL, "cprof-e2e-samples");
    if (cache) {
        setenv(CACHE_ENV, cache, 1);
        free(cache);
    }
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    const char *cache = getenv(CACHE_ENV);
    if (!cache)
        return;
    const char *keep = getenv("CPROF_E2E_KEEP");
    if (keep && *keep && strcmp(keep, "0") != 0)
        fprintf(stderr, "samples: builds and runs kept in %s\n", cache);
    else
        e2e_remove_tree(cache);
}

/* A sample's spec file (expected, expected-lines, ...), read whole, and a
 * cursor over its lines. */
struct spec_file {
    char path[512];
    char *text, *next;
    int line_no;
};

/* Opens SAMPLES_DIR/<sample>/<name>. Returns 0 when it does not exist and
 * is optional; fails the test when it cannot be read. */
static int spec_open(struct spec_file *f, const char *sample, const char *name,
                     int optional)
{
    snprintf(f->path, sizeof f->path, "%s/%s/%s", SAMPLES_DIR, sample, name);
    f->line_no = 0;
    if (optional && access(f->path, F_OK) != 0)
        return 0;
    f->text = f->next = e2e_read_file(f->path, NULL);
    cr_assert(f->text != NULL, "%s: cannot read it", f->path);
    return 1;
}

/* The next line that is neither blank nor a # comment, without its
 * leading blanks; NULL at the end, where the text is freed. */
static char *spec_line(struct spec_file *f)
{
    while (f->next && *f->next) {
        char *line = f->next;
        f->next = strchr(line, '\n');
        if (f->next)
            *f->next++ = '\0';
        f->line_no++;
        line += strspn(line, " \t");
        if (*line != '#' && *line != '\0')
            return line;
    }
    free(f->text);
    f->text = f->next = NULL;
    return NULL;
}

/* Reads SAMPLES_DIR/<sample>/expected-lines, when there is one, into
 * spec's lines: `function line hits` per line, # comments. */
static void load_line_spec(const char *sample, struct sample_spec *spec)
{
    struct spec_file f;
    if (!spec_open(&f, sample, "expected-lines", 1))
        return;
    for (char *line; (line = spec_line(&f)) != NULL;) {
        cr_assert(spec->n_lines < sizeof spec->lines / sizeof spec->lines[0],
                  "%s: too many lines", f.path);
        struct expected_line *want = &spec->lines[spec->n_lines++];
        char extra;
        int fields = sscanf(line, "%127s %u %llu %c", want->func, &want->line,
                            &want->hits, &extra);
        cr_assert(fields == 3 && want->line > 0,
                  "%s: line %d: want `function line hits`, got \"%s\"", f.path, f.line_no,
                  line);
    }
}

/* Reads SAMPLES_DIR/<sample>/expected-heap, when there is one, into spec's
 * heap: `function` and the HEAP_FIELDS per line, # comments. */
static void load_heap_spec(const char *sample, struct sample_spec *spec)
{
    struct spec_file f;
    if (!spec_open(&f, sample, "expected-heap", 1))
        return;
    for (char *line; (line = spec_line(&f)) != NULL;) {
        cr_assert(spec->n_heap < sizeof spec->heap / sizeof spec->heap[0],
                  "%s: too many functions", f.path);
        struct expected_heap *want = &spec->heap[spec->n_heap++];
        int used = 0;
        cr_assert(sscanf(line, "%127s%n", want->func, &used) == 1, "%s: line %d: no name",
                  f.path, f.line_no);
        char *p = line + used, *end;
        for (int i = 0; i < N_HEAP_FIELDS; i++, p = end) {
            want->value[i] = strtoull(p, &end, 10);
            cr_assert(end != p, "%s: line %d: want `function %s...`, got \"%s\"", f.path,
                      f.line_no, heap_field_names[0], line);
        }
        cr_assert(*(p + strspn(p, " \t")) == '\0', "%s: line %d: too many fields", f.path,
                  f.line_no);
    }
}

/* Reads SAMPLES_DIR/<sample>/expected into spec; fails the test, naming
 * the file and line, when it is missing or malformed. */
static void load_spec(const char *sample, struct sample_spec *spec)
{
    struct spec_file f;
    spec_open(&f, sample, "expected", 0);
    memset(spec, 0, sizeof *spec);
    spec->files = 1;
    for (char *line; (line = spec_line(&f)) != NULL;) {
        char word[128];
        long long number;
        char extra;
        if (strncmp(line, "!cflags ", 8) == 0) {
            snprintf(spec->cflags, sizeof spec->cflags, "%s", line + 8);
            continue;
        }
        int fields = sscanf(line, "%127s %lld %c", word, &number, &extra);
        cr_assert(fields == 2 && number >= 0,
                  "%s: line %d: want `name calls`, got \"%s\"", f.path, f.line_no, line);
        if (strcmp(word, "!exit") == 0) {
            spec->exit_status = (int)number;
        } else if (strcmp(word, "!files") == 0) {
            spec->files = (int)number;
        } else {
            cr_assert(word[0] != '!', "%s: line %d: unknown directive %s", f.path,
                      f.line_no, word);
            cr_assert(spec->n_calls < sizeof spec->calls / sizeof spec->calls[0],
                      "%s: too many functions", f.path);
            struct expected_call *call = &spec->calls[spec->n_calls++];
            snprintf(call->name, sizeof call->name, "%s", word);
            call->calls = (unsigned long long)number;
        }
    }
    cr_assert(spec->n_calls > 0, "%s: lists no function", f.path);
    load_line_spec(sample, spec);
    load_heap_spec(sample, spec);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fills sources with the malloc'd absolute paths of the sample's .c files
 * in name order; returns how many. */
static size_t find_sources(const char *sample, char **sources)
{
    char dir_path[512];
    snprintf(dir_path, sizeof dir_path, "%s/%s", SAMPLES_DIR, sample);
    DIR *dir = opendir(dir_path);
    cr_assert(dir != NULL, "%s: cannot open the sample's directory", dir_path);
    size_t n = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        size_t len = strlen(entry->d_name);
        if (len < 3 || strcmp(entry->d_name + len - 2, ".c") != 0)
            continue;
        cr_assert(n < MAX_SOURCES, "%s: too many sources", dir_path);
        cr_assert(asprintf(&sources[n++], "%s/%s", dir_path, entry->d_name) > 0);
    }
    closedir(dir);
    cr_assert(n > 0, "%s: no .c file", dir_path);
    qsort(sources, n, sizeof *sources, compare_strings);
    return n;
}

/* Where this run of the suite keeps its builds and runs. */
static const char *cache_dir(void)
{
    const char *cache = getenv(CACHE_ENV);
    cr_assert(cache != NULL, CACHE_ENV " is not set: the PRE_ALL hook did not run");
    return cache;
}

/* Builds the sample once per suite run and returns the program's malloc'd
 * path. level is "-O0" or "-O2" (cprof-cc) or "plain" (clang -O2, or
 * $CPROF_CC, without cprof). Fails the test with the compiler's messages
 * when the build fails. */
static char *build_sample(const char *sample, const char *level,
                          const struct sample_spec *spec)
{
    char *dir, *lock_path, *prog;
    cr_assert(asprintf(&dir, "%s/build-%s%s", cache_dir(), sample, level) > 0);
    cr_assert(asprintf(&lock_path, "%s.lock", dir) > 0);
    cr_assert(asprintf(&prog, "%s/prog", dir) > 0);
    int lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    cr_assert(lock_fd >= 0 && flock(lock_fd, LOCK_EX) == 0, "%s: cannot lock", lock_path);

    if (access(prog, X_OK) != 0) {
        mkdir(dir, 0755);
        char *sources[MAX_SOURCES];
        size_t n_sources = find_sources(sample, sources);
        int plain = strcmp(level, "plain") == 0;
        const char *plain_cc = getenv("CPROF_CC") ? getenv("CPROF_CC") : "clang";
        char *argv[MAX_SOURCES + 24];
        char cflags[sizeof spec->cflags];
        snprintf(cflags, sizeof cflags, "%s", spec->cflags);
        size_t argc = 0;
        argv[argc++] = (char *)(plain ? plain_cc : CPROF_CC_PATH);
        argv[argc++] = (char *)(plain ? "-O2" : level);
        for (char *save, *word = strtok_r(cflags, " \t", &save); word && !plain;
             word = strtok_r(NULL, " \t", &save)) {
            cr_assert(argc < 16, "%s: too many !cflags", sample);
            argv[argc++] = word;
        }
        argv[argc++] = "-o";
        argv[argc++] = "prog";
        for (size_t i = 0; i < n_sources; i++)
            argv[argc++] = sources[i];
        argv[argc++] = "-lpthread";
        argv[argc] = NULL;

        struct e2e_result res;
        cr_assert(e2e_run(dir, argv, NULL, NULL, COMPILE_TIMEOUT_S, &res) == 0,
                  "%s: cannot start %s", sample, argv[0]);
        char status[128];
        if (!WIFEXITED(res.status) || WEXITSTATUS(res.status) != 0 || res.timed_out) {
            unlink(prog);
            cr_assert_fail("%s: building with %s %s failed (%s):\n%s%s", sample, argv[0],
                           argv[1], e2e_status_str(&res, status, sizeof status), res.out,
                           res.err);
        }
        e2e_result_free(&res);
        for (size_t i = 0; i < n_sources; i++)
            free(sources[i]);
    }
    close(lock_fd);
    free(lock_path);
    free(dir);
    return prog;
}

/* Runs prog in a fresh directory under the cache, with CPROF_DIR set to
 * its data/ subdirectory and CPROF_MODE to mode (NULL: left unset, so the
 * default). Returns the run directory (malloc'd); res gets the outcome. */
static char *run_sample(const char *sample, const char *prog, const char *mode,
                        struct e2e_result *res)
{
    char *run_dir = e2e_make_temp_dir(cache_dir(), sample);
    cr_assert(run_dir != NULL, "%s: cannot make a run directory", sample);
    char *dir_env, *mode_env = NULL;
    cr_assert(asprintf(&dir_env, "CPROF_DIR=%s/data", run_dir) > 0);
    if (mode)
        cr_assert(asprintf(&mode_env, "CPROF_MODE=%s", mode) > 0);
    char *env[] = {dir_env, mode_env, NULL};
    char *argv[] = {(char *)prog, NULL};
    cr_assert(e2e_run(run_dir, argv, env, run_env_unset, RUN_TIMEOUT_S, res) == 0,
              "%s: cannot start %s", sample, prog);
    free(dir_env);
    free(mode_env);
    return run_dir;
}

/* Checks the exit status against the spec. */
static void check_exit(const char *what, const struct sample_spec *spec,
                       const struct e2e_result *res)
{
    char status[128];
    cr_assert(!res->timed_out && WIFEXITED(res->status) &&
                  WEXITSTATUS(res->status) == spec->exit_status,
              "%s: the program ended with %s, expected exit %d\nstderr:\n%s", what,
              e2e_status_str(res, status, sizeof status), spec->exit_status, res->err);
}

/* Differences found by a check, listed for its failure message. */
struct diffs {
    char text[8192];
    size_t used;
    size_t count;
};

static void diff_add(struct diffs *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void diff_add(struct diffs *d, const char *fmt, ...)
{
    d->count++;
    if (d->used + 1 >= sizeof d->text)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(d->text + d->used, sizeof d->text - d->used, fmt, ap);
    va_end(ap);
    d->used = n < 0 ? d->used : d->used + (size_t)n;
    if (d->used >= sizeof d->text)
        d->used = sizeof d->text - 1;
}

/* Runs `cprof COMMAND --format csv DATA_DIR` and parses what it prints into
 * csv; res keeps the output (res.out) for failure messages. */
static void run_cprof_csv(const char *what, const char *command, const char *data_dir,
                          struct e2e_result *res, struct e2e_csv *csv)
{
    char *argv[] = {CPROF_PATH, (char *)command,  "--format",
                    "csv",      (char *)data_dir, NULL};
    char status[128];
    cr_assert(e2e_run(NULL, argv, NULL, NULL, RUN_TIMEOUT_S, res) == 0,
              "%s: cannot start " CPROF_PATH, what);
    cr_assert(!res->timed_out && WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0,
              "%s: cprof %s ended with %s:\n%s", what, command,
              e2e_status_str(res, status, sizeof status), res->err);
    cr_assert(e2e_csv_parse(res->out, csv) == 0, "%s: cprof %s printed bad CSV:\n%s",
              what, command, res->out);
}

/* Runs `cprof report --format csv` on data_dir and compares its calls
 * column with the spec, failing with every differing function listed. */
static void check_counts(const char *what, const struct sample_spec *spec,
                         const char *data_dir)
{
    struct e2e_result res;
    struct e2e_csv csv;
    run_cprof_csv(what, "report", data_dir, &res, &csv);
    int name_col = e2e_csv_column(&csv, "name");
    int calls_col = e2e_csv_column(&csv, "calls");
    cr_assert(name_col >= 0 && calls_col >= 0,
              "%s: the CSV header has no `name` or `calls` column:\n%s", what, res.out);

    struct diffs diffs = {.used = 0};
    for (size_t i = 0; i < spec->n_calls; i++) {
        const struct expected_call *want = &spec->calls[i];
        unsigned long long got = 0;
        int rows = 0, parsed = 1;
        for (size_t r = 1; r < csv.n_rows; r++) {
            const char *name = e2e_csv_cell(&csv, r, name_col);
            const char *calls = e2e_csv_cell(&csv, r, calls_col);
            if (!name || strcmp(name, want->name) != 0)
                continue;
            rows++;
            char *end;
            got = calls ? strtoull(calls, &end, 10) : 0;
            parsed = calls && *calls && *end == '\0';
        }
        if (rows == 0)
            diff_add(&diffs, "  %-14s expected %llu, missing from the report\n",
                     want->name, want->calls);
        else if (rows > 1)
            diff_add(&diffs, "  %-14s expected %llu, on %d rows of the report\n",
                     want->name, want->calls, rows);
        else if (!parsed)
            diff_add(&diffs, "  %-14s expected %llu, calls cell is not a count\n",
                     want->name, want->calls);
        else if (got != want->calls)
            diff_add(&diffs, "  %-14s expected %llu, got %llu\n", want->name, want->calls,
                     got);
    }
    cr_assert(diffs.count == 0,
              "%s: %zu function(s) with wrong call counts:\n%sreport:\n%s", what,
              diffs.count, diffs.text, res.out);
    e2e_csv_free(&csv);
    e2e_result_free(&res);
}

/* Runs `cprof lines --format csv` on data_dir and compares the hits of
 * every line of the spec's functions with the spec: each listed line has
 * exactly its hits, no other line of those functions has any. */
static void check_line_hits(const char *what, const struct sample_spec *spec,
                            const char *data_dir)
{
    struct e2e_result res;
    struct e2e_csv csv;
    run_cprof_csv(what, "lines", data_dir, &res, &csv);
    int func_col = e2e_csv_column(&csv, "function");
    int line_col = e2e_csv_column(&csv, "line");
    int hits_col = e2e_csv_column(&csv, "hits");
    cr_assert(func_col >= 0 && line_col >= 0 && hits_col >= 0,
              "%s: the CSV header lacks function, line or hits:\n%s", what, res.out);

    struct diffs diffs = {.used = 0};
    int *matched = calloc(spec->n_lines, sizeof *matched);
    cr_assert(matched != NULL);
    for (size_t r = 1; r < csv.n_rows; r++) {
        const char *func = e2e_csv_cell(&csv, r, func_col);
        const char *line = e2e_csv_cell(&csv, r, line_col);
        const char *hits = e2e_csv_cell(&csv, r, hits_col);
        cr_assert(func && line && hits, "%s: short CSV row %zu", what, r);
        unsigned long long got = strtoull(hits, NULL, 10);
        unsigned line_no = (unsigned)strtoul(line, NULL, 10);
        int known_func = 0;
        size_t i;
        for (i = 0; i < spec->n_lines; i++) {
            known_func |= strcmp(spec->lines[i].func, func) == 0;
            if (strcmp(spec->lines[i].func, func) == 0 && spec->lines[i].line == line_no)
                break;
        }
        if (i < spec->n_lines) {
            matched[i]++;
            if (got != spec->lines[i].hits)
                diff_add(&diffs, "  %s:%u expected %llu hits, got %llu\n", func, line_no,
                         spec->lines[i].hits, got);
        } else if (known_func && got != 0) {
            diff_add(&diffs, "  %s:%u expected no hits, got %llu\n", func, line_no, got);
        }
    }
    for (size_t i = 0; i < spec->n_lines; i++) {
        if (matched[i] != 1)
            diff_add(&diffs, "  %s:%u expected %llu hits, on %d rows\n",
                     spec->lines[i].func, spec->lines[i].line, spec->lines[i].hits,
                     matched[i]);
    }
    free(matched);
    cr_assert(diffs.count == 0, "%s: %zu line(s) with wrong hits:\n%slines:\n%s", what,
              diffs.count, diffs.text, res.out);
    e2e_csv_free(&csv);
    e2e_result_free(&res);
}

/* Runs `cprof heap --format csv` on data_dir and compares the spec's
 * functions' heap figures with it, exactly. */
static void check_heap(const char *what, const struct sample_spec *spec,
                       const char *data_dir)
{
    struct e2e_result res;
    struct e2e_csv csv;
    run_cprof_csv(what, "heap", data_dir, &res, &csv);
    int name_col = e2e_csv_column(&csv, "name");
    int cols[N_HEAP_FIELDS];
    for (int f = 0; f < N_HEAP_FIELDS; f++) {
        cols[f] = e2e_csv_column(&csv, heap_field_names[f]);
        cr_assert(cols[f] >= 0, "%s: the CSV header has no %s column:\n%s", what,
                  heap_field_names[f], res.out);
    }
    cr_assert(name_col >= 0, "%s: the CSV header has no name column:\n%s", what, res.out);

    struct diffs diffs = {.used = 0};
    for (size_t i = 0; i < spec->n_heap; i++) {
        const struct expected_heap *want = &spec->heap[i];
        size_t row = 0;
        for (size_t r = 1; r < csv.n_rows; r++) {
            const char *name = e2e_csv_cell(&csv, r, name_col);
            if (name && strcmp(name, want->func) == 0)
                row = row ? (size_t)-1 : r;
        }
        if (row == 0 || row == (size_t)-1) {
            diff_add(&diffs, "  %s: %s the heap table\n", want->func,
                     row ? "on several rows of" : "missing from");
            continue;
        }
        for (int f = 0; f < N_HEAP_FIELDS; f++) {
            const char *cell = e2e_csv_cell(&csv, row, cols[f]);
            unsigned long long got = cell ? strtoull(cell, NULL, 10) : 0;
            if (!cell || got != want->value[f])
                diff_add(&diffs, "  %s %s: expected %llu, got %s\n", want->func,
                         heap_field_names[f], want->value[f], cell ? cell : "nothing");
        }
    }
    cr_assert(diffs.count == 0, "%s: %zu wrong heap figure(s):\n%sheap:\n%s", what,
              diffs.count, diffs.text, res.out);
    e2e_csv_free(&csv);
    e2e_result_free(&res);
}

/* Builds the sample at level, runs it in mode (NULL: the default) and
 * checks its exit status, the number of .cprof files and every count. */
static void check_sample(const char *sample, const char *level, const char *mode)
{
    struct sample_spec spec;
    load_spec(sample, &spec);
    char *prog = build_sample(sample, level, &spec);
    struct e2e_result res;
    char *run_dir = run_sample(sample, prog, mode, &res);
    char what[128];
    snprintf(what, sizeof what, "%s %s %s", sample, level, mode ? mode : "default mode");
    check_exit(what, &spec, &res);

    char *data_dir;
    cr_assert(asprintf(&data_dir, "%s/data", run_dir) > 0);
    int files = e2e_count_files(data_dir, ".cprof");
    cr_assert(files >= 0, "%s: the run made no data directory %s", what, data_dir);
    cr_assert(files == spec.files, "%s: %d .cprof file(s) in %s, expected %d", what,
              files, data_dir, spec.files);
    check_counts(what, &spec, data_dir);
    if (spec.n_lines)
        check_line_hits(what, &spec, data_dir);
    if (spec.n_heap)
        check_heap(what, &spec, data_dir);

    free(data_dir);
    free(run_dir);
    free(prog);
    e2e_result_free(&res);
}

/* The profiler must not change what the program does: the cprof-cc -O2
 * build prints exactly what the plain clang -O2 build prints, on stdout
 * and stderr, and ends the same way. */
static void check_plain(const char *sample)
{
    struct sample_spec spec;
    load_spec(sample, &spec);
    char *plain = build_sample(sample, "plain", &spec);
    char *profiled = build_sample(sample, "-O2", &spec);
    struct e2e_result plain_res, prof_res;
    free(run_sample(sample, plain, NULL, &plain_res));
    free(run_sample(sample, profiled, NULL, &prof_res));

    char what[128];
    snprintf(what, sizeof what, "%s plain clang", sample);
    check_exit(what, &spec, &plain_res);
    snprintf(what, sizeof what, "%s cprof-cc", sample);
    check_exit(what, &spec, &prof_res);
    cr_assert(plain_res.out_len > 0, "%s: the sample prints nothing", sample);
    cr_assert(plain_res.out_len == prof_res.out_len &&
                  memcmp(plain_res.out, prof_res.out, plain_res.out_len) == 0,
              "%s: stdout differs\nplain clang:\n%s\ncprof-cc:\n%s", sample,
              plain_res.out, prof_res.out);
    cr_assert(plain_res.err_len == prof_res.err_len &&
                  memcmp(plain_res.err, prof_res.err, plain_res.err_len) == 0,
              "%s: stderr differs\nplain clang:\n%s\ncprof-cc:\n%s", sample,
              plain_res.err, prof_res.err);
    e2e_result_free(&plain_res);
    e2e_result_free(&prof_res);
    free(plain);
    free(profiled);
}

#define SAMPLE_TESTS(s)                                                                  \
    Test(samples, s##_O0, .timeout = 120)                                                \
    {                                                                                    \
        check_sample(#s, "-O0", NULL);                                                   \
    }                                                                                    \
    Test(samples, s##_O2, .timeout = 120)                                                \
    {                                                                                    \
        check_sample(#s, "-O2", NULL);                                                   \
    }                                                                                    \
    Test(samples, s##_O2_trace, .timeout = 120)                                          \
    {                                                                                    \
        check_sample(#s, "-O2", "trace");                                                \
    }                                                                                    \
    Test(samples, s##_O2_count, .timeout = 120)                                          \
    {                                                                                    \
        check_sample(#s, "-O2", "count");                                                \
    }                                                                                    \
    Test(samples, s##_plain, .timeout = 120)                                             \
    {                                                                                    \
        check_plain(#s);                                                                 \
    }

CPROF_E2E_SAMPLES(SAMPLE_TESTS)

#define SAMPLE_NAME(s) #s,
static const char *const listed_samples[] = {CPROF_E2E_SAMPLES(SAMPLE_NAME) NULL};

Test(samples, all_listed)
{
    DIR *dir = opendir(SAMPLES_DIR);
    cr_assert(dir != NULL, "%s: cannot open", SAMPLES_DIR);
    struct dirent *entry;
    int seen = 0;
    while ((entry = readdir(dir)) != NULL) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s/expected", SAMPLES_DIR, entry->d_name);
        if (entry->d_name[0] == '.' || access(path, R_OK) != 0)
            continue;
        int listed = 0;
        for (size_t i = 0; listed_samples[i]; i++)
            listed |= strcmp(listed_samples[i], entry->d_name) == 0;
        cr_expect(listed, "samples/%s has an expected file but no tests: add it to %s",
                  entry->d_name, "CPROF_E2E_SAMPLES in tests/e2e/test_samples.c");
        seen++;
    }
    closedir(dir);
    cr_assert(seen >= (int)(sizeof listed_samples / sizeof *listed_samples) - 1,
              "fewer samples with expected files (%d) than listed", seen);
}
