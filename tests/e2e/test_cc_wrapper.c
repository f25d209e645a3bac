/*
 * cprof-cc as a drop-in for cc: every kind of invocation a build system
 * makes (compile only, link only, both, several sources, -E, -S, -M, -MMD,
 * shared libraries, static archives, -static, -o -, response files), the
 * user's flags reaching clang in order, its own --cprof-* options, CPROF_CC,
 * finding the runtime relative to itself, and CMake's and an autoconf-style
 * configure's compiler checks.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e_scratch.h"
#include "e2e_util.h"

#define CC CPROF_BINARY_DIR "/bin/cprof-cc"

TestSuite(cc_wrapper, .init = e2e_scratch_init, .fini = e2e_scratch_fini, .timeout = 300);

static char *const unset[] = {"CPROF_DIR", "CPROF_MODE", "CPROF_VERBOSE", "CPROF_CC",
                              NULL};

/* Runs argv in the scratch directory; returns the exit status. */
static int run_env(char *const argv[], char *const env[], struct e2e_result *res)
{
    return e2e_scratch_run(argv, env, unset, res);
}

static int run(char *const argv[], struct e2e_result *res)
{
    return run_env(argv, NULL, res);
}

static void ok(char *const argv[])
{
    struct e2e_result res;
    int status = run(argv, &res);
    cr_assert_eq(status, 0, "%s %s failed (%d): %s", argv[0], argv[1] ? argv[1] : "",
                 status, res.err);
    e2e_result_free(&res);
}

/* Runs a built program with CPROF_DIR=<scratch>/<data>; returns how many
 * .cprof files it wrote. */
static int profiled_run(const char *prog, const char *data)
{
    char env_dir[4300], path[4200], data_dir[4200];
    snprintf(data_dir, sizeof data_dir, "%s/%s", e2e_scratch, data);
    snprintf(env_dir, sizeof env_dir, "CPROF_DIR=%s", data_dir);
    snprintf(path, sizeof path, "%s/%s", e2e_scratch, prog);
    struct e2e_result res;
    int status =
        run_env((char *const[]){path, NULL}, (char *const[]){env_dir, NULL}, &res);
    cr_assert_eq(status, 0, "%s: %d %s", prog, status, res.err);
    e2e_result_free(&res);
    return e2e_count_files(data_dir, ".cprof");
}

static const char main_src[] = "int helper(int);\n"
                               "int main(void) { return helper(2) - 4; }\n";
static const char helper_src[] = "int helper(int x) { return x * 2; }\n";

/* The words of the command cprof-cc ran (--cprof-verbose), as one string. */
static char *verbose_command(char *const argv[])
{
    struct e2e_result res;
    int status = run(argv, &res);
    cr_assert_eq(status, 0, "%s", res.err);
    const char *line = strstr(res.err, "cprof-cc: ");
    cr_assert(line, "no command printed: %s", res.err);
    char *cmd = strndup(line, strcspn(line, "\n"));
    e2e_result_free(&res);
    return cmd;
}

Test(cc_wrapper, compile_and_link_in_one_step)
{
    e2e_scratch_put("main.c", main_src);
    e2e_scratch_put("helper.c", helper_src);
    ok((char *const[]){CC, "-O2", "-o", "prog", "main.c", "helper.c", NULL});
    cr_expect_eq(profiled_run("prog", "data"), 1);
}

Test(cc_wrapper, compile_then_link_separately_and_through_an_archive)
{
    e2e_scratch_put("main.c", main_src);
    e2e_scratch_put("helper.c", helper_src);
    ok((char *const[]){CC, "-c", "main.c", NULL});
    ok((char *const[]){CC, "-c", "-o", "helper.o", "helper.c", NULL});
    ok((char *const[]){"ar", "rcs", "libhelper.a", "helper.o", NULL});
    ok((char *const[]){CC, "-o", "prog", "main.o", "-L.", "-lhelper", NULL});
    cr_expect_eq(profiled_run("prog", "data"), 1);
    char *cmd = verbose_command((char *const[]){CC, "--cprof-verbose", "-o", "prog2",
                                                "main.o", "helper.o", NULL});
    cr_expect(!strstr(cmd, "-finstrument-functions"), "a link adds no compile flags: %s",
              cmd);
    cr_expect(strstr(cmd, "-lcprof-rt"), "%s", cmd);
    free(cmd);
    cmd = verbose_command((char *const[]){CC, "--cprof-verbose", "-c", "main.c", NULL});
    cr_expect(strstr(cmd, "-finstrument-functions"), "%s", cmd);
    cr_expect(!strstr(cmd, "cprof-rt"), "a compile links nothing: %s", cmd);
    free(cmd);
}

/* The calls column of function name in `cprof report DATA --format csv`,
 * or -1 when it is not listed. */
static long long reported_calls(const char *data, const char *name)
{
    struct e2e_result res;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", e2e_scratch, data);
    int status = run((char *const[]){CPROF_BINARY_DIR "/bin/cprof", "report", path,
                                     "--format", "csv", NULL},
                     &res);
    cr_assert_eq(status, 0, "report: %s", res.err);
    long long calls = e2e_report_calls(res.out, name);
    cr_assert_neq(calls, -2, "not a CSV report: %s", res.out);
    e2e_result_free(&res);
    return calls;
}

Test(cc_wrapper, shared_library_and_program_share_one_runtime)
{
    e2e_scratch_put("main.c", main_src);
    e2e_scratch_put("helper.c", helper_src);
    ok((char *const[]){CC, "-shared", "-fPIC", "-o", "libhelper.so", "helper.c", NULL});
    ok((char *const[]){CC, "-o", "prog", "main.c", "-L.", "-lhelper",
                       "-Wl,-rpath,$ORIGIN", NULL});
    cr_expect_eq(profiled_run("prog", "data"), 1, "one process, one file");
    cr_expect_eq(reported_calls("data", "helper"), 1, "the library's function is named");
    cr_expect_eq(reported_calls("data", "main"), 1);
}

/* A library the loader finds through a relative LD_LIBRARY_PATH (as test
 * suites often run): its functions still resolve to its file. */
Test(cc_wrapper, library_found_through_a_relative_path_is_named)
{
    e2e_scratch_put("main.c", main_src);
    e2e_scratch_put("helper.c", helper_src);
    ok((char *const[]){CC, "-shared", "-fPIC", "-o", "libhelper.so", "helper.c", NULL});
    ok((char *const[]){CC, "-o", "prog", "main.c", "-L.", "-lhelper", NULL});
    char data_dir[4300], env_dir[4400];
    snprintf(data_dir, sizeof data_dir, "%s/data", e2e_scratch);
    snprintf(env_dir, sizeof env_dir, "CPROF_DIR=%s", data_dir);
    struct e2e_result res;
    cr_assert_eq(run_env((char *const[]){"./prog", NULL},
                         (char *const[]){env_dir, "LD_LIBRARY_PATH=.", NULL}, &res),
                 0, "%s", res.err);
    e2e_result_free(&res);
    cr_expect_eq(reported_calls("data", "helper"), 1);
}

Test(cc_wrapper, static_link)
{
    e2e_scratch_put("main.c", main_src);
    e2e_scratch_put("helper.c", helper_src);
    struct e2e_result res;
    int status = run(
        (char *const[]){CC, "-static", "-o", "prog", "main.c", "helper.c", NULL}, &res);
    if (status != 0 && strstr(res.err, "cannot find -lc")) {
        e2e_result_free(&res);
        cr_skip_test("no static libc on this machine");
    }
    cr_assert_eq(status, 0, "%s", res.err);
    e2e_result_free(&res);
    cr_expect_eq(profiled_run("prog", "data"), 1);
}

Test(cc_wrapper, preprocess_assemble_and_dependencies_add_nothing)
{
    e2e_scratch_put("main.c",
                    "#include \"helper.h\"\nint main(void) { return VALUE; }\n");
    e2e_scratch_put("helper.h", "#define VALUE 0\n");
    struct e2e_result res;
    cr_assert_eq(run((char *const[]){CC, "--cprof-verbose", "-E", "main.c", NULL}, &res),
                 0);
    cr_expect(strstr(res.out, "return 0;"), "%s", res.out);
    cr_expect(strstr(res.err, "cprof-cc: clang -E main.c\n"), "%s", res.err);
    e2e_result_free(&res);
    cr_assert_eq(run((char *const[]){CC, "--cprof-verbose", "-MM", "main.c", NULL}, &res),
                 0);
    cr_expect(strstr(res.out, "main.o: main.c helper.h"), "%s", res.out);
    cr_expect(!strstr(res.err, "-finstrument-functions"), "%s", res.err);
    e2e_result_free(&res);
    cr_assert_eq(
        run((char *const[]){CC, "--cprof-verbose", "-c", "-MMD", "main.c", NULL}, &res),
        0);
    cr_expect(strstr(res.err, "-finstrument-functions"), "-MMD still compiles: %s",
              res.err);
    e2e_result_free(&res);
    char path[4200];
    snprintf(path, sizeof path, "%s/main.d", e2e_scratch);
    char *dep = e2e_read_file(path, NULL);
    cr_expect(dep && strstr(dep, "helper.h"), "main.d: %s", dep ? dep : "(missing)");
    free(dep);
    cr_assert_eq(run((char *const[]){CC, "-S", "-o", "-", "main.c", NULL}, &res), 0);
    cr_expect(strstr(res.out, "__cyg_profile_func_enter"), "-S output is instrumented");
    e2e_result_free(&res);
    cr_assert_eq(
        run((char *const[]){CC, "--cprof-verbose", "-fsyntax-only", "main.c", NULL},
            &res),
        0);
    cr_expect(!strstr(res.err, "-finstrument-functions"), "%s", res.err);
    e2e_result_free(&res);
}

Test(cc_wrapper, user_flags_reach_clang_in_order)
{
    e2e_scratch_put("main.c", "int main(void) { return 0; }\n");
    char *cmd =
        verbose_command((char *const[]){CC, "--cprof-verbose", "-O1", "-DX=1", "-Wall",
                                        "-o", "prog", "main.c", "-lm", "-DY", NULL});
    const char *user = strstr(cmd, "-O1 -DX=1 -Wall -o prog main.c -lm -DY");
    cr_expect(user, "%s", cmd);
    const char *instr = strstr(cmd, "-finstrument-functions");
    cr_expect(instr && user && instr < user, "added compile flags come first: %s", cmd);
    const char *rt = strstr(cmd, "-lcprof-rt");
    cr_expect(rt && user && rt > user, "the runtime comes last: %s", cmd);
    cr_expect(strstr(cmd, "-gline-tables-only"), "%s", cmd);
    cr_expect(!strstr(cmd, "--cprof"), "own options never reach clang: %s", cmd);
    free(cmd);
    cmd = verbose_command(
        (char *const[]){CC, "--cprof-verbose", "-g", "-c", "main.c", NULL});
    cr_expect(!strstr(cmd, "-gline-tables-only"), "the user's -g wins: %s", cmd);
    free(cmd);
    cmd = verbose_command(
        (char *const[]){CC, "--cprof-verbose", "-g0", "-c", "main.c", NULL});
    cr_expect(!strstr(cmd, "-gline-tables-only"), "-g0 is a choice too: %s", cmd);
    free(cmd);
}

Test(cc_wrapper, response_files_are_read_and_passed_on)
{
    e2e_scratch_put("main.c", main_src);
    e2e_scratch_put("helper.c", helper_src);
    e2e_scratch_put("args.rsp", "-O2 -c\n\"helper.c\"\n");
    char *cmd =
        verbose_command((char *const[]){CC, "--cprof-verbose", "@args.rsp", NULL});
    cr_expect(strstr(cmd, "-finstrument-functions"), "%s", cmd);
    cr_expect(!strstr(cmd, "cprof-rt"), "the @file says -c: %s", cmd);
    cr_expect(strstr(cmd, " @args.rsp"), "%s", cmd);
    free(cmd);
    struct e2e_result res;
    cr_expect_eq(run((char *const[]){CC, "@missing.rsp", NULL}, &res), 1);
    cr_expect(strstr(res.err, "missing.rsp"), "%s", res.err);
    e2e_result_free(&res);
}

Test(cc_wrapper, own_options_version_and_help)
{
    struct e2e_result res;
    cr_expect_eq(run((char *const[]){CC, "--cprof-frobnicate", NULL}, &res), 1);
    cr_expect(strstr(res.err, "unknown option --cprof-frobnicate"), "%s", res.err);
    e2e_result_free(&res);
    cr_expect_eq(run((char *const[]){CC, "--cprof-lines", "-c", "x.c", NULL}, &res), 1);
    cr_expect(strstr(res.err, "--cprof-lines=GLOB"), "%s", res.err);
    e2e_result_free(&res);
    cr_expect_eq(run((char *const[]){CC, "--version", NULL}, &res), 0);
    cr_expect(strstr(res.out, "cprof-cc ") && strstr(res.out, "clang version"), "%s",
              res.out);
    e2e_result_free(&res);
    cr_expect_eq(run((char *const[]){CC, "--help", NULL}, &res), 0);
    cr_expect(strstr(res.out, "--cprof-verbose") && strstr(res.out, "CPROF_CC"), "%s",
              res.out);
    e2e_result_free(&res);
    e2e_scratch_put("main.c", "int main(void) { return 0; }\n");
    char *cmd = verbose_command(
        (char *const[]){CC, "--cprof-verbose", "--cprof-no-instrument", "main.c", NULL});
    cr_expect(strstr(cmd, "cprof-cc: clang main.c"), "%s", cmd);
    free(cmd);
}

Test(cc_wrapper, cprof_cc_env_picks_the_compiler)
{
    e2e_scratch_put("main.c", "int main(void) { return 0; }\n");
    struct e2e_result res;
    cr_assert_eq(run_env((char *const[]){CC, "--cprof-verbose", "-c", "main.c", NULL},
                         (char *const[]){"CPROF_CC=clang-14", NULL}, &res),
                 0, "%s", res.err);
    cr_expect(strstr(res.err, "cprof-cc: clang-14 "), "%s", res.err);
    e2e_result_free(&res);
    cr_expect_eq(run_env((char *const[]){CC, "-c", "main.c", NULL},
                         (char *const[]){"CPROF_CC=" CC, NULL}, &res),
                 1);
    cr_expect(strstr(res.err, "is cprof-cc itself"), "%s", res.err);
    e2e_result_free(&res);
    cr_expect_eq(run_env((char *const[]){CC, "-c", "main.c", NULL},
                         (char *const[]){"CPROF_CC=/nonexistent/clang", NULL}, &res),
                 127);
    cr_expect(strstr(res.err, "cannot run /nonexistent/clang"), "%s", res.err);
    e2e_result_free(&res);
}

Test(cc_wrapper, finds_its_runtime_relative_to_itself)
{
    char cmd[8400];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/tree/bin %s/tree/lib && cp %s/bin/cprof-cc %s/tree/bin/ && "
             "cp -r %s/lib/cprof %s/tree/lib/",
             e2e_scratch, e2e_scratch, CPROF_BINARY_DIR, e2e_scratch, CPROF_BINARY_DIR,
             e2e_scratch);
    cr_assert_eq(system(cmd), 0);
    e2e_scratch_put("main.c", main_src);
    e2e_scratch_put("helper.c", helper_src);
    char cc[4200];
    snprintf(cc, sizeof cc, "%s/tree/bin/cprof-cc", e2e_scratch);
    ok((char *const[]){cc, "-o", "prog", "main.c", "helper.c", NULL});
    cr_expect_eq(profiled_run("prog", "data"), 1);
    snprintf(cmd, sizeof cmd, "rm -rf %s/tree/lib", e2e_scratch);
    cr_assert_eq(system(cmd), 0);
    struct e2e_result res;
    cr_expect_eq(
        run((char *const[]){cc, "-o", "prog2", "main.c", "helper.c", NULL}, &res), 1);
    cr_expect(strstr(res.err, "the cprof runtime is missing"), "%s", res.err);
    e2e_result_free(&res);
}

Test(cc_wrapper, cmake_compiler_checks_pass)
{
    if (system("command -v cmake >/dev/null 2>&1") != 0)
        cr_skip_test("cmake is not installed");
    e2e_scratch_put("CMakeLists.txt",
                    "cmake_minimum_required(VERSION 3.13)\n"
                    "project(t C)\n"
                    "include(CheckFunctionExists)\n"
                    "check_function_exists(printf HAVE_PRINTF)\n"
                    "if(NOT HAVE_PRINTF)\n  message(FATAL_ERROR \"no printf\")\nendif()\n"
                    "add_executable(prog main.c helper.c)\n");
    e2e_scratch_put("main.c", main_src);
    e2e_scratch_put("helper.c", helper_src);
    ok((char *const[]){"cmake", "-S", ".", "-B", "build", "-DCMAKE_C_COMPILER=" CC,
                       NULL});
    ok((char *const[]){"cmake", "--build", "build", NULL});
    cr_expect_eq(profiled_run("build/prog", "data"), 1);
}

/* What autoconf's generated configure does to a compiler, by hand: it
 * must compile, link and run a test program, and reject a bad one. */
Test(cc_wrapper, configure_style_checks_pass)
{
    e2e_scratch_put(
        "conftest.c",
        "#include <stdio.h>\nint main(void) { printf(\"ok\\n\"); return 0; }\n");
    e2e_scratch_put("conftest_bad.c",
                    "int main(void) { return undefined_function(); }\n");
    ok((char *const[]){CC, "-o", "conftest", "conftest.c", NULL});
    struct e2e_result res;
    char path[4200];
    snprintf(path, sizeof path, "%s/conftest", e2e_scratch);
    cr_assert_eq(run((char *const[]){path, NULL}, &res), 0);
    cr_expect_str_eq(res.out, "ok\n", "the program's output is its own");
    e2e_result_free(&res);
    cr_expect_neq(
        run((char *const[]){CC, "-o", "conftest_bad", "conftest_bad.c", NULL}, &res), 0,
        "a bad program still fails to build");
    e2e_result_free(&res);
    cr_expect_eq(run((char *const[]){CC, "-E", "-", NULL}, &res), 0, "cpp from stdin: %s",
                 res.err);
    e2e_result_free(&res);
}
