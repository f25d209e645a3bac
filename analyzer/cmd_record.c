/*
 * `cprof record`: runs a program built with cprof-cc with the profiling
 * environment set (CPROF_DIR, CPROF_MODE, CPROF_CLOCK), waits for it, and
 * says which files it wrote. The program's exit status becomes cprof's.
 * With --start-off the program starts with recording off (CPROF_START);
 * with --toggle-signal SIG the program's runtime toggles recording on SIG
 * (CPROF_SIGNAL), and cprof record passes SIG on to the program when it
 * gets it itself, so that `kill -SIG` works on whichever pid is at hand.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_common.h"
#include "commands.h"
#include "cprof_format.h"
#include "util.h"

static const char record_usage[] =
    "usage: cprof record [-o DIR] [--mode summary|trace|count] [--clock tsc|monotonic]\n"
    "                    [--force | --append] [--start-off] [--toggle-signal SIG]\n"
    "                    [--cpu] -- PROGRAM [ARGS...]\n"
    "\n"
    "Runs PROGRAM (built with cprof-cc) with profiling on and prints where its\n"
    "data went; then `cprof report DIR` shows it.\n"
    "\n"
    "  -o, --output DIR  where the .cprof files go (default ./cprof.data)\n"
    "  -m, --mode M      summary (default): a calling-context tree per thread;\n"
    "                    trace: every call with its timestamps; count: calls only\n"
    "      --clock C     tsc (default where invariant) or monotonic\n"
    "      --force       replace the .cprof files DIR holds from an earlier run\n"
    "      --append      keep them: the next report merges both runs\n"
    "      --start-off   start with recording off (CPROF_START=off): nothing is\n"
    "                    recorded until the program calls cprof_start() or gets\n"
    "                    the toggle signal\n"
    "      --toggle-signal SIG\n"
    "                    the signal that toggles recording (CPROF_SIGNAL; USR2 by\n"
    "                    default, none: no signal): USR1, USR2, HUP, TERM, ALRM,\n"
    "                    WINCH (SIG prefix optional) or a number. cprof record\n"
    "                    passes SIG on to PROGRAM when it gets it itself\n"
    "      --cpu         record CPU time beside wall time (CPROF_CPU=1; summary\n"
    "                    mode): cprof report then shows cpu and wait columns\n"
    "\n"
    "Examples:\n"
    "  cprof record -- ./myprog input.txt           run it, data in ./cprof.data\n"
    "  cprof record -m trace -o run1 -- make test   every call of every process, in "
    "run1/\n"
    "  cprof record --start-off --toggle-signal USR1 -- ./server\n"
    "      record only between kill -USR1s\n"
    "\n"
    "Exit status: PROGRAM's (128+N if signal N killed it), 1 bad command line,\n"
    "2 DIR unusable, 127 PROGRAM could not be run.\n";

static int record_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the .cprof files in dir, NULL-terminated, sorted. */
static char **record_list(const char *dir, size_t *count)
{
    char **names = NULL;
    size_t cap = 0;
    *count = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name), k = strlen(CPROF_FILE_SUFFIX);
        if (e->d_name[0] == '.' || n <= k || strcmp(e->d_name + n - k, CPROF_FILE_SUFFIX))
            continue;
        cprof_grow(&names, &cap, *count + 2, sizeof(*names));
        names[(*count)++] = cprof_xstrdup(e->d_name);
    }
    if (d)
        closedir(d);
    cprof_grow(&names, &cap, *count + 1, sizeof(*names));
    names[*count] = NULL;
    qsort(names, *count, sizeof(*names), record_cmp);
    return names;
}

static int record_has(char **names, const char *name)
{
    for (; *names; names++)
        if (!strcmp(*names, name))
            return 1;
    return 0;
}

static void record_free_list(char **names)
{
    for (char **p = names; *p; p++)
        free(*p);
    free(names);
}

/* Makes dir (one level) and checks that earlier data in it is handled as
 * asked. Returns 0 or an exit status. */
static int record_prepare(const char *dir, int force, int append)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        cprof_error("record: cannot create %s: %s", dir, strerror(errno));
        return CPROF_EXIT_DATA;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cprof_error("record: %s is not a directory", dir);
        return CPROF_EXIT_DATA;
    }
    size_t count;
    char **old = record_list(dir, &count);
    int status = CPROF_EXIT_OK;
    if (count && !force && !append) {
        cprof_error(
            "record: %s already holds %zu .cprof file%s from an earlier run: pass "
            "--force to replace them, --append to add to them, or -o another DIR",
            dir, count, count == 1 ? "" : "s");
        status = CPROF_EXIT_USAGE;
    }
    for (size_t i = 0; force && i < count; i++) {
        char *path = cprof_xasprintf("%s/%s", dir, old[i]);
        if (unlink(path) != 0) {
            cprof_error("record: cannot remove %s: %s", path, strerror(errno));
            status = CPROF_EXIT_DATA;
        }
        free(path);
    }
    record_free_list(old);
    return status;
}

/* The signals --toggle-signal takes by name (the runtime's list; INT and
 * QUIT left out: the terminal sends them to the program already). */
static const struct {
    const char *name;
    int sig;
} record_signals[] = {
    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP},
    {"TERM", SIGTERM}, {"ALRM", SIGALRM}, {"WINCH", SIGWINCH},
};

/* The signal s names ("USR1", "SIGUSR1", "10"), 0 for "none", -1 for
 * anything else. */
static int record_signal(const char *s)
{
    if (!strcmp(s, "none"))
        return 0;
    if (*s >= '0' && *s <= '9') {
        char *end;
        long v = strtol(s, &end, 10);
        return *end || v < 1 || v >= NSIG || v == SIGKILL || v == SIGSTOP ||
                       v == SIGINT || v == SIGQUIT
                   ? -1
                   : (int)v;
    }
    if (!strncmp(s, "SIG", 3))
        s += 3;
    for (size_t i = 0; i < sizeof record_signals / sizeof *record_signals; i++)
        if (!strcmp(s, record_signals[i].name))
            return record_signals[i].sig;
    return -1;
}

/* The program, while it runs: where a toggle signal cprof record gets
 * goes (0: not started yet, the signal is dropped). */
static volatile sig_atomic_t record_child;

/* Signal handler: passes the toggle signal on to the program. */
static void record_forward(int sig)
{
    int saved = errno;
    if (record_child > 0)
        kill((pid_t)record_child, sig);
    errno = saved;
}

/* Whether a keeper of a process that ended still runs among our
 * children: its name is "cprofk<pid>" (runtime/rt_keeper.c), and it writes
 * the data of process pid after pid ended without writing it (kill -9). */
static int record_keeper_busy(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int busy = 0;
    while (!busy && d && (e = readdir(d))) {
        char path[300], line[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(line, 1, sizeof line - 1, f) : 0;
        if (f)
            fclose(f);
        line[n] = '\0';
        /* pid (comm) state ppid ... */
        char *open = strchr(line, '('), *close = strrchr(line, ')');
        long ppid = 0;
        if (!open || !close || close < open || strncmp(open + 1, "cprofk", 6) ||
            sscanf(close + 1, " %*c %ld", &ppid) != 1 || ppid != (long)getpid())
            continue;
        long program = strtol(open + 7, NULL, 10);
        busy = program > 0 && kill((pid_t)program, 0) != 0 && errno == ESRCH;
    }
    if (d)
        closedir(d);
    return busy;
}

/* As the processes' subreaper, cprof record becomes the parent of their
 * keepers: it waits (a minute at most) for those whose process ended, so
 * that the data of a killed process is there when it returns. */
static void record_wait_keepers(void)
{
    for (int i = 0; i < 6000; i++) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (!record_keeper_busy())
            return;
        usleep(10000);
    }
}

static int record_run(char **argv, int toggle_sig, int *status)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (toggle_sig > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = record_forward;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(toggle_sig, &sa, NULL);
    }
    /* The toggle signal waits until record_child is set: the program may
     * run, and be signalled through cprof record, before fork() has even
     * returned here. The program gets the signal mask as it was. */
    sigset_t toggle, before;
    sigemptyset(&toggle);
    if (toggle_sig > 0)
        sigaddset(&toggle, toggle_sig);
    sigprocmask(SIG_BLOCK, &toggle, &before);
    pid_t pid = fork();
    if (pid < 0) {
        sigprocmask(SIG_SETMASK, &before, NULL);
        cprof_error("record: fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &before, NULL);
        execvp(argv[0], argv);
        cprof_error("record: cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    /* the program owns the terminal's signals; cprof waits for it */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    record_child = pid;
    sigprocmask(SIG_SETMASK, &before, NULL);
    if (toggle_sig > 0) {
        char name[16];
        snprintf(name, sizeof name, "%d", toggle_sig);
        for (size_t i = 0; i < sizeof record_signals / sizeof *record_signals; i++)
            if (record_signals[i].sig == toggle_sig)
                snprintf(name, sizeof name, "%s", record_signals[i].name);
        fprintf(stderr,
                "cprof: recording toggles on signal %d (%s): kill -%s %ld (cprof record) "
                "or %ld (%s)\n",
                toggle_sig, strsignal(toggle_sig), name, (long)getpid(), (long)pid,
                argv[0]);
    }
    /* wait without reaping first: until the program is reaped its pid
     * cannot be reused, so a toggle signal arriving meanwhile is harmless */
    siginfo_t info;
    while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR)
        ;
    record_child = 0;
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR) {
            cprof_error("record: waitpid: %s", strerror(errno));
            return -1;
        }
    }
    record_wait_keepers();
    return 0;
}

int cmd_record(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"mode", required_argument, NULL, 'm'},
        {"clock", required_argument, NULL, 'c'},
        {"force", no_argument, NULL, 'F'},
        {"append", no_argument, NULL, 'A'},
        {"start-off", no_argument, NULL, 'S'},
        {"toggle-signal", required_argument, NULL, 'T'},
        {"cpu", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = "cprof.data", *mode = NULL, *clock = NULL;
    int force = 0, append = 0, start_off = 0, toggle_sig = -1, cpu = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+o:m:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            dir = optarg;
            break;
        case 'm':
            mode = optarg;
            if (strcmp(mode, "summary") && strcmp(mode, "trace") &&
                strcmp(mode, "count")) {
                cprof_error("record: unknown mode '%s' (summary, trace or count)", mode);
                return CPROF_EXIT_USAGE;
            }
            break;
        case 'c':
            clock = optarg;
            if (strcmp(clock, "tsc") && strcmp(clock, "monotonic")) {
                cprof_error("record: unknown clock '%s' (tsc or monotonic)", clock);
                return CPROF_EXIT_USAGE;
            }
            break;
        case 'F':
            force = 1;
            break;
        case 'A':
            append = 1;
            break;
        case 'S':
            start_off = 1;
            break;
        case 'C':
            cpu = 1;
            break;
        case 'T':
            toggle_sig = record_signal(optarg);
            if (toggle_sig < 0) {
                cprof_error("record: unknown toggle signal '%s' (USR1, USR2, HUP, TERM, "
                            "ALRM, WINCH, a number other than INT, QUIT, KILL and STOP, "
                            "or none)",
                            optarg);
                return CPROF_EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(record_usage, stdout);
            return CPROF_EXIT_OK;
        default:
            cmd_bad_option("record", optopt, "omcT", argv[optind - 1]);
            return CPROF_EXIT_USAGE;
        }
    }
    if (optind == argc) {
        cprof_error("record: no program to run (usage: cprof record [-o DIR] -- PROGRAM "
                    "[ARGS...])");
        return CPROF_EXIT_USAGE;
    }
    if (force && append) {
        cprof_error("record: --force and --append exclude each other");
        return CPROF_EXIT_USAGE;
    }
    if (cpu && mode && strcmp(mode, "summary")) {
        cprof_error("record: --cpu is for summary mode (CPU time is not recorded in %s "
                    "mode)",
                    mode);
        return CPROF_EXIT_USAGE;
    }
    int prep = record_prepare(dir, force, append);
    if (prep)
        return prep;
    char absdir[PATH_MAX];
    if (!realpath(dir, absdir)) {
        cprof_error("record: %s: %s", dir, strerror(errno));
        return CPROF_EXIT_DATA;
    }
    size_t before_count;
    char **before = record_list(absdir, &before_count);
    setenv("CPROF_DIR", absdir, 1);
    if (mode)
        setenv("CPROF_MODE", mode, 1);
    if (clock)
        setenv("CPROF_CLOCK", clock, 1);
    if (start_off)
        setenv("CPROF_START", "off", 1);
    if (cpu)
        setenv("CPROF_CPU", "1", 1);
    if (toggle_sig >= 0) {
        char num[16];
        snprintf(num, sizeof num, "%d", toggle_sig);
        setenv("CPROF_SIGNAL", toggle_sig ? num : "none", 1);
    }

    int wstatus = 0;
    if (record_run(argv + optind, toggle_sig, &wstatus) < 0) {
        record_free_list(before);
        return CPROF_EXIT_DATA;
    }
    size_t after_count;
    char **after = record_list(absdir, &after_count);
    size_t written = 0;
    for (size_t i = 0; i < after_count; i++) {
        if (record_has(before, after[i]))
            continue;
        fprintf(stderr, "cprof: wrote %s/%s\n", dir, after[i]);
        written++;
    }
    int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    if (written == 0 && WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        cprof_error(
            "record: %s was killed by SIGKILL before it could write its profile "
            "(its keeper writes it: was it disabled by CPROF_KEEPER=0, or could it "
            "not start?)",
            argv[optind]);
    else if (written == 0 && !(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 127))
        cprof_error("record: %s wrote no profile: was it built with cprof-cc?",
                    argv[optind]);
    else if (written)
        fprintf(stderr, "cprof: see the report with: cprof report %s\n", dir);
    if (WIFSIGNALED(wstatus))
        cprof_error("record: %s was killed by signal %d (%s)", argv[optind],
                    WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
    record_free_list(before);
    record_free_list(after);
    return code;
}

const char *const cmd_record_help = record_usage;
