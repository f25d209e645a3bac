/*
 * `cprof top`: a live view of programs that are still running, like top.
 *
 * A program recording in summary mode with CPROF_LIVE=SECONDS has its
 * summary written every SECONDS to <data dir>/PROG.PID.live.cprof (a
 * complete file, replaced by rename, removed when the process ends; see
 * docs/runtime.md). cprof top reads those snapshots as they come, and
 * shows per function the self time and calls of the last interval beside
 * the totals so far. `cprof top -- PROGRAM` runs the program with the
 * settings that make it write snapshots, and shows its final figures when
 * it ends.
 *
 * On a terminal the view is redrawn in place (q quits); otherwise one plain
 * table is printed per new snapshot, so the output can be logged or
 * piped.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cmd_common.h"
#include "commands.h"
#include "cprof_format.h"
#include "fmt.h"
#include "hashmap.h"
#include "model.h"
#include "profile.h"
#include "sym.h"
#include "util.h"

#define TOP_LIVE_SUFFIX ".live.cprof"
#define TOP_PLAIN_ROWS 20

static const char top_usage[] =
    "usage: cprof top [PATH] [-d SECONDS] [-n N] [--iterations N] [--pid PID] [--plain]\n"
    "       cprof top [-o DIR] [-d SECONDS] [...] -- PROGRAM [ARGS...]\n"
    "\n"
    "A live view of programs that are still running: per function, the self\n"
    "time and calls of the last interval beside the totals so far, hottest\n"
    "first. It reads the snapshots a program built with cprof-cc writes while\n"
    "it runs in summary mode with CPROF_LIVE=SECONDS set\n"
    "(DIR/PROG.PID.live.cprof, replaced every SECONDS, removed at exit).\n"
    "\n"
    "  PATH             a data directory (default ./cprof.data: every running\n"
    "                   process in it) or one PROG.PID.live.cprof file\n"
    "  -- PROGRAM ARGS  run PROGRAM with CPROF_LIVE set, show it while it runs\n"
    "                   and its final figures when it ends; cprof top then exits\n"
    "                   with its status. On a terminal its output goes to\n"
    "                   DIR/PROG.top.log\n"
    "  -o, --output DIR the data directory for PROGRAM (default ./cprof.data)\n"
    "  -d, --interval S seconds between refreshes (default 1; 0.1 to 3600)\n"
    "  -n, --limit N    show N functions (default: what fits the terminal; 20\n"
    "                   in plain output)\n"
    "      --iterations N  stop after N refreshes\n"
    "      --pid PID    only the process PID\n"
    "      --plain      plain tables one after another, even on a terminal\n"
    "\n"
    "Columns: 'last' is the function's self time in the last interval, '%' that\n"
    "time as a share of the interval (over 100% when several threads run it),\n"
    "'calls/s' its calls per second in the interval; 'self' and 'calls' are\n"
    "the totals since the program started. Keys on a terminal: q quits, space\n"
    "refreshes now.\n"
    "\n"
    "Examples:\n"
    "  cprof top -- ./server --port 8080            run it and watch it\n"
    "  CPROF_LIVE=1 ./server & cprof top            watch what runs in ./cprof.data\n"
    "  cprof top --plain -d 5 -- make check > top.log\n"
    "      a table every 5 s\n"
    "\n"
    "Exit status: the program's with -- PROGRAM; else 0, 1 bad command line,\n"
    "2 unusable data. See docs/cprof-top.md.\n";

struct top_opts {
    double interval;
    uint64_t limit;
    int limit_given;
    uint64_t iterations;
    uint64_t pid;
    int plain;
    const char *dir; /* for -- PROGRAM */
    const char *path;
    char **program;
};

/* ---- the functions of one snapshot, and of the one before ------------- */

struct top_fn {
    const char *name; /* its key in top_snap.keys starts with it */
    char *location;
    uint64_t calls;
    double self_ns;
    /* against the previous snapshot */
    uint64_t d_calls;
    double d_self_ns;
};

struct top_snap {
    struct top_fn *fns;
    size_t nfns;
    /* fns[i]'s key "name NUL module" (the same function in every snapshot)
     * is keys.items[i] */
    struct hm_strings keys;
    double elapsed_ns; /* the longest process's run time at its snapshot */
    uint64_t total_calls;
    double total_self_ns;
    size_t nprocs, nthreads;
    char *who; /* "prog 123, prog 124" */
    int timed;
};

static void top_snap_free(struct top_snap *s)
{
    for (size_t i = 0; i < s->nfns; i++)
        free(s->fns[i].location);
    free(s->fns);
    hm_strings_free(&s->keys);
    free(s->who);
    memset(s, 0, sizeof(*s));
}

static void top_add(struct top_snap *s, size_t *cap, const struct pf_row *r,
                    const char *cwd)
{
    const char *name = r->name && r->name[0] ? r->name : "?";
    const char *module = r->module ? r->module : "";
    size_t nn = strlen(name), nm = strlen(module);
    char *key = cprof_xmalloc(nn + nm + 2);
    memcpy(key, name, nn + 1);
    memcpy(key + nn + 1, module, nm + 1);
    uint32_t at = hm_strings_add(&s->keys, key, nn + 1 + nm);
    free(key);
    if (at < s->nfns) { /* one name twice in a module (statics): one row */
        s->fns[at].calls += r->calls;
        s->fns[at].self_ns += r->self_ns;
        return;
    }
    cprof_grow(&s->fns, cap, s->nfns + 1, sizeof(*s->fns));
    struct top_fn *f = &s->fns[s->nfns++];
    memset(f, 0, sizeof(*f));
    f->name = s->keys.items[at].s;
    f->location = cmd_location(r->file ? r->file : "", module, r->line, cwd);
    f->calls = r->calls;
    f->self_ns = r->self_ns;
}

/* Builds s from the model; the figures of prev (may be empty) give the
 * last interval's. */
static void top_snap_build(struct top_snap *s, const struct model *m,
                           struct sym_cache *syms, const struct top_snap *prev)
{
    struct profile pf;
    profile_build(m, syms, &pf);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    size_t cap = 0;
    for (size_t i = 0; i < pf.nrows; i++)
        top_add(s, &cap, &pf.rows[i], cwd);
    s->total_calls = pf.total_calls;
    s->total_self_ns = pf.total_self_ns;
    s->timed = pf.timed;
    profile_free(&pf);

    struct strbuf who = {0};
    s->nprocs = m->nprocs;
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct m_process *p = m->procs[i];
        s->nthreads += p->nthreads;
        if (p->ns_per_tick > 0 && p->end_ticks > p->start_ticks) {
            double e = (double)(p->end_ticks - p->start_ticks) * p->ns_per_tick;
            if (e > s->elapsed_ns)
                s->elapsed_ns = e;
        }
        if (i < 4) {
            const char *exe = p->exe ? p->exe : "?";
            const char *base = strrchr(exe, '/');
            sb_printf(&who, "%s%s %llu", i ? ", " : "", base ? base + 1 : exe,
                      (unsigned long long)p->pid);
        } else if (i == 4) {
            sb_printf(&who, ", ... (%zu processes)", m->nprocs);
        }
    }
    s->who = who.len ? who.s : cprof_xstrdup("");

    for (size_t i = 0; i < s->nfns; i++) {
        struct top_fn *f = &s->fns[i];
        const struct hm_string *key = &s->keys.items[i];
        uint32_t at = hm_strings_find(&prev->keys, key->s, key->n);
        uint64_t pc = at != HM_NONE ? prev->fns[at].calls : 0;
        double ps = at != HM_NONE ? prev->fns[at].self_ns : 0;
        /* a process gone since: its totals left the sum; never negative */
        f->d_calls = f->calls > pc ? f->calls - pc : 0;
        f->d_self_ns = f->self_ns > ps ? f->self_ns - ps : 0;
    }
}

/* ---- which files to read ---------------------------------------------- */

static int top_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int top_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The snapshot files to read now: path itself when it is a file, else the
 * *.live.cprof files in the directory (only pid's when pid is not 0). */
static char **top_list(const char *path, uint64_t pid, size_t *count)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct stat st;
    *count = 0;
    if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
        names = cprof_xcalloc(1, sizeof(char *));
        names[0] = cprof_xstrdup(path);
        *count = 1;
        return names;
    }
    DIR *d = opendir(path);
    if (!d)
        return NULL;
    struct dirent *e;
    char want[32];
    snprintf(want, sizeof want, ".%llu" TOP_LIVE_SUFFIX, (unsigned long long)pid);
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !top_has_suffix(e->d_name, TOP_LIVE_SUFFIX))
            continue;
        if (pid && !top_has_suffix(e->d_name, want))
            continue;
        cprof_grow(&names, &cap, n + 1, sizeof(char *));
        names[n++] = cprof_xasprintf("%s/%s", path, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(char *), top_cmp_str);
    *count = n;
    return names;
}

static void top_free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* A fingerprint of the files' identities and times: a new snapshot of any
 * of them changes it. */
static uint64_t top_stamp(char **names, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) != 0)
            continue;
        uint64_t v[4] = {(uint64_t)st.st_ino, (uint64_t)st.st_size,
                         (uint64_t)st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec};
        h = (h ^ hm_hash_bytes(v, sizeof v)) * 0x100000001b3ull;
    }
    return h;
}

/* Loads the files into a new model; 0 when at least one process was read.
 * A file that vanished between listing and reading (the process ended, or
 * the snapshot was being replaced) is skipped quietly. */
static int top_load(struct model *m, char **names, size_t n, uint64_t pid, char *err,
                    size_t errlen)
{
    model_init(m);
    m->filter.pid = pid;
    err[0] = 0;
    for (size_t i = 0; i < n; i++) {
        char msg[512];
        if (model_load_file(m, names[i], msg, sizeof msg) != 0 &&
            access(names[i], F_OK) == 0)
            snprintf(err, errlen, "%s: %s", names[i], msg);
    }
    return m->nprocs ? 0 : -1;
}

/* ---- showing it ------------------------------------------------------- */

static void top_count(double v, char *buf, size_t len)
{
    if (v < 10000)
        snprintf(buf, len, "%.0f", v);
    else if (v < 1e6)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else if (v < 1e9)
        snprintf(buf, len, "%.2fM", v / 1e6);
    else
        snprintf(buf, len, "%.2fG", v / 1e9);
}

static const struct top_snap *top_sort_snap;

/* hottest in the last interval first, then by total self time, then name */
static int top_cmp_fn(const void *a, const void *b)
{
    const struct top_fn *x = &top_sort_snap->fns[*(const size_t *)a];
    const struct top_fn *y = &top_sort_snap->fns[*(const size_t *)b];
    if (x->d_self_ns != y->d_self_ns)
        return x->d_self_ns > y->d_self_ns ? -1 : 1;
    if (x->d_calls != y->d_calls)
        return x->d_calls > y->d_calls ? -1 : 1;
    if (x->self_ns != y->self_ns)
        return x->self_ns > y->self_ns ? -1 : 1;
    if (x->calls != y->calls)
        return x->calls > y->calls ? -1 : 1;
    return strcmp(x->name, y->name);
}

struct top_view {
    const char *state;  /* "running", "ended: exit status 0", ... */
    const char *notice; /* a line under the header, or NULL */
    double interval_ns; /* of the last interval, 0 when unknown */
    double age_s;       /* since the snapshot was read, -1 unknown */
    size_t rows;        /* functions to show */
    size_t width;       /* columns to fill (0: no limit) */
    int terminal;
};

/* Prints one line, cut to width (a terminal line must not wrap). */
static void top_line(FILE *out, size_t width, int clear_eol, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void top_line(FILE *out, size_t width, int clear_eol, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (width && strlen(buf) > width)
        buf[width] = 0;
    fputs(buf, out);
    fputs(clear_eol ? "\033[K\n" : "\n", out);
}

static void top_show(FILE *out, const struct top_snap *s, const struct top_view *v)
{
    int t = v->terminal;
    char rate[32] = "-", total[32], self[32] = "-";
    top_count((double)s->total_calls, total, sizeof total);
    double d_calls_all = 0;
    for (size_t i = 0; i < s->nfns; i++)
        d_calls_all += (double)s->fns[i].d_calls;
    if (v->interval_ns > 0) {
        top_count(d_calls_all / (v->interval_ns / 1e9), rate, sizeof rate);
        strcat(rate, "/s");
    }
    if (s->timed)
        fmt_human_ns(s->total_self_ns, self, sizeof self);
    char elapsed[32] = "?";
    if (s->elapsed_ns > 0)
        fmt_human_ns(s->elapsed_ns, elapsed, sizeof elapsed);
    top_line(out, v->width, t, "cprof top - %s - %s - %zu thread%s, running for %s%s",
             s->who, v->state, s->nthreads, s->nthreads == 1 ? "" : "s", elapsed,
             t ? "   (q quits)" : "");
    top_line(out, v->width, t,
             "calls: %s in all, %s now; time in instrumented functions: %s", total, rate,
             self);
    if (v->notice)
        top_line(out, v->width, t, "%s", v->notice);
    top_line(out, v->width, t, "%s", "");
    top_line(out, v->width, t, "%10s %7s %10s %10s %10s  %s", "last", "%", "calls/s",
             "self", "calls", "function (location)");

    size_t *order = cprof_xcalloc(s->nfns ? s->nfns : 1, sizeof(size_t));
    for (size_t i = 0; i < s->nfns; i++)
        order[i] = i;
    top_sort_snap = s;
    qsort(order, s->nfns, sizeof(size_t), top_cmp_fn);
    size_t rows = v->rows < s->nfns ? v->rows : s->nfns;
    for (size_t k = 0; k < rows; k++) {
        const struct top_fn *f = &s->fns[order[k]];
        char last[32] = "-", pct[32] = "-", cps[32] = "-", fself[32] = "-", fcalls[32];
        if (v->interval_ns > 0) {
            if (s->timed) {
                fmt_human_ns(f->d_self_ns, last, sizeof last);
                snprintf(pct, sizeof pct, "%.1f", 100.0 * f->d_self_ns / v->interval_ns);
            }
            top_count((double)f->d_calls / (v->interval_ns / 1e9), cps, sizeof cps);
        }
        if (s->timed)
            fmt_human_ns(f->self_ns, fself, sizeof fself);
        top_count((double)f->calls, fcalls, sizeof fcalls);
        top_line(out, v->width, t, "%10s %7s %10s %10s %10s  %s (%s)", last, pct, cps,
                 fself, fcalls, f->name, f->location);
    }
    if (!s->nfns)
        top_line(out, v->width, t, "(no function has been called yet)");
    else if (rows < s->nfns)
        top_line(out, v->width, t, "... %zu more function%s", s->nfns - rows,
                 s->nfns - rows == 1 ? "" : "s");
    free(order);
}

/* ---- the terminal ----------------------------------------------------- */

static volatile sig_atomic_t top_quit, top_resized;
static struct termios top_saved_tio;
static int top_tio_saved;

static void top_on_signal(int sig)
{
    if (sig == SIGWINCH)
        top_resized = 1;
    else
        top_quit = 1;
}

static void top_terminal_begin(void)
{
    if (tcgetattr(STDIN_FILENO, &top_saved_tio) == 0) {
        struct termios raw = top_saved_tio;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
            top_tio_saved = 1;
    }
    fputs("\033[?1049h\033[?25l", stdout); /* the alternate screen, no cursor */
    fflush(stdout);
}

static void top_terminal_end(void)
{
    fputs("\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    if (top_tio_saved)
        tcsetattr(STDIN_FILENO, TCSANOW, &top_saved_tio);
    top_tio_saved = 0;
}

static void top_terminal_size(size_t *rows, size_t *cols)
{
    struct winsize ws;
    *rows = 24;
    *cols = 80;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
        *rows = ws.ws_row;
        *cols = ws.ws_col;
    }
}

/* Waits up to seconds for a key (terminal) or the time to pass; returns the
 * key, 0 on timeout. */
static int top_wait(double seconds, int terminal)
{
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    int ms = (int)(seconds * 1000 + 0.5);
    if (!terminal) {
        struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !top_quit)
            ;
        return 0;
    }
    if (poll(&p, 1, ms) > 0 && (p.revents & POLLIN)) {
        char c;
        if (read(STDIN_FILENO, &c, 1) == 1)
            return (unsigned char)c;
    }
    return 0;
}

static double top_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- running a program ------------------------------------------------ */

static pid_t top_start(char **argv, const char *dir, double interval, int quiet_output)
{
    char live[32];
    snprintf(live, sizeof live, "%g", interval);
    setenv("CPROF_DIR", dir, 1);
    setenv("CPROF_MODE", "summary", 1);
    setenv("CPROF_LIVE", live, 1);
    char *log = NULL;
    if (quiet_output) {
        const char *base = strrchr(argv[0], '/');
        log = cprof_xasprintf("%s/%s.top.log", dir, base ? base + 1 : argv[0]);
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        cprof_error("top: fork: %s", strerror(errno));
        free(log);
        return -1;
    }
    if (pid == 0) {
        if (log) {
            int in = open("/dev/null", O_RDONLY);
            int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
            if (in >= 0)
                dup2(in, STDIN_FILENO);
            if (fd >= 0) {
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
            }
        }
        execvp(argv[0], argv);
        cprof_error("top: cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    free(log);
    return pid;
}

/* The final files of the program that ran as pid (PROG.PID.cprof in dir). */
static char **top_final_files(const char *dir, pid_t pid, size_t *count)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    char want[32];
    snprintf(want, sizeof want, ".%ld%s", (long)pid, CPROF_FILE_SUFFIX);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !top_has_suffix(e->d_name, want) ||
            top_has_suffix(e->d_name, TOP_LIVE_SUFFIX))
            continue;
        cprof_grow(&names, &cap, n + 1, sizeof(char *));
        names[n++] = cprof_xasprintf("%s/%s", dir, e->d_name);
    }
    if (d)
        closedir(d);
    *count = n;
    return names;
}

/* ---- the command ------------------------------------------------------ */

static int top_parse(int argc, char **argv, struct top_opts *o)
{
    static const struct option longopts[] = {
        {"interval", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'n'},
        {"iterations", required_argument, NULL, 'I'},
        {"pid", required_argument, NULL, 'p'},
        {"output", required_argument, NULL, 'o'},
        {"plain", no_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->interval = 1;
    o->dir = CMD_DEFAULT_DATA;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+d:n:o:h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'd':
            errno = 0;
            o->interval = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(o->interval >= 0.1) ||
                o->interval > 3600) {
                cprof_error("top: --interval wants seconds from 0.1 to 3600, not '%s'",
                            optarg);
                return -1;
            }
            break;
        case 'n':
        case 'I':
            if (cprof_parse_u64(optarg, c == 'n' ? &o->limit : &o->iterations) < 0) {
                cprof_error("top: %s wants a number, not '%s'",
                            c == 'n' ? "--limit" : "--iterations", optarg);
                return -1;
            }
            o->limit_given |= c == 'n';
            break;
        case 'p':
            if (cmd_id_arg("top", "pid", optarg, &o->pid) < 0)
                return -1;
            break;
        case 'o':
            o->dir = optarg;
            break;
        case 'P':
            o->plain = 1;
            break;
        case 'h':
            fputs(top_usage, stdout);
            return 1;
        default:
            cmd_bad_option("top", optopt, "dno", argv[optind - 1]);
            return -1;
        }
    }
    /* getopt stops at "--" (consumed) or at the first operand */
    int dashdash = optind > 1 && !strcmp(argv[optind - 1], "--");
    if (dashdash) {
        if (optind == argc) {
            cprof_error(
                "top: no program after -- (usage: cprof top -- PROGRAM [ARGS...])");
            return -1;
        }
        o->program = argv + optind;
        return 0;
    }
    if (optind < argc)
        o->path = argv[optind++];
    if (optind < argc && !strcmp(argv[optind], "--")) {
        cprof_error("top: give either PATH or -- PROGRAM, not both (-o DIR sets the "
                    "program's data directory)");
        return -1;
    }
    if (optind < argc) {
        cprof_error("top: one PATH only, not '%s' too (to run a program: cprof top -- "
                    "PROGRAM)",
                    argv[optind]);
        return -1;
    }
    return 0;
}

int cmd_top(int argc, char **argv)
{
    struct top_opts o;
    int r = top_parse(argc, argv, &o);
    if (r)
        return r > 0 ? CPROF_EXIT_OK : CPROF_EXIT_USAGE;

    int terminal = !o.plain && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
    char dir[PATH_MAX];
    pid_t child = 0;
    int child_status = 0, child_done = 0;
    const char *path = o.path ? o.path : CMD_DEFAULT_DATA;
    if (o.program) {
        if (mkdir(o.dir, 0777) < 0 && errno != EEXIST) {
            cprof_error("top: cannot make %s: %s", o.dir, strerror(errno));
            return CPROF_EXIT_DATA;
        }
        if (!realpath(o.dir, dir)) {
            cprof_error("top: %s: %s", o.dir, strerror(errno));
            return CPROF_EXIT_DATA;
        }
        child = top_start(o.program, dir, o.interval, terminal);
        if (child < 0)
            return CPROF_EXIT_DATA;
        o.pid = (uint64_t)child;
        path = dir;
        signal(SIGINT, SIG_IGN); /* the terminal's ^C is the program's; q quits top */
        signal(SIGQUIT, SIG_IGN);
    } else {
        struct stat st;
        if (stat(path, &st) != 0) {
            cprof_error("top: %s: %s (run a program with CPROF_LIVE=1, or cprof top -- "
                        "PROGRAM)",
                        path, strerror(errno));
            return CPROF_EXIT_DATA;
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = top_on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    if (terminal) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = top_on_signal;
        sigaction(SIGWINCH, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        top_terminal_begin();
    }

    struct sym_cache *syms = sym_cache_new();
    struct top_snap cur = {0}, prev = {0};
    uint64_t stamp = 0, shown = 0, iter = 0;
    int have = 0, status = CPROF_EXIT_OK, ended = 0;
    double read_at = 0, prev_elapsed = 0, interval_ns = 0;
    char notice[600] = "";
    char state[160] = "running";
    char **last_names = NULL; /* the live files of the last snapshot read */
    size_t nlast = 0;
    int fixed_file = 0;
    {
        struct stat st;
        fixed_file = !o.program && stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
    }
    for (;;) {
        if (child && !child_done) {
            pid_t w = waitpid(child, &child_status, WNOHANG);
            if (w == child)
                child_done = 1;
        }
        /* read the snapshots when there are new ones */
        size_t n = 0;
        char **names = NULL;
        int final = 0;
        if (ended) {
            /* the final figures are shown: only redraw */
        } else if (child_done) {
            names = top_final_files(dir, child, &n);
            final = 1;
        } else {
            names = top_list(path, o.pid, &n);
            if (fixed_file && !top_has_suffix(path, TOP_LIVE_SUFFIX))
                final = 1; /* a finished run's file: shown once, as it ends */
            if (fixed_file && n == 1 && access(names[0], F_OK) != 0) {
                top_free_list(names, n);
                names = NULL;
                n = 0;
            }
            if (!n && nlast) {
                /* the processes ended: their final files replace the live ones */
                names = cprof_xcalloc(nlast, sizeof(char *));
                for (size_t i = 0; i < nlast; i++) {
                    size_t len = strlen(last_names[i]);
                    if (top_has_suffix(last_names[i], TOP_LIVE_SUFFIX))
                        len -= strlen(TOP_LIVE_SUFFIX);
                    else
                        len -= strlen(CPROF_FILE_SUFFIX);
                    names[i] = cprof_xasprintf("%.*s%s", (int)len, last_names[i],
                                               CPROF_FILE_SUFFIX);
                }
                n = nlast;
                final = 1;
            }
        }
        uint64_t now_stamp = top_stamp(names, n);
        int fresh = 0;
        if (!ended && n && (now_stamp != stamp || final)) {
            struct model m;
            char err[600];
            if (top_load(&m, names, n, o.pid, err, sizeof err) == 0) {
                top_snap_free(&prev);
                prev = cur;
                memset(&cur, 0, sizeof cur);
                top_snap_build(&cur, &m, syms, &prev);
                interval_ns =
                    prev.nfns || prev.elapsed_ns > 0 ? cur.elapsed_ns - prev_elapsed : 0;
                if (interval_ns < 0)
                    interval_ns = 0;
                prev_elapsed = cur.elapsed_ns;
                have = fresh = 1;
                stamp = now_stamp;
                if (!final) {
                    top_free_list(last_names, nlast);
                    last_names = cprof_xcalloc(n, sizeof(char *));
                    for (size_t i = 0; i < n; i++)
                        last_names[i] = cprof_xstrdup(names[i]);
                    nlast = n;
                }
                read_at = top_now();
                notice[0] = 0;
            } else if (err[0]) {
                snprintf(notice, sizeof notice, "cannot read %s", err);
            }
            model_free(&m);
        }
        top_free_list(names, n);
        if (!ended && fixed_file && !have && !n) {
            snprintf(notice, sizeof notice, "%s is gone and no final file is there",
                     path);
            ended = 1;
        }
        if (!ended && (final || (child_done && !n))) {
            ended = 1;
            if (child)
                snprintf(state, sizeof state, "ended: %s %d",
                         WIFEXITED(child_status) ? "exit status" : "killed by signal",
                         WIFEXITED(child_status) ? WEXITSTATUS(child_status)
                                                 : WTERMSIG(child_status));
            else
                snprintf(state, sizeof state, "ended");
            if (!n)
                snprintf(notice, sizeof notice,
                         "the program wrote no profile: was it built with cprof-cc?");
        }

        /* show */
        if (terminal) {
            size_t rows, cols;
            top_terminal_size(&rows, &cols);
            top_resized = 0;
            fputs("\033[H", stdout);
            if (have) {
                struct top_view v = {
                    .state = state,
                    .notice = notice[0] ? notice : NULL,
                    .interval_ns = interval_ns,
                    .age_s = top_now() - read_at,
                    .rows = o.limit_given && o.limit ? (size_t)o.limit
                                                     : (rows > 8 ? rows - 7 : 1),
                    .width = cols,
                    .terminal = 1,
                };
                top_show(stdout, &cur, &v);
            } else {
                top_line(stdout, cols, 1,
                         "cprof top - waiting for a running program in %s", path);
                top_line(
                    stdout, cols, 1,
                    "(a program built with cprof-cc, run with CPROF_LIVE=1 in summary "
                    "mode, or cprof top -- PROGRAM)   q quits");
                if (notice[0])
                    top_line(stdout, cols, 1, "%s", notice);
            }
            fputs("\033[J", stdout);
            fflush(stdout);
        } else if (fresh || (ended && !have)) {
            time_t t = time(NULL);
            char when[32];
            strftime(when, sizeof when, "%H:%M:%S", localtime(&t));
            printf("%s== %s\n", shown ? "\n" : "", when);
            if (have) {
                struct top_view v = {
                    .state = state,
                    .notice = notice[0] ? notice : NULL,
                    .interval_ns = interval_ns,
                    .rows = o.limit_given ? (o.limit ? (size_t)o.limit : SIZE_MAX)
                                          : TOP_PLAIN_ROWS,
                };
                top_show(stdout, &cur, &v);
            } else {
                printf("%s\n", notice);
            }
            fflush(stdout);
            shown++;
        } else if (!have && !shown) {
            printf(
                "cprof top: waiting for a running program in %s (one built with cprof-cc "
                "and run with CPROF_LIVE=1, or cprof top -- PROGRAM)\n",
                path);
            fflush(stdout);
            shown++;
        }
        if (ferror(stdout)) {
            status = CPROF_EXIT_DATA;
            break;
        }
        if (top_quit || (o.iterations && ++iter >= o.iterations))
            break;
        if (ended && !terminal)
            break;
        int key = top_wait(ended ? 3600 : o.interval, terminal);
        if (key == 'q' || key == 'Q' || top_quit)
            break;
    }
    if (terminal)
        top_terminal_end();
    if (terminal && have) { /* leave the last view in the scrollback */
        struct top_view v = {.state = state,
                             .notice = notice[0] ? notice : NULL,
                             .interval_ns = interval_ns,
                             .rows = 10};
        top_show(stdout, &cur, &v);
    }
    top_snap_free(&cur);
    top_snap_free(&prev);
    top_free_list(last_names, nlast);
    sym_cache_free(syms);
    if (child) {
        if (!child_done) {
            fprintf(stderr, "cprof: top: %s goes on running (pid %ld)\n", o.program[0],
                    (long)child);
            return status;
        }
        if (status != CPROF_EXIT_OK)
            return status;
        return WIFEXITED(child_status) ? WEXITSTATUS(child_status)
                                       : 128 + WTERMSIG(child_status);
    }
    return status;
}

const char *const cmd_top_help = top_usage;
