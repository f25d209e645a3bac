/*
 * `cprof export`: the loaded data written in a format another tool reads
 * (chrome, callgrind, folded, html) or as every table at once (json, csv).
 * This file owns the command line, loading and the output file (written
 * beside its final name and renamed at the end, so that a failed export
 * never leaves half a file); each format is a writer of export.h in a file
 * of its own.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_common.h"
#include "commands.h"
#include "export.h"
#include "util.h"

static const char export_usage[] =
    "usage: cprof export --format F [-o FILE] [--from T] [--to T] [--min-dur T]\n"
    "                    [--weight calls|time|alloc_bytes] [--pid PID] [--tid TID]\n"
    "                    [PATH...]\n"
    "\n"
    "Writes the data for other tools (see docs/cprof-export.md):\n"
    "  chrome     Trace Event Format JSON for chrome://tracing, Perfetto,\n"
    "             speedscope: one event per call (trace mode only)\n"
    "  callgrind  a callgrind.out file for KCachegrind and QCachegrind\n"
    "  folded     collapsed stacks 'main;parse;lex 1234' for flamegraph.pl,\n"
    "             inferno and speedscope\n"
    "  html       one self-contained HTML page\n"
    "  json       every table in one object: functions, edges, lines, heap, run,\n"
    "             warnings\n"
    "  csv        the same tables, one file each, in directory -o DIR\n"
    "\n"
    "  PATH             a .cprof file or a directory of them (default ./cprof.data)\n"
    "  -f, --format F   the format (required)\n"
    "  -o, --output FILE  write FILE (csv: a directory) instead of standard output\n"
    "      --from T     chrome: only calls still running at T after their process\n"
    "                   started (T: 1.5s, 200ms, 30us, 100ns; a bare number is ns)\n"
    "      --to T       chrome: only calls that started by T\n"
    "      --min-dur T  chrome: leave out calls shorter than T\n"
    "      --weight W   folded: time (self ns, default), calls or alloc_bytes\n"
    "      --pid PID    only the process PID\n"
    "      --tid TID    only the thread with kernel thread id TID\n"
    "\n"
    "Examples:\n"
    "  cprof export --format chrome -o trace.json   open in Perfetto\n"
    "  cprof export --format callgrind -o callgrind.out   then: kcachegrind "
    "callgrind.out\n"
    "  cprof export --format folded | flamegraph.pl > flame.svg\n"
    "  cprof export --format html -o report.html    one self-contained page\n"
    "\n"
    "Exit status: 0 written, 1 bad command line, 2 no usable data, data the\n"
    "format cannot show, a file damaged or cut short, or the output could not\n"
    "be written. See docs/cprof.md.\n";

typedef int (*export_writer)(FILE *out, struct cmd_view_run *run,
                             const struct export_opts *o);

static const struct export_format {
    const char *name;
    export_writer write; /* NULL: csv, which writes a directory */
    int timed;           /* takes --from, --to and --min-dur */
} export_formats[] = {
    {"chrome", export_chrome, 1}, {"callgrind", export_callgrind, 0},
    {"folded", export_folded, 0}, {"html", export_html, 0},
    {"json", export_json, 0},     {"csv", NULL, 0},
};

/* A duration "1.5s", "200ms", "30us", "100ns" (a bare number: ns) in ns.
 * Returns 0, or -1 when s is not one. */
static int export_duration(const char *s, double *ns)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"", 1}, {"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}};
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (!strcmp(end, units[i].unit)) {
            *ns = v * units[i].ns;
            return 0;
        }
    }
    return -1;
}

/* Parses the command line into o, *format and run's filter and paths.
 * Returns 0, 1 after --help, -1 after saying what was wrong. */
static int export_parse(int argc, char **argv, struct export_opts *o,
                        const struct export_format **format, struct cmd_view_run *run)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"min-dur", required_argument, NULL, 'd'},
        {"weight", required_argument, NULL, 'w'},
        {"pid", required_argument, NULL, 'p'},
        {"tid", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, windowed = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:o:h", longopts, NULL)) != -1) {
        double *ns = c == 'F' ? &o->from_ns : c == 'T' ? &o->to_ns : &o->min_dur_ns;
        switch (c) {
        case 'f':
            *format = NULL;
            for (size_t i = 0; i < sizeof export_formats / sizeof *export_formats; i++)
                if (!strcmp(optarg, export_formats[i].name))
                    *format = &export_formats[i];
            if (!*format) {
                cprof_error("export: unknown format '%s' (chrome, callgrind, folded, "
                            "html, json or csv)",
                            optarg);
                return -1;
            }
            break;
        case 'o':
            o->out_path = optarg;
            break;
        case 'F':
        case 'T':
        case 'd':
            if (export_duration(optarg, ns) < 0) {
                cprof_error("export: --%s wants a time such as 1.5s, 200ms, 30us or "
                            "100ns, not '%s'",
                            c == 'F'   ? "from"
                            : c == 'T' ? "to"
                                       : "min-dur",
                            optarg);
                return -1;
            }
            o->has_from |= c == 'F';
            o->has_to |= c == 'T';
            windowed = 1;
            break;
        case 'w':
            if (!strcmp(optarg, "time"))
                o->weight = EXPORT_WEIGHT_TIME;
            else if (!strcmp(optarg, "calls"))
                o->weight = EXPORT_WEIGHT_CALLS;
            else if (!strcmp(optarg, "alloc_bytes"))
                o->weight = EXPORT_WEIGHT_ALLOC;
            else {
                cprof_error("export: unknown weight '%s' (time, calls or alloc_bytes)",
                            optarg);
                return -1;
            }
            break;
        case 'p':
        case 't':
            if (cmd_id_arg("export", c == 'p' ? "pid" : "tid", optarg,
                           c == 'p' ? &run->filter.pid : &run->filter.tid) < 0)
                return -1;
            break;
        case 'h':
            fputs(export_usage, stdout);
            return 1;
        default:
            cmd_bad_option("export", optopt, "fo", argv[optind - 1]);
            return -1;
        }
    }
    if (!*format) {
        cprof_error("export: which format? --format chrome, callgrind, folded, html, "
                    "json or csv");
        return -1;
    }
    if (windowed && !(*format)->timed) {
        cprof_error("export: --from, --to and --min-dur do not apply to %s",
                    (*format)->name);
        return -1;
    }
    if (o->has_from && o->has_to && o->to_ns < o->from_ns) {
        cprof_error("export: --to is before --from");
        return -1;
    }
    run->paths = cprof_xcalloc((size_t)(argc - optind) + 1, sizeof(char *));
    for (int i = optind; i < argc; i++)
        run->paths[run->npaths++] = argv[i];
    return 0;
}

const char **export_func_names(const struct cmd_view_run *run)
{
    const char **names =
        cprof_xcalloc(run->model.nfuncs ? run->model.nfuncs : 1, sizeof(*names));
    for (size_t i = 0; i < run->model.nfuncs; i++)
        names[i] = "";
    for (size_t i = 0; i < run->profile.nrows; i++)
        names[run->profile.rows[i].func] = run->profile.rows[i].name;
    return names;
}

FILE *export_create(const char *path, char **tmp)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a device or a pipe (-o /dev/stdout, a FIFO): written in place, never
         * replaced by a renamed file */
        *tmp = NULL;
        FILE *f = fopen(path, "w");
        if (!f)
            cprof_error("export: cannot open %s: %s", path, strerror(errno));
        return f;
    }
    *tmp = cprof_xasprintf("%s.tmpXXXXXX", path);
    int fd = mkstemp(*tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        cprof_error("export: cannot create %s: %s", *tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(*tmp);
        }
        free(*tmp);
        *tmp = NULL;
        return NULL;
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask); /* as an ordinary new file, not mkstemp's 0600 */
    return f;
}

int export_commit(FILE *f, const char *path, char *tmp, int ok)
{
    int written = fflush(f) == 0 && !ferror(f);
    written &= fclose(f) == 0;
    if (!written && ok) /* a writer that failed has said why */
        cprof_error("export: cannot write %s", path);
    if (!tmp) /* written in place */
        return ok && !written ? -1 : 0;
    if (written && ok && rename(tmp, path) == 0) {
        free(tmp);
        return 0;
    }
    if (written && ok)
        cprof_error("export: cannot rename %s to %s: %s", tmp, path, strerror(errno));
    unlink(tmp);
    free(tmp);
    return ok ? -1 : 0;
}

/* Writes run with format where o says. Returns the status. */
static int export_write(const struct export_format *format, struct cmd_view_run *run,
                        const struct export_opts *o)
{
    if (!format->write)
        return export_csv(run, o);
    if (!o->out_path) {
        int status = format->write(stdout, run, o);
        int failed = fflush(stdout) != 0 || ferror(stdout);
        if (failed && status == CPROF_EXIT_OK) { /* a writer that failed has said why */
            cprof_error("export: cannot write the output");
            status = CPROF_EXIT_DATA;
        }
        return status;
    }
    char *tmp;
    FILE *f = export_create(o->out_path, &tmp);
    if (!f)
        return CPROF_EXIT_DATA;
    int status = format->write(f, run, o);
    if (export_commit(f, o->out_path, tmp, status == CPROF_EXIT_OK) < 0)
        status = CPROF_EXIT_DATA;
    return status;
}

int cmd_export(int argc, char **argv)
{
    struct cmd_view_run run;
    memset(&run, 0, sizeof run);
    run.format = &fmt_json;
    model_init(&run.model);
    struct export_opts o = {0};
    const struct export_format *format = NULL;
    int r = export_parse(argc, argv, &o, &format, &run);
    int status = r ? (r > 0 ? CPROF_EXIT_OK : CPROF_EXIT_USAGE) : CPROF_EXIT_OK;
    if (r == 0 && cmd_view_load(&run)) {
        /* json carries the warnings; the other formats have no room for them */
        int in_output = format->write == export_json;
        for (size_t i = 0; !in_output && i < run.model.warnings.count; i++)
            fprintf(stderr, "cprof: warning: %s\n", run.model.warnings.text[i]);
        status = export_write(format, &run, &o);
        if (status == CPROF_EXIT_OK)
            status = run.status;
        /* damaged input: exported as far as it goes, but an error */
        status =
            cmd_finish("export", &run.model, in_output ? &fmt_json : &fmt_csv, status);
    } else if (r == 0) {
        status = run.status;
    }
    cmd_view_end(&run);
    return status;
}

const char *const cmd_export_help = export_usage;
