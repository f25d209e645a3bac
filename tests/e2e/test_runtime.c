/*
 * The runtime inside real programs: crashes, signals, exit from depth, exec
 * and failed exec, safe file creation, bad configuration, quietness. Each
 * test builds a small program with clang -finstrument-functions against the
 * built runtime, runs it, and reads the file it wrote with msgpack-c (an
 * independent decoder), checking the exact totals the runtime recorded and
 * that the program behaved exactly as it does without cprof.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e_mp.h"
#include "e2e_util.h"

/* What one .cprof file holds, as far as these tests look. */
struct rt_file {
    char mode[16];
    int warnings;        /* entries of config_warnings */
    char end_reason[16]; /* "" when there is no end record */
    int end_signal;
    int ends;
    long enters, closed_at_end, repaired, unmatched;
    int threads;
};

static void read_header(const msgpack_object *header, void *ctx)
{
    struct rt_file *f = ctx;
    e2e_mp_copy_str(f->mode, sizeof f->mode, e2e_mp_get(header, "mode"));
    const msgpack_object *warnings = e2e_mp_get(header, "config_warnings");
    cr_assert(!warnings || warnings->type == MSGPACK_OBJECT_ARRAY,
              "config_warnings is not an array");
    f->warnings = warnings ? (int)warnings->via.array.size : 0;
}

static void read_record(const msgpack_object *record, void *ctx)
{
    struct rt_file *f = ctx;
    uint64_t type = e2e_mp_uint_at(record, 0);
    f->threads += type == E2E_MP_THREAD;
    const msgpack_object *stats = e2e_mp_stats(record);
    if (!stats)
        return;
    f->enters += e2e_mp_get_uint(stats, "enters");
    f->closed_at_end += e2e_mp_get_uint(stats, "closed_at_end");
    f->repaired += e2e_mp_get_uint(stats, "repaired_longjmp");
    f->unmatched += e2e_mp_get_uint(stats, "unmatched_exits");
    if (type == E2E_MP_END) {
        f->ends++;
        e2e_mp_copy_str(f->end_reason, sizeof f->end_reason, e2e_mp_get(stats, "reason"));
        f->end_signal = (int)e2e_mp_get_uint(stats, "signal");
    }
}

static void read_rt_file(const char *path, struct rt_file *f)
{
    memset(f, 0, sizeof *f);
    e2e_mp_read_file(path, read_header, read_record, f);
}

struct rt_case {
    char *dir;
    char prog[512];
    char data[512];
};

/* Writes src to <dir>/prog.c and builds <dir>/prog (instrumented, or plain
 * when plain is set). */
static void build(struct rt_case *c, const char *src, int plain)
{
    if (!c->dir) {
        c->dir = e2e_make_temp_dir(NULL, "cprof-rt");
        cr_assert(c->dir);
    }
    char path[600], cmd[2048];
    snprintf(path, sizeof path, "%s/prog.c", c->dir);
    cr_assert_eq(e2e_write_file(path, src), 0, "cannot write %s", path);
    snprintf(c->prog, sizeof c->prog, "%s/%s", c->dir, plain ? "plain" : "prog");
    snprintf(c->data, sizeof c->data, "%s/data", c->dir);
    if (plain)
        snprintf(cmd, sizeof cmd, "clang -O1 -o %s %s -lpthread", c->prog, path);
    else
        snprintf(cmd, sizeof cmd,
                 "clang -O1 -finstrument-functions -o %s %s -lpthread -L%s/lib/cprof "
                 "-Wl,-rpath,%s/lib/cprof -lcprof-rt",
                 c->prog, path, CPROF_BINARY_DIR, CPROF_BINARY_DIR);
    cr_assert_eq(system(cmd), 0, "cannot build: %s", cmd);
}

static void run(struct rt_case *c, const char *arg, char *const extra_env[],
                struct e2e_result *res)
{
    char env_dir[600];
    snprintf(env_dir, sizeof env_dir, "CPROF_DIR=%s", c->data);
    char *env[8] = {env_dir};
    for (int i = 0; extra_env && extra_env[i] && i < 6; i++)
        env[i + 1] = extra_env[i];
    char *argv[] = {c->prog, (char *)arg, NULL};
    char *unset[] = {"CPROF_MODE", "CPROF_VERBOSE", NULL};
    cr_assert_eq(e2e_run(c->dir, argv, env, unset, 60, res), 0);
}

#define PATH_SIZE 700

/* For e2e_each_file: keeps the path in ctx, a char[PATH_SIZE]. */
static void keep_path(const char *path, void *ctx)
{
    snprintf(ctx, PATH_SIZE, "%s", path);
}

/* The one file the run wrote. */
static void the_file(struct rt_case *c, struct rt_file *f)
{
    char path[PATH_SIZE] = "";
    int n = e2e_each_file(c->data, ".cprof", keep_path, path);
    cr_assert_eq(n, 1, "expected one data file in %s, found %d", c->data, n < 0 ? 0 : n);
    read_rt_file(path, f);
}

static void done(struct rt_case *c)
{
    e2e_remove_tree(c->dir);
    free(c->dir);
}

static const char crash_src[] =
    "#include <signal.h>\n#include <stdlib.h>\n#include <string.h>\n"
    "void f(void) {}\n"
    "__attribute__((noinline)) void segv(void) { volatile int *p = 0; *p = 1; }\n"
    "int main(int argc, char **argv) {\n"
    "    f(); f(); f();\n"
    "    if (!strcmp(argv[1], \"segv\")) segv();\n"
    "    if (!strcmp(argv[1], \"abort\")) abort();\n"
    "    if (!strcmp(argv[1], \"term\")) raise(SIGTERM);\n"
    "    if (!strcmp(argv[1], \"fpe\")) /* a real division fault, not raise() */\n"
    "        __asm__ volatile(\"xorl %%ecx, %%ecx; movl $1, %%eax; cltd; idivl %%ecx\"\n"
    "                         ::: \"eax\", \"ecx\", \"edx\");\n"
    "    return 0; }\n";

static void crash_case(const char *how, int sig, long enters)
{
    struct rt_case c = {0};
    build(&c, crash_src, 0);
    struct e2e_result res;
    run(&c, how, NULL, &res);
    cr_assert(WIFSIGNALED(res.status) && WTERMSIG(res.status) == sig,
              "%s: the program must die by signal %d as without cprof", how, sig);
    struct rt_file f;
    the_file(&c, &f);
    cr_assert_str_eq(f.end_reason, "signal");
    cr_assert_eq(f.end_signal, sig);
    cr_assert_eq(f.enters, enters, "%s: %ld calls recorded, expected %ld", how, f.enters,
                 enters);
    cr_assert_geq(f.closed_at_end, 1, "main was open when the signal came");
    e2e_result_free(&res);
    done(&c);
}

Test(runtime, segv_keeps_data_and_dies_the_same_way)
{
    crash_case("segv", SIGSEGV, 5); /* main, f x3, segv */
}

Test(runtime, abort_keeps_data_and_dies_the_same_way)
{
    crash_case("abort", SIGABRT, 4);
}

Test(runtime, sigterm_keeps_data_and_dies_the_same_way)
{
    crash_case("term", SIGTERM, 4);
}

Test(runtime, sigfpe_keeps_data_and_dies_the_same_way)
{
    crash_case("fpe", SIGFPE, 4);
}

Test(runtime, exit_from_depth_keeps_status_and_closes_frames)
{
    struct rt_case c = {0};
    build(&c,
          "#include <stdlib.h>\n"
          "void d3(void) { exit(42); }\n void d2(void) { d3(); }\n void d1(void) { d2(); "
          "}\n"
          "int main(void) { d1(); return 0; }\n",
          0);
    struct e2e_result res;
    run(&c, "x", NULL, &res);
    cr_assert(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 42);
    struct rt_file f;
    the_file(&c, &f);
    cr_assert_str_eq(f.end_reason, "exit");
    cr_assert_eq(f.enters, 4);
    cr_assert_eq(f.closed_at_end, 4, "main, d1, d2, d3 are closed at exit");
    e2e_result_free(&res);
    done(&c);
}

Test(runtime, exec_writes_the_data_before_the_new_program)
{
    struct rt_case c = {0};
    build(&c,
          "#include <unistd.h>\n void f(void) {}\n"
          "int main(void) { f(); f(); execl(\"/bin/true\", \"true\", (char *)0); return "
          "9; }\n",
          0);
    struct e2e_result res;
    run(&c, "x", NULL, &res);
    cr_assert(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0, "/bin/true ran");
    struct rt_file f;
    the_file(&c, &f);
    cr_assert_str_eq(f.end_reason, "exec");
    cr_assert_eq(f.enters, 3);
    e2e_result_free(&res);
    done(&c);
}

Test(runtime, failed_exec_is_rolled_back_and_recording_goes_on)
{
    struct rt_case c = {0};
    build(&c,
          "#include <unistd.h>\n void f(void) {}\n"
          "int main(void) { f(); execl(\"/nonexistent/x\", \"x\", (char *)0);\n"
          "    execlp(\"no-such-command-cprof\", \"x\", (char *)0); f(); return 3; }\n",
          0);
    struct e2e_result res;
    run(&c, "x", NULL, &res);
    cr_assert(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 3);
    struct rt_file f;
    the_file(&c, &f);
    cr_assert_eq(f.ends, 1, "one end record, not one per exec attempt");
    cr_assert_str_eq(f.end_reason, "exit");
    cr_assert_eq(f.enters, 3, "main and f twice, each counted once");
    e2e_result_free(&res);
    done(&c);
}

Test(runtime, bad_configuration_is_a_warning_in_the_file)
{
    struct rt_case c = {0};
    build(&c, "void f(void) {}\nint main(void) { f(); return 0; }\n", 0);
    struct e2e_result res;
    char *env[] = {"CPROF_MODE=fast", "CPROF_MAX_DEPTH=12abc", NULL};
    run(&c, "x", env, &res);
    cr_assert(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0);
    cr_assert_eq(res.out_len + res.err_len, 0,
                 "nothing printed into the program's output");
    struct rt_file f;
    the_file(&c, &f);
    cr_assert_str_eq(f.mode, "summary");
    cr_assert_eq(f.warnings, 2);
    cr_assert_eq(f.enters, 2);
    e2e_result_free(&res);
    done(&c);
}

Test(runtime, output_directory_is_fixed_at_start)
{
    struct rt_case c = {0};
    build(&c,
          "#include <unistd.h>\n void f(void) {}\n"
          "int main(void) { f(); if (chdir(\"/\")) return 1; f(); return 0; }\n",
          0);
    struct e2e_result res;
    char *argv[] = {c.prog, NULL};
    char *env[] = {"CPROF_DIR=rel-data", NULL};
    cr_assert_eq(e2e_run(c.dir, argv, env, NULL, 60, &res), 0);
    cr_assert(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0);
    char rel[700];
    snprintf(rel, sizeof rel, "%s/rel-data", c.dir);
    cr_assert_eq(e2e_count_files(rel, ".cprof"), 1,
                 "the file is under the start directory");
    e2e_result_free(&res);
    done(&c);
}

/* An attacker's symlink with the very name the program will use must not be
 * followed: the runtime picks another name and the target stays untouched. */
Test(runtime, never_follows_a_planted_symlink)
{
    struct rt_case c = {0};
    build(&c, "void f(void) {}\nint main(void) { f(); return 0; }\n", 0);
    mkdir(c.data, 0777);
    char victim[700];
    snprintf(victim, sizeof victim, "%s/victim", c.dir);
    FILE *v = fopen(victim, "w");
    fputs("precious\n", v);
    fclose(v);
    pid_t pid = fork();
    if (pid == 0) {
        char link[800];
        snprintf(link, sizeof link, "%s/prog.%d.cprof", c.data, (int)getpid());
        if (symlink(victim, link) != 0)
            _exit(100);
        setenv("CPROF_DIR", c.data, 1);
        execl(c.prog, c.prog, (char *)NULL);
        _exit(101);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *text = e2e_read_file(victim, NULL);
    cr_assert_str_eq(text, "precious\n", "the symlink's target was written to");
    free(text);
    cr_assert_eq(e2e_count_files(c.data, ".cprof"), 2,
                 "the symlink and a file of its own");
    done(&c);
}

/* Same output, same status, with and without cprof, in every mode. */
Test(runtime, program_behaves_exactly_as_without_cprof)
{
    static const char src[] =
        "#include <stdio.h>\n#include <pthread.h>\n"
        "int sq(int x) { return x * x; }\n"
        "void *w(void *a) { long s = 0; for (int i = 0; i < 1000; i++) s += sq(i);\n"
        "    return (void *)s; }\n"
        "int main(void) { pthread_t t[3]; void *r; long s = 0;\n"
        "    for (int i = 0; i < 3; i++) pthread_create(&t[i], 0, w, 0);\n"
        "    for (int i = 0; i < 3; i++) { pthread_join(t[i], &r); s += (long)r; }\n"
        "    printf(\"%ld\\n\", s); fprintf(stderr, \"done\\n\"); return 7; }\n";
    struct rt_case plain = {0}, c = {0};
    build(&plain, src, 1);
    build(&c, src, 0);
    struct e2e_result want;
    run(&plain, "x", NULL, &want);
    const char *modes[] = {"CPROF_MODE=summary", "CPROF_MODE=trace", "CPROF_MODE=count"};
    for (int m = 0; m < 3; m++) {
        struct e2e_result got;
        char *env[] = {(char *)modes[m], NULL};
        e2e_remove_tree(c.data);
        run(&c, "x", env, &got);
        cr_assert_eq(got.status, want.status, "%s: exit status differs", modes[m]);
        cr_assert_str_eq(got.out, want.out, "%s: stdout differs", modes[m]);
        cr_assert_str_eq(got.err, want.err, "%s: stderr differs", modes[m]);
        struct rt_file f;
        the_file(&c, &f);
        cr_assert_eq(f.threads, 4, "%s: all four threads are in the file", modes[m]);
        if (m != 1)
            cr_assert_eq(f.enters, 1 + 3 * 1001, "%s", modes[m]);
        e2e_result_free(&got);
    }
    e2e_result_free(&want);
    done(&plain);
    done(&c);
}
