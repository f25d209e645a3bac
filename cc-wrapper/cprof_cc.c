/*
 * cprof-cc: a drop-in for cc. It runs clang (or $CPROF_CC) with the user's
 * arguments unchanged and in order, adding -finstrument-functions (and line
 * tables when the user chose no debug info) in front when sources are
 * compiled, and the cprof runtime behind when the command links. Its own
 * options start with --cprof- and never reach the compiler. The runtime is
 * found relative to this executable (../lib/cprof), in the build tree and
 * in an installed tree alike.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cc_args.h"

#define CC_GUARD_ENV "CPROF_CC_RUNNING"
#define CC_RT_LIB "libcprof-rt"

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
    "\n"
    "Environment: CPROF_CC names the compiler (default clang, else clang-14).\n"
    "The compiler's own options: clang --help. Documentation: docs/cprof-cc.md.\n";

struct cc_opts {
    int verbose;
    int no_instrument;
    int static_runtime;
};

static void cc_die(const char *fmt, const char *arg)
{
    fputs("cprof-cc: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
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
        } else if (!strncmp(a, "--cprof-lines", 13)) {
            cc_die("%s: line-level instrumentation is not available yet", a);
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

/* The runtime's directory: ../lib/cprof from this executable. */
static void cc_runtime_dir(char *dir, size_t len, int want_static)
{
    char self[PATH_MAX];
    if (!realpath("/proc/self/exe", self))
        cc_die("cannot find where cprof-cc is installed: %s", strerror(errno));
    *strrchr(self, '/') = 0;
    char guess[PATH_MAX + 16], lib[PATH_MAX + 32];
    snprintf(guess, sizeof guess, "%s/../lib/cprof", self);
    if (!realpath(guess, dir) || strlen(dir) >= len)
        snprintf(dir, len, "%.*s", (int)len - 1, guess);
    snprintf(lib, sizeof lib, "%s/%s%s", dir, CC_RT_LIB, want_static ? ".a" : ".so");
    if (access(lib, R_OK) != 0)
        cc_die("the cprof runtime is missing: %s (cprof-cc looks for it in ../lib/cprof "
               "beside itself)",
               lib);
}

static void cc_print_command(char **argv)
{
    fputs("cprof-cc:", stderr);
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
    char **user = argv + 1;
    if (getenv(CC_GUARD_ENV))
        cc_die("%s: the compiler ran cprof-cc again (does CPROF_CC point at a script "
               "that calls cprof-cc?)",
               getenv("CPROF_CC") ? getenv("CPROF_CC") : "clang");
    const char *cc = cc_compiler();

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
    char rt[PATH_MAX] = "";
    if (link_rt)
        cc_runtime_dir(rt, sizeof rt, static_rt);

    char **cmd = calloc((size_t)nuser + 16, sizeof(*cmd));
    char lib_dir[PATH_MAX + 8], rpath[PATH_MAX + 16], archive[PATH_MAX + 32];
    if (!cmd)
        cc_die("%s", "out of memory");
    int n = 0;
    cmd[n++] = (char *)cc;
    if (instrument) {
        cmd[n++] = "-finstrument-functions";
        if (!plan.has_g)
            cmd[n++] = "-gline-tables-only";
    }
    for (int i = 0; i < nuser; i++)
        cmd[n++] = user[i];
    if (link_rt && static_rt) {
        snprintf(archive, sizeof archive, "%s/%s.a", rt, CC_RT_LIB);
        cmd[n++] = "-Wl,--whole-archive";
        cmd[n++] = archive;
        cmd[n++] = "-Wl,--no-whole-archive";
        cmd[n++] = "-lpthread";
        cmd[n++] = "-ldl";
    } else if (link_rt) {
        snprintf(lib_dir, sizeof lib_dir, "-L%s", rt);
        snprintf(rpath, sizeof rpath, "-Wl,-rpath,%s", rt);
        cmd[n++] = lib_dir;
        cmd[n++] = rpath;
        cmd[n++] = "-Wl,--push-state,--no-as-needed";
        cmd[n++] = "-lcprof-rt";
        cmd[n++] = "-Wl,--pop-state";
    }
    cmd[n] = NULL;
    if (opts.verbose)
        cc_print_command(cmd);
    setenv(CC_GUARD_ENV, "1", 1);
    execvp(cc, cmd);
    fprintf(stderr, "cprof-cc: cannot run %s: %s (set CPROF_CC to your clang)\n", cc,
            strerror(errno));
    return 127;
}
