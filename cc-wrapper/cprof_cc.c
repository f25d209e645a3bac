/*
 * cprof-cc: a drop-in for cc. It runs clang (or $CPROF_CC) with the user's
 * arguments unchanged and in order, adding -finstrument-functions (and line
 * tables when the user chose no debug info) in front when sources are
 * compiled, and the cprof runtime behind when the command links. Its own
 * options start with --cprof- and never reach the compiler. The runtime is
 * found relative to this executable (../lib/cprof), in the build tree and
 * in an installed tree alike; so is the line pass plugin, which it loads
 * into clang (-fpass-plugin) for the functions --cprof-lines or
 * $CPROF_LINES select.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cc_args.h"
#include "cprof_lines.h"
#include "cprof_wrap.h"

/* ",--wrap=NAME": CPROF_WRAPPED(CC_WRAP_OPTION) after "-Wl" is the linker
 * option for the static runtime's list. */
#define CC_WRAP_OPTION(name) ",--wrap=" #name

#define CC_GUARD_ENV "CPROF_CC_RUNNING"
#define CC_RT_LIB "libcprof-rt"
#define CC_LINES_PLUGIN "cprof-lines-pass.so"
#define CC_LINES_ENV "CPROF_LINES"
#define CC_LLVM_MAJOR 14

static const char cc_help[] =
    "usage: cprof-cc [--cprof-OPTION...] [compiler arguments...]\n"
    "\n"
    "A drop-in for cc that builds programs profiled by cprof. Every argument\n"
    "reaches the compiler unchanged and in order; cprof-cc adds\n"
    "-finstrument-functions (and -gline-tables-only when no -g option was given)\n"
    "when it compiles, and links the cprof runtime when it links.\n"
    "\n"
    "  --cprof-help            this help\n"
    "  --cprof-verbose         print the compiler command on stderr before running it\n"
    "  --cprof-no-instrument   run the compiler with the arguments only (no cprof)\n"
    "  --cprof-runtime=KIND    link the runtime shared (default) or static\n"
    "  --cprof-lines=GLOB[,GLOB...]\n"
    "                          count and time each source line of the functions\n"
    "                          whose names match a shell glob (may repeat)\n"
    "\n"
    "Environment: CPROF_CC names the compiler (default clang, else clang-14);\n"
    "CPROF_LINES=GLOB[,GLOB...] is like --cprof-lines.\n"
    "The compiler's own options: clang --help. Documentation: docs/cprof-cc.md.\n";

struct cc_opts {
    int verbose;
    int no_instrument;
    int static_runtime;
    char *lines; /* the --cprof-lines globs, comma-separated, or NULL */
};

static void cc_die(const char *fmt, const char *arg)
{
    fputs("cprof-cc: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

/* Appends the comma-separated globs in more to o->lines; empty globs (as in
 * "a,,b" or a trailing comma) are dropped. */
static void cc_add_lines(struct cc_opts *o, const char *more)
{
    size_t had = o->lines ? strlen(o->lines) : 0;
    char *grown = realloc(o->lines, had + strlen(more) + 2);
    if (!grown)
        cc_die("%s", "out of memory");
    o->lines = grown;
    char *end = grown + had;
    *end = 0;
    while (*more) {
        size_t n = strcspn(more, ",");
        if (n > 0) {
            if (end != grown)
                *end++ = ',';
            memcpy(end, more, n);
            end += n;
            *end = 0;
        }
        more += n + (more[n] == ',');
    }
    if (!*grown) {
        free(grown);
        o->lines = NULL;
    }
}

/* Takes the --cprof-* options out of argv (in place); returns the count
 * left. */
static int cc_own_options(int argc, char **argv, struct cc_opts *o)
{
    int kept = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--cprof-", 8) != 0) {
            argv[kept++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--cprof-help")) {
            fputs(cc_help, stdout);
            exit(0);
        } else if (!strcmp(a, "--cprof-verbose")) {
            o->verbose = 1;
        } else if (!strcmp(a, "--cprof-no-instrument")) {
            o->no_instrument = 1;
        } else if (!strcmp(a, "--cprof-runtime=shared")) {
            o->static_runtime = 0;
        } else if (!strcmp(a, "--cprof-runtime=static")) {
            o->static_runtime = 1;
        } else if (!strncmp(a, "--cprof-lines=", 14) &&
                   strspn(a + 14, ",") < strlen(a + 14)) {
            cc_add_lines(o, a + 14);
        } else if (!strncmp(a, "--cprof-lines", 13)) {
            cc_die("%s: give the functions as --cprof-lines=GLOB[,GLOB...]", a);
        } else {
            cc_die("unknown option %s (cprof-cc --cprof-help lists them)", a);
        }
    }
    argv[kept] = NULL;
    return kept;
}

/* The full path of an executable found in PATH (or name itself when it
 * has a slash), in buf; NULL when there is none. */
static const char *cc_which(const char *name, char *buf, size_t len)
{
    if (strchr(name, '/'))
        return access(name, X_OK) == 0 ? name : NULL;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && (size_t)snprintf(buf, len, "%.*s/%s", (int)n, path, name) < len &&
            access(buf, X_OK) == 0)
            return buf;
        path += n + (path[n] == ':');
    }
    return NULL;
}

/* The compiler to run: $CPROF_CC, else clang, else clang-14. Refuses one
 * that is this program again. */
static const char *cc_compiler(void)
{
    static char found[PATH_MAX];
    const char *cc = getenv("CPROF_CC");
    if (cc && !*cc)
        cc = NULL;
    if (!cc)
        cc = cc_which("clang", found, sizeof found) ? "clang" : "clang-14";
    char self[PATH_MAX], target[PATH_MAX];
    const char *path = cc_which(cc, found, sizeof found);
    if (path && realpath(path, target) && realpath("/proc/self/exe", self) &&
        !strcmp(self, target))
        cc_die("CPROF_CC=%s is cprof-cc itself: set it to a clang", cc);
    return cc;
}

/* The directory of the runtime and the line pass plugin: ../lib/cprof
 * from this executable. */
static void cc_lib_dir(char *dir, size_t len)
{
    char self[PATH_MAX];
    if (!realpath("/proc/self/exe", self))
        cc_die("cannot find where cprof-cc is installed: %s", strerror(errno));
    *strrchr(self, '/') = 0;
    char guess[PATH_MAX + 16];
    snprintf(guess, sizeof guess, "%s/../lib/cprof", self);
    if (!realpath(guess, dir) || strlen(dir) >= len)
        snprintf(dir, len, "%.*s", (int)len - 1, guess);
}

/* The runtime's directory, after checking the runtime is there. */
static void cc_runtime_dir(char *dir, size_t len, int want_static)
{
    char lib[PATH_MAX + 32];
    cc_lib_dir(dir, len);
    snprintf(lib, sizeof lib, "%s/%s%s", dir, CC_RT_LIB, want_static ? ".a" : ".so");
    if (access(lib, R_OK) != 0)
        cc_die("the cprof runtime is missing: %s (cprof-cc looks for it in ../lib/cprof "
               "beside itself)",
               lib);
}

/* The major version of clang cc (from the "clang version N.M" of its
 * --version), -1 when it is not clang, 0 when it cannot be run. */
static int cc_llvm_major(const char *cc)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 0;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (!freopen("/dev/null", "w", stderr))
            _exit(127);
        execlp(cc, cc, "--version", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char out[512] = "";
    size_t got = 0;
    ssize_t r;
    while (pid > 0 && got < sizeof out - 1 &&
           (r = read(fds[0], out + got, sizeof out - 1 - got)) != 0)
        if (r > 0)
            got += (size_t)r;
        else if (errno != EINTR)
            break;
    out[got] = 0;
    close(fds[0]);
    int status;
    if (pid > 0)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            continue;
    const char *version = strstr(out, "clang version ");
    return version ? atoi(version + 14) : got > 0 ? -1 : 0;
}

/* The line pass plugin's path, in buf, after checking that it is there and
 * that cc is the clang it was built for. */
static void cc_lines_plugin(const char *cc, char *buf, size_t len)
{
    char dir[PATH_MAX];
    cc_lib_dir(dir, sizeof dir);
    snprintf(buf, len, "%s/%s", dir, CC_LINES_PLUGIN);
    if (access(buf, R_OK) != 0)
        cc_die("--cprof-lines: the line pass plugin is missing: %s (cprof-cc looks for "
               "it in ../lib/cprof beside itself; it is built when LLVM 14's "
               "development files are installed)",
               buf);
    int major = cc_llvm_major(cc);
    if (major != CC_LLVM_MAJOR && major != 0) { /* 0: exec reports it */
        char got[64];
        snprintf(got, sizeof got,
                 major > 0   ? "clang %d"
                 : major < 0 ? "not clang"
                             : "of unknown version",
                 major);
        fprintf(stderr,
                "cprof-cc: --cprof-lines: the line pass plugin is built for clang %d "
                "(LLVM %d), but %s is %s: set CPROF_CC to clang-%d\n",
                CC_LLVM_MAJOR, CC_LLVM_MAJOR, cc, got, CC_LLVM_MAJOR);
        exit(1);
    }
}

static void cc_print_command(const char *lines, char **argv)
{
    fputs("cprof-cc:", stderr);
    if (lines)
        fprintf(stderr, " %s='%s'", CPROF_LINES_PASS_ENV, lines);
    for (char **a = argv; *a; a++) {
        if (**a && !strpbrk(*a, " \t\n'\"\\$`*?[]{}()<>|&;#~")) {
            fprintf(stderr, " %s", *a);
            continue;
        }
        fputs(" '", stderr);
        for (const char *c = *a; *c; c++)
            fputs(*c == '\'' ? "'\\''" : (char[]){*c, 0}, stderr);
        fputc('\'', stderr);
    }
    fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    struct cc_opts opts = {0};
    int nuser = cc_own_options(argc - 1, argv + 1, &opts);
    if (getenv(CC_LINES_ENV))
        cc_add_lines(&opts, getenv(CC_LINES_ENV));
    char **user = argv + 1;
    if (getenv(CC_GUARD_ENV))
        cc_die("%s: the compiler ran cprof-cc again (does CPROF_CC point at a script "
               "that calls cprof-cc?)",
               getenv("CPROF_CC") ? getenv("CPROF_CC") : "clang");
    const char *cc = cc_compiler();
    setenv(CC_GUARD_ENV, "1", 1);

    struct cc_plan plan;
    cc_classify(nuser, user, &plan);
    if (plan.bad_response_file)
        cc_die("cannot read the response file %s", plan.bad_response_file);
    if (plan.version)
        printf("cprof-cc %s (cprof), running %s:\n", CPROF_VERSION, cc);
    if (plan.help)
        printf("%s\nThe compiler's help follows.\n\n", cc_help);
    fflush(stdout);

    int instrument = !opts.no_instrument && plan.compiles;
    int link_rt = !opts.no_instrument && plan.links;
    int static_rt = plan.is_static || opts.static_runtime;
    const char *lines = instrument ? opts.lines : NULL;
    char rt[PATH_MAX] = "", plugin[PATH_MAX + 64], plugin_opt[PATH_MAX + 96];
    if (link_rt)
        cc_runtime_dir(rt, sizeof rt, static_rt);
    if (lines) {
        /* the plugin registers with the new pass manager only: under the
         * legacy one clang would drop it without a word */
        int legacy = 0;
        for (int i = 0; i < nuser; i++) {
            if (!strcmp(user[i], "-flegacy-pass-manager"))
                legacy = 1;
            else if (!strcmp(user[i], "-fno-legacy-pass-manager"))
                legacy = 0;
        }
        if (legacy)
            cc_die("%s: line instrumentation (--cprof-lines, CPROF_LINES) needs clang's "
                   "new pass manager; remove it",
                   "-flegacy-pass-manager");
        cc_lines_plugin(cc, plugin, sizeof plugin);
        snprintf(plugin_opt, sizeof plugin_opt, "-fpass-plugin=%s", plugin);
        setenv(CPROF_LINES_PASS_ENV, lines, 1);
    }

    char **cmd = calloc((size_t)nuser + 32, sizeof(*cmd));
    char lib_dir[PATH_MAX + 8], rpath[PATH_MAX + 16], archive[PATH_MAX + 32];
    if (!cmd)
        cc_die("%s", "out of memory");
    int n = 0;
    cmd[n++] = (char *)cc;
    if (instrument) {
        cmd[n++] = "-finstrument-functions";
        if (!plan.has_g && plan.assembles) {
            /* the driver's -g would give the assembler's objects debug
             * info too; this reaches the C compiler only */
            cmd[n++] = "-Xclang";
            cmd[n++] = "-debug-info-kind=line-tables-only";
        } else if (!plan.has_g) {
            cmd[n++] = "-gline-tables-only";
        }
    }
    if (lines) {
        cmd[n++] = plugin_opt;
        /* Without lifetime markers clang emits the same blocks at every -O
         * level (with them, -O1 and up add scope-cleanup blocks), so line
         * hits are the same at -O0 and -O2. */
        cmd[n++] = "-Xclang";
        cmd[n++] = "-disable-lifetime-markers";
    }
    for (int i = 0; i < nuser; i++)
        cmd[n++] = user[i];
    if (link_rt && static_rt) {
        snprintf(archive, sizeof archive, "%s/%s.a", rt, CC_RT_LIB);
        /* the static runtime's ways out of the process (runtime/rt_exec.c) */
        cmd[n++] = "-Wl" CPROF_WRAPPED(CC_WRAP_OPTION);
        if (plan.lang_set) { /* the user's -x c would make the archive a source */
            cmd[n++] = "-x";
            cmd[n++] = "none";
        }
        cmd[n++] = "-Wl,--push-state,--whole-archive";
        cmd[n++] = archive;
        cmd[n++] = "-Wl,--pop-state";
        cmd[n++] = "-lpthread";
        cmd[n++] = "-ldl";
    } else if (link_rt) {
        snprintf(lib_dir, sizeof lib_dir, "-L%s", rt);
        snprintf(rpath, sizeof rpath, "-Wl,-rpath,%s", rt);
        cmd[n++] = lib_dir;
        cmd[n++] = rpath;
        cmd[n++] = "-Wl,--push-state,--no-as-needed,-Bdynamic";
        cmd[n++] = "-lcprof-rt";
        cmd[n++] = "-Wl,--pop-state";
    }
    cmd[n] = NULL;
    if (opts.verbose)
        cc_print_command(lines, cmd);
    execvp(cc, cmd);
    fprintf(stderr, "cprof-cc: cannot run %s: %s (set CPROF_CC to your clang)\n", cc,
            strerror(errno));
    return 127;
}
