/*
 * cprof-cc as a drop-in for cc: every kind of invocation a build system
 * makes (compile only, link only, both, several sources, -E, -S, -M, -MMD,
 * shared libraries, static archives, -static, -o -, response files), the
 * user's flags reaching clang in order, its own --cprof-* options, CPROF_CC,
 * finding the runtime relative to itself, and CMake's and an autoconf-style
 * configure's compiler checks; and unusual but legal command lines, side by
 * side with plain clang: the driver's queries (-print-*, -dump*, -v, -###),
 * source on standard input (-x c -), assembler inputs, -Wl options, an
 * object written to standard output, --version.
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

/* The clang cprof-cc runs when CPROF_CC is unset, for side-by-side runs. */
static const char *plain_clang(void)
{
    return system("command -v clang >/dev/null 2>&1") == 0 ? "clang" : "clang-14";
}

/* Runs argv (argv[0] replaced by cprof-cc, then by plain clang) and
 * expects the same exit status, output and errors from both. */
static void same_as_clang(char *argv[])
{
    struct e2e_result mine, theirs;
    argv[0] = CC;
    int my_status = run(argv, &mine);
    argv[0] = (char *)plain_clang();
    int their_status = run(argv, &theirs);
    cr_expect_eq(my_status, their_status, "%s: exit status %d, clang's %d", argv[1],
                 my_status, their_status);
    cr_expect_str_eq(mine.out, theirs.out, "%s: output differs from clang's", argv[1]);
    cr_expect_str_eq(mine.err, theirs.err, "%s: errors differ from clang's", argv[1]);
    e2e_result_free(&mine);
    e2e_result_free(&theirs);
}

Test(cc_wrapper, driver_queries_print_what_clang_prints)
{
    static const char *const queries[] = {
        "-print-file-name=libc.so",
        "-print-file-name=crtbegin.o",
        "-print-prog-name=ld",
        "-print-search-dirs",
        "-print-multiarch",
        "-print-libgcc-file-name",
        "-print-resource-dir",
        "-print-target-triple",
        "-print-effective-triple",
        "-print-multi-directory",
        "-print-multi-lib",
        "-print-runtime-dir",
        "-dumpmachine",
        "-dumpversion",
        "-v",
        "-###",
    };
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++)
        same_as_clang((char *[]){"", (char *)queries[i], NULL});
}

Test(cc_wrapper, dry_run_prints_the_commands_with_cprofs_additions_and_runs_nothing)
{
    e2e_scratch_put("main.c", main_src);
    struct e2e_result res;
    cr_assert_eq(run((char *const[]){CC, "-###", "-o", "prog", "main.c", NULL}, &res), 0,
                 "%s", res.err);
    const char *cc1 = strstr(res.err, "\"-cc1\"");
    cr_expect(cc1 && strstr(cc1, "\"-finstrument-functions\""), "%s", res.err);
    cr_expect(strstr(res.err, "\"-lcprof-rt\""), "the link has the runtime: %s", res.err);
    e2e_result_free(&res);
    char path[4200];
    snprintf(path, sizeof path, "%s/prog", e2e_scratch);
    cr_expect(access(path, F_OK) != 0, "-### built prog");
    cr_expect_eq(e2e_count_files(e2e_scratch, ".o"), 0, "-### compiled something");
    /* exit statuses are clang's, for a missing input and a bad option too */
    same_as_clang((char *[]){"", "-###", "-c", "missing.c", NULL});
    same_as_clang((char *[]){"", "-###", "--no-such-option", "main.c", NULL});
    /* -v runs the commands it prints: ours are in them */
    e2e_scratch_put("helper.c", helper_src);
    cr_assert_eq(
        run((char *const[]){CC, "-v", "-o", "prog", "main.c", "helper.c", NULL}, &res), 0,
        "%s", res.err);
    cr_expect(strstr(res.err, "clang version") &&
                  strstr(res.err, "-finstrument-functions"),
              "%s", res.err);
    e2e_result_free(&res);
    cr_expect_eq(profiled_run("prog", "data"), 1);
}

Test(cc_wrapper, source_from_standard_input)
{
    e2e_scratch_put("main.c", "int helper(int x) { return x * 2; }\n"
                              "int main(void) { return helper(2) - 4; }\n");
    ok((char *const[]){"sh", "-c", CC " -x c -o prog - <main.c", NULL});
    cr_expect_eq(profiled_run("prog", "data"), 1);
    cr_expect_eq(reported_calls("data", "helper"), 1, "stdin's code is instrumented");
    /* the static runtime archive comes after the user's -x c: it must still
     * be linked as an archive, not compiled as C */
    ok((char *const[]){"sh", "-c", CC " --cprof-runtime=static -x c - -o prog2 <main.c",
                       NULL});
    cr_expect_eq(profiled_run("prog2", "data2"), 1);
    cr_expect_eq(reported_calls("data2", "helper"), 1);
    ok((char *const[]){"sh", "-c", CC " -xc -c -o stdin.o - <main.c", NULL});
    ok((char *const[]){CC, "-o", "prog3", "stdin.o", NULL});
    cr_expect_eq(profiled_run("prog3", "data3"), 1);
}

static const char asm_one_src[] =
    "\t.text\n\t.globl asm_one\n\t.type asm_one, @function\n"
    "asm_one:\n\tmovl $1, %eax\n\tret\n"
    "\t.section .note.GNU-stack,\"\",@progbits\n";
static const char asm_two_src[] =
    "#define TWO 2\n"
    "\t.text\n\t.globl asm_two\n\t.type asm_two, @function\n"
    "asm_two:\n\tmovl $TWO, %eax\n\tret\n"
    "\t.section .note.GNU-stack,\"\",@progbits\n";

/* Are the files a and b in the scratch directory the same bytes? */
static int same_file(const char *a, const char *b)
{
    char pa[4200], pb[4200];
    size_t la = 0, lb = 0;
    snprintf(pa, sizeof pa, "%s/%s", e2e_scratch, a);
    snprintf(pb, sizeof pb, "%s/%s", e2e_scratch, b);
    char *ta = e2e_read_file(pa, &la), *tb = e2e_read_file(pb, &lb);
    int same = ta && tb && la == lb && memcmp(ta, tb, la) == 0;
    free(ta);
    free(tb);
    return same;
}

Test(cc_wrapper, assembler_inputs_are_assembled_as_clang_does)
{
    e2e_scratch_put("one.s", asm_one_src);
    e2e_scratch_put("two.S", asm_two_src);
    e2e_scratch_put("main.c",
                    "int asm_one(void);\nint asm_two(void);\n"
                    "int helper(int x) { return x - 3; }\n"
                    "int main(void) { return helper(asm_one() + asm_two()); }\n");
    const char *clang = plain_clang();
    ok((char *const[]){(char *)clang, "-c", "-o", "one-clang.o", "one.s", NULL});
    ok((char *const[]){(char *)clang, "-c", "-o", "two-clang.o", "two.S", NULL});
    char *cmd = verbose_command(
        (char *const[]){CC, "--cprof-verbose", "-c", "one.s", "two.S", NULL});
    cr_expect(strstr(cmd, "cprof-cc: clang -c one.s two.S") ||
                  strstr(cmd, "cprof-cc: clang-14 -c one.s two.S"),
              "assembling adds nothing: %s", cmd);
    free(cmd);
    cr_expect(same_file("one.o", "one-clang.o"), "one.o differs from clang's");
    cr_expect(same_file("two.o", "two-clang.o"), "two.o differs from clang's");
    /* C and assembler in one command: the C is instrumented and has line
     * tables, the assembler's objects are still clang's */
    ok((char *const[]){CC, "-c", "main.c", "one.s", "two.S", NULL});
    cr_expect(same_file("one.o", "one-clang.o"), "one.o assembled beside C differs");
    cr_expect(same_file("two.o", "two-clang.o"), "two.o assembled beside C differs");
    ok((char *const[]){CC, "-o", "prog3", "main.o", "one.o", "two.o", NULL});
    cr_expect_eq(profiled_run("prog3", "data3"), 1);
    struct e2e_result res;
    char main_o[4200];
    snprintf(main_o, sizeof main_o, "%s/main.o", e2e_scratch);
    cr_assert_eq(
        run((char *const[]){"readelf", "--debug-dump=decodedline", main_o, NULL}, &res),
        0, "%s", res.err);
    cr_expect(strstr(res.out, "main.c"), "main.o has line tables: %s", res.out);
    e2e_result_free(&res);
    /* compiled, assembled and linked in one command */
    ok((char *const[]){CC, "-o", "prog", "main.c", "one.s", "two.S", NULL});
    cr_expect_eq(profiled_run("prog", "data"), 1);
    cr_expect_eq(reported_calls("data", "helper"), 1);
    cr_expect_eq(reported_calls("data", "asm_one"), -1, "assembly has no hooks");
    /* and with the objects cprof-cc assembled */
    ok((char *const[]){CC, "-c", "main.c", NULL});
    ok((char *const[]){CC, "-o", "prog2", "main.o", "one.o", "two.o", NULL});
    cr_expect_eq(profiled_run("prog2", "data2"), 1);
}

Test(cc_wrapper, linker_options_reach_the_linker_in_order)
{
    e2e_scratch_put("main.c", main_src);
    e2e_scratch_put("helper.c", helper_src);
    struct e2e_result res;
    cr_assert_eq(run((char *const[]){CC, "-###", "-o", "prog", "main.c", "helper.c",
                                     "-Wl,--defsym=cprof_a=1", "-Wl,-z,now", "-Xlinker",
                                     "--no-undefined", "-Wl,--as-needed", NULL},
                     &res),
                 0, "%s", res.err);
    const char *ld = strstr(res.err, "--defsym=cprof_a=1");
    const char *z = ld ? strstr(ld, "\"-z\" \"now\"") : NULL;
    const char *undef = z ? strstr(z, "\"--no-undefined\"") : NULL;
    const char *needed = undef ? strstr(undef, "\"--as-needed\"") : NULL;
    const char *rt = needed ? strstr(needed, "\"-lcprof-rt\"") : NULL;
    cr_expect(rt, "the user's linker options in order, then the runtime: %s", res.err);
    e2e_result_free(&res);
    /* the link is real: a map file, and the runtime linked despite a
     * trailing --as-needed (and -Bstatic state the user left) */
    ok((char *const[]){CC, "-o", "prog", "main.c", "helper.c", "-Wl,-Map,prog.map",
                       "-Wl,--as-needed", NULL});
    char path[4200];
    snprintf(path, sizeof path, "%s/prog.map", e2e_scratch);
    cr_expect(access(path, F_OK) == 0, "-Wl,-Map did not reach the linker");
    cr_expect_eq(profiled_run("prog", "data"), 1);
    ok((char *const[]){CC, "-o", "prog2", "main.c", "helper.c", "-Wl,-Bstatic", "-lm",
                       "-Wl,-Bdynamic", NULL});
    cr_expect_eq(profiled_run("prog2", "data2"), 1);
}

Test(cc_wrapper, object_to_standard_output)
{
    e2e_scratch_put("helper.c", helper_src);
    struct e2e_result res;
    cr_assert_eq(run((char *const[]){CC, "-c", "-o", "-", "helper.c", NULL}, &res), 0,
                 "%s", res.err);
    cr_expect(res.out_len > 4 && !memcmp(res.out, "\177ELF", 4), "not an object");
    static const char hook[] = "__cyg_profile_func_enter";
    int found = 0;
    for (size_t i = 0; !found && i + sizeof hook - 1 <= res.out_len; i++)
        found = !memcmp(res.out + i, hook, sizeof hook - 1);
    cr_expect(found, "the object on stdout is instrumented");
    e2e_result_free(&res);
}

Test(cc_wrapper, version_is_clangs_after_a_line_of_its_own)
{
    struct e2e_result mine, theirs;
    cr_assert_eq(run((char *const[]){CC, "--version", NULL}, &mine), 0);
    cr_assert_eq(run((char *const[]){(char *)plain_clang(), "--version", NULL}, &theirs),
                 0);
    const char *rest = strchr(mine.out, '\n');
    cr_expect(!strncmp(mine.out, "cprof-cc ", 9), "%s", mine.out);
    cr_expect(rest && !strcmp(rest + 1, theirs.out), "then clang's own: %s", mine.out);
    e2e_result_free(&mine);
    e2e_result_free(&theirs);
}
