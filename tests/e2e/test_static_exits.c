/*
 * The ways out of a process that skip exit(), in programs linked with the
 * static runtime (-static, or --cprof-runtime=static): cprof-cc links them
 * with -Wl,--wrap for _exit, _Exit, the exec family and daemon, so the data
 * is written first there too. Each case calls f() three times inside
 * nested calls, leaves, and the file must hold every call with the right
 * end reason, while the program's status and output stay its own.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e_scratch.h"

#define CC CPROF_BINARY_DIR "/bin/cprof-cc"
#define CPROF CPROF_BINARY_DIR "/bin/cprof"

TestSuite(static_exits, .init = e2e_scratch_init, .fini = e2e_scratch_fini,
          .timeout = 240);

static const char exits_src[] =
    "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <unistd.h>\n"
    "__attribute__((noinline)) void f(void) { }\n"
    "__attribute__((noinline)) void leave(const char *how) {\n"
    "    f(); f(); f();\n"
    "    if (!strcmp(how, \"_exit\")) _exit(7);\n"
    "    if (!strcmp(how, \"_Exit\")) _Exit(8);\n"
    "    if (!strcmp(how, \"execl\")) execl(\"/bin/sh\", \"sh\", \"-c\", \"exit 5\", "
    "(char *)0);\n"
    "    if (!strcmp(how, \"execvp\")) { char *a[] = {\"sh\", \"-c\", \"exit 6\", 0};\n"
    "        execvp(\"sh\", a); }\n"
    "    if (!strcmp(how, \"daemon\")) { if (daemon(1, 1) == 0) { f(); _exit(0); } }\n"
    "    puts(\"not left\"); exit(99); }\n"
    "__attribute__((noinline)) void nest(const char *how, int d) {\n"
    "    if (d) nest(how, d - 1); else leave(how); }\n"
    "int main(int argc, char **argv) { nest(argc > 1 ? argv[1] : \"\", 3); return 0; }\n";

/* Builds prog with flags (static link); skips the test without a static
 * libc. */
static void build(const char *flag)
{
    e2e_scratch_put("prog.c", exits_src);
    struct e2e_result res;
    char *argv[] = {CC, "-O1", (char *)flag, "-o", "prog", "prog.c", NULL};
    int st = e2e_scratch_run(argv, NULL, (char *[]){"CPROF_CC", NULL}, &res);
    if (st != 0 && strstr(res.err, "cannot find -lc")) {
        e2e_result_free(&res);
        cr_skip_test("no static libc on this machine");
    }
    cr_assert_eq(st, 0, "%s", res.err);
    e2e_result_free(&res);
}

/* Runs ./prog how into data dir name, expects exit status; then the data:
 * f's calls and the end reason audit names. */
static void check(const char *how, int status, long f_calls, const char *ended)
{
    char data[4200], env_dir[4300];
    snprintf(data, sizeof data, "%s/data-%s", e2e_scratch, how);
    snprintf(env_dir, sizeof env_dir, "CPROF_DIR=%s", data);
    struct e2e_result res;
    int st = e2e_scratch_run((char *[]){"./prog", (char *)how, NULL},
                             (char *[]){env_dir, "CPROF_MODE=summary", NULL}, NULL, &res);
    cr_assert_eq(st, status, "%s: status %d: %s", how, st, res.err);
    cr_assert(!strstr(res.out, "not left"), "%s", res.out);
    e2e_result_free(&res);
    if (!strcmp(how, "daemon")) /* the daemon child writes its file when it leaves */
        for (int i = 0; i < 50 && e2e_count_files(data, ".cprof") < 2; i++)
            usleep(100000);
    st = e2e_scratch_run((char *[]){CPROF, "report", "--format", "csv", data, NULL}, NULL,
                         NULL, &res);
    cr_assert_eq(st, 0, "%s: %s", how, res.err);
    cr_expect_eq(e2e_report_calls(res.out, "f"), f_calls, "%s:\n%s", how, res.out);
    cr_expect_eq(e2e_report_calls(res.out, "nest"), 4, "%s:\n%s", how, res.out);
    e2e_result_free(&res);
    st = e2e_scratch_run((char *[]){CPROF, "audit", data, NULL}, NULL, NULL, &res);
    cr_expect(strstr(res.out, ended), "%s: want '%s':\n%s", how, ended, res.out);
    e2e_result_free(&res);
}

static void all_ways_out(const char *flag)
{
    build(flag);
    check("_exit", 7, 3, "ended by exit");
    check("_Exit", 8, 3, "ended by exit");
    check("execl", 5, 3, "ended by exec");
    check("execvp", 6, 3, "ended by exec");
    /* the parent's three calls and the child's one, each process once */
    check("daemon", 0, 4, "ended by exit");
}

Test(static_exits, fully_static_program)
{
    all_ways_out("-static");
}

Test(static_exits, static_runtime_in_a_dynamic_program)
{
    all_ways_out("--cprof-runtime=static");
}
