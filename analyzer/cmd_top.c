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
 *
 * This file is the command: its options, the program it runs, and the loop
 * that waits, reads new snapshots and shows them. Reading the snapshots is
 * cmd_top_snap.c's, drawing them and the terminal's mode cmd_top_view.c's
 * (cmd_top.h).
 */
#define _GNU_SOURCE
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd_common.h"
#include "commands.h"
#include "cprof_format.h"
#include "model.h"
#include "sym.h"
#include "cmd_top.h"
#include "util.h"

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

/* ---- signals, and waiting for the next refresh ------------------------ */

static volatile sig_atomic_t top_quit, top_resized;

static void top_on_signal(int sig)
{
    if (sig == SIGWINCH)
        top_resized = 1;
    else
        top_quit = 1;
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
                /* a long path is cut to the notice's size, where snprintf
                 * would cut it, without -Wformat-truncation's warning */
                snprintf(notice, sizeof notice, "cannot read %.*s",
                         (int)(sizeof notice - sizeof "cannot read "), err);
            }
            model_free(&m);
        }
        top_free_list(names, n);
        if (!ended && fixed_file && !have && !n) {
            /* A long path is cut at the notice's size; checking the result
             * tells the compiler so (-Wformat-truncation). */
            if (snprintf(notice, sizeof notice, "%s is gone and no final file is there",
                         path) >= (int)sizeof notice)
                notice[sizeof notice - 1] = 0;
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
