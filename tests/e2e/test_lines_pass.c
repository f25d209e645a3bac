/*
 * The line-instrumentation pass as cprof-cc uses it (--cprof-lines,
 * CPROF_LINES): which functions get __cprof_line calls (read from the IR
 * clang emits), at every -O level; nothing changes without a pattern; -g0
 * warns; commands that do not compile get no plugin; the enter hook comes
 * before the first line call; and, with a counting __cprof_line of the
 * test's own linked in, exact hits that are the same at -O0 and -O2, with
 * -flto and in a shared library.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_scratch.h"
#include "e2e_util.h"

#define CC CPROF_BINARY_DIR "/bin/cprof-cc"

TestSuite(lines_pass, .init = e2e_scratch_init, .fini = e2e_scratch_fini, .timeout = 300);

static char *const unset[] = {"CPROF_DIR",   "CPROF_MODE",    "CPROF_CC",
                              "CPROF_LINES", "CPROF_VERBOSE", "CPROF_LINES_PASS_PATTERNS",
                              NULL};

static char *slurp(const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", e2e_scratch, name);
    char *text = e2e_read_file(path, NULL);
    cr_assert(text, "cannot read %s", path);
    return text;
}

/* Runs argv in the scratch directory with env added; returns the exit
 * status. */
static int run_env(char *const argv[], char *const env[], struct e2e_result *res)
{
    return e2e_scratch_run(argv, env, unset, res);
}

/* Runs argv, which must succeed; returns what it wrote on stderr (the
 * caller frees it). */
static char *ok_env(char *const argv[], char *const env[])
{
    struct e2e_result res;
    int status = run_env(argv, env, &res);
    cr_assert_eq(status, 0, "%s %s failed (%d): %s", argv[0], argv[1], status, res.err);
    char *err = strdup(res.err);
    e2e_result_free(&res);
    return err;
}

static void ok(char *const argv[])
{
    free(ok_env(argv, NULL));
}

/* Functions whose lines are known: hot_loop and hot_path are selected by
 * "hot_*"; noinline keeps each in its own body at -O2. */
static const char funcs_src[] =
    "#define KEEP __attribute__((noinline))\n"
    "KEEP int hot_loop(int n)\n"
    "{\n"
    "    int s = 0;\n"
    "    for (int i = 0; i < n; i++)\n"
    "        s += i;\n"
    "    return s;\n"
    "}\n"
    "KEEP int hot_path(int n)\n"
    "{\n"
    "    if (n > 2)\n"
    "        return n * 3;\n"
    "    return n;\n"
    "}\n"
    "KEEP int cold(int n)\n"
    "{\n"
    "    return n - 1;\n"
    "}\n"
    "int main(int argc, char **argv)\n"
    "{\n"
    "    (void)argv;\n"
    "    return hot_loop(argc) + hot_path(argc) + cold(argc) == 99;\n"
    "}\n";

/* Steps *cursor to the next function defined in LLVM IR text: its name in
 * name, its body in [*body, *end). Returns 0 when there is none left. */
static int next_function(const char **cursor, char *name, size_t size, const char **body,
                         const char **end)
{
    const char *def = strstr(*cursor, "\ndefine ");
    const char *at = def ? strchr(def, '@') : NULL;
    *end = def ? strstr(def, "\n}\n") : NULL;
    if (!at || !*end)
        return 0;
    snprintf(name, size, "%.*s", (int)strcspn(at + 1, "("), at + 1);
    *body = def;
    *cursor = *end;
    return 1;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The names of the functions defined in LLVM IR text that call
 * __cprof_line, sorted and comma-separated, in buf. */
static const char *instrumented(const char *ir, char *buf, size_t size)
{
    char names[16][64];
    size_t n = 0;
    const char *body, *end;
    while (n < 16 && next_function(&ir, names[n], sizeof names[n], &body, &end)) {
        const char *call = strstr(body, "call void @__cprof_line(");
        if (call && call < end)
            n++;
    }
    qsort(names, n, sizeof names[0], compare_names);
    buf[0] = 0;
    for (size_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? "," : "", names[i]);
    return buf;
}

/* Compiles funcs.c to IR with the extra arguments and environment, and
 * returns the functions that got line calls. */
static const char *selected(char *const extra[], char *const env[], char *buf,
                            size_t size)
{
    e2e_scratch_put("funcs.c", funcs_src);
    char *argv[32] = {CC, "-S", "-emit-llvm", "-o", "funcs.ll", "funcs.c"};
    int n = 6;
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    free(ok_env(argv, env));
    char *ir = slurp("funcs.ll");
    instrumented(ir, buf, size);
    free(ir);
    return buf;
}

Test(lines_pass, option_selects_exactly_the_matching_functions)
{
    char got[256];
    cr_expect_str_eq(
        selected((char *[]){"--cprof-lines=hot_loop", NULL}, NULL, got, sizeof got),
        "hot_loop");
    cr_expect_str_eq(
        selected((char *[]){"--cprof-lines=hot_*", NULL}, NULL, got, sizeof got),
        "hot_loop,hot_path", "a glob");
    cr_expect_str_eq(
        selected((char *[]){"--cprof-lines=cold,ma?n", NULL}, NULL, got, sizeof got),
        "cold,main", "a comma list");
    cr_expect_str_eq(
        selected((char *[]){"--cprof-lines=cold", "--cprof-lines=hot_path", NULL}, NULL,
                 got, sizeof got),
        "cold,hot_path", "the option accumulates");
    cr_expect_str_eq(
        selected((char *[]){"--cprof-lines=*[dp]", NULL}, NULL, got, sizeof got),
        "cold,hot_loop", "a bracket glob");
    cr_expect_str_eq(selected((char *[]){"--cprof-lines=nothing_matches", NULL}, NULL,
                              got, sizeof got),
                     "");
}

Test(lines_pass, environment_selects_and_adds_to_the_option)
{
    char got[256];
    cr_expect_str_eq(
        selected(NULL, (char *[]){"CPROF_LINES=hot_path", NULL}, got, sizeof got),
        "hot_path");
    cr_expect_str_eq(selected((char *[]){"--cprof-lines=cold", NULL},
                              (char *[]){"CPROF_LINES=hot_*", NULL}, got, sizeof got),
                     "cold,hot_loop,hot_path");
    cr_expect_str_eq(selected(NULL, (char *[]){"CPROF_LINES=", NULL}, got, sizeof got),
                     "", "empty selects nothing");
}

Test(lines_pass, every_optimisation_level_instruments_the_selected_function)
{
    static char *const levels[] = {"-O0", "-O1", "-O2", "-O3", "-Os", "-Oz", "-Og"};
    char got[256];
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++)
        cr_expect_str_eq(selected((char *[]){"--cprof-lines=hot_loop", levels[i], NULL},
                                  NULL, got, sizeof got),
                         "hot_loop", "at %s", levels[i]);
}

/* Without a pattern cprof-cc runs exactly what it ran before --cprof-lines
 * existed: the same command, the same assembly. */
Test(lines_pass, no_pattern_changes_nothing)
{
    e2e_scratch_put("funcs.c", funcs_src);
    for (int empty = 0; empty < 2; empty++) {
        char *err = ok_env(
            (char *[]){CC, "--cprof-verbose", "-O2", "-S", "-o", "a.s", "funcs.c", NULL},
            empty ? (char *[]){"CPROF_LINES=", NULL} : NULL);
        cr_expect(strstr(err, "cprof-cc: clang -finstrument-functions -gline-tables-only "
                              "-O2 -S -o a.s funcs.c\n"),
                  "%s", err);
        free(err);
        ok((char *[]){"clang", "-finstrument-functions", "-gline-tables-only", "-O2",
                      "-S", "-o", "b.s", "funcs.c", NULL});
        char *a = slurp("a.s"), *b = slurp("b.s");
        cr_expect_str_eq(a, b);
        cr_expect(!strstr(a, "__cprof_line"));
        free(a);
        free(b);
    }
}

Test(lines_pass, no_debug_information_warns_once_and_instruments_nothing)
{
    e2e_scratch_put("funcs.c", funcs_src);
    char *err = ok_env((char *[]){CC, "--cprof-lines=hot_*", "-g0", "-S", "-emit-llvm",
                                  "-o", "funcs.ll", "funcs.c", NULL},
                       NULL);
    const char *warning = "cprof-cc: warning: --cprof-lines: funcs.c has no debug "
                          "information (-g0?); no line instrumentation in it\n";
    const char *first = strstr(err, warning);
    cr_expect(first, "%s", err);
    cr_expect(!first || !strstr(first + 1, warning), "once: %s", err);
    free(err);
    char *ir = slurp("funcs.ll");
    cr_expect(!strstr(ir, "__cprof_line"));
    free(ir);
    err = ok_env(
        (char *[]){CC, "--cprof-lines=nothing_matches", "-g0", "-c", "funcs.c", NULL},
        NULL);
    cr_expect_str_eq(err, "", "nothing selected, nothing to warn about");
    free(err);
}

/* The command cprof-cc runs (--cprof-verbose), from its stderr. */
static char *verbose_command(char *const argv[])
{
    char *err = ok_env(argv, NULL);
    const char *line = strstr(err, "cprof-cc: ");
    cr_assert(line, "no command printed: %s", err);
    char *cmd = strndup(line, strcspn(line, "\n"));
    free(err);
    return cmd;
}

Test(lines_pass, only_commands_that_compile_get_the_plugin)
{
    e2e_scratch_put("funcs.c", funcs_src);
    char *cmd = verbose_command(
        (char *[]){CC, "--cprof-verbose", "--cprof-lines=hot_*", "-c", "funcs.c", NULL});
    cr_expect(strstr(cmd, "CPROF_LINES_PASS_PATTERNS='hot_*'"), "%s", cmd);
    cr_expect(strstr(cmd, "/lib/cprof/cprof-lines-pass.so"), "%s", cmd);
    free(cmd);
    static char *const no_code[][4] = {
        {"-E", "funcs.c", NULL},
        {"-fsyntax-only", "funcs.c", NULL},
        {"-M", "funcs.c", NULL},
        {"funcs.o", "-o", "prog", NULL},
    };
    ok((char *[]){CC, "-c", "funcs.c", NULL});
    for (size_t i = 0; i < sizeof no_code / sizeof *no_code; i++) {
        cmd = verbose_command((char *[]){CC, "--cprof-verbose", "--cprof-lines=hot_*",
                                         no_code[i][0], no_code[i][1], no_code[i][2],
                                         NULL});
        cr_expect(!strstr(cmd, "pass-plugin") && !strstr(cmd, "CPROF_LINES_PASS"),
                  "%s gets no plugin: %s", no_code[i][0], cmd);
        free(cmd);
    }
}

Test(lines_pass,
     bad_option_legacy_pass_manager_missing_plugin_and_other_clang_are_explained)
{
    e2e_scratch_put("funcs.c", funcs_src);
    struct e2e_result res;
    cr_expect_eq(
        run_env((char *[]){CC, "--cprof-lines", "-c", "funcs.c", NULL}, NULL, &res), 1);
    cr_expect(strstr(res.err, "--cprof-lines=GLOB"), "%s", res.err);
    e2e_result_free(&res);
    e2e_scratch_put("clang15", "#!/bin/sh\necho 'clang version 15.0.7'\n");
    ok((char *[]){"chmod", "+x", "clang15", NULL});
    cr_expect_eq(run_env((char *[]){CC, "--cprof-lines=f", "-c", "funcs.c", NULL},
                         (char *[]){"CPROF_CC=./clang15", NULL}, &res),
                 1);
    cr_expect(strstr(res.err, "built for clang 14 (LLVM 14), but ./clang15 is clang 15"),
              "%s", res.err);
    e2e_result_free(&res);
    /* The legacy pass manager would drop the plugin without a word. */
    cr_expect_eq(run_env((char *[]){CC, "--cprof-lines=f", "-flegacy-pass-manager", "-c",
                                    "funcs.c", NULL},
                         NULL, &res),
                 1);
    cr_expect(strstr(res.err, "-flegacy-pass-manager: line instrumentation"), "%s",
              res.err);
    e2e_result_free(&res);
    ok((char *[]){CC, "--cprof-lines=f", "-flegacy-pass-manager",
                  "-fno-legacy-pass-manager", "-c", "funcs.c", NULL});
    /* A copy of cprof-cc beside a runtime but no plugin. */
    ok((char *[]){"mkdir", "-p", "tree/bin", "tree/lib/cprof", NULL});
    ok((char *[]){"cp", CC, "tree/bin/", NULL});
    ok((char *[]){"cp", CPROF_BINARY_DIR "/lib/cprof/libcprof-rt.so", "tree/lib/cprof/",
                  NULL});
    cr_expect_eq(
        run_env((char *[]){"tree/bin/cprof-cc", "--cprof-lines=f", "-c", "funcs.c", NULL},
                NULL, &res),
        1);
    cr_expect(strstr(res.err, "the line pass plugin is missing:") &&
                  strstr(res.err, "tree/lib/cprof/cprof-lines-pass.so"),
              "%s", res.err);
    e2e_result_free(&res);
}

/* The position in text of the first (or last) occurrence of what after
 * from, or -1. */
static long position(const char *text, const char *what, int last)
{
    long pos = -1;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what)) {
        pos = p - text;
        if (!last)
            break;
    }
    return pos;
}

Test(lines_pass, enter_hook_comes_first_and_exit_hook_last)
{
    e2e_scratch_put("funcs.c", funcs_src);
    static char *const levels[] = {"-O0", "-O2"};
    for (size_t i = 0; i < 2; i++) {
        ok((char *[]){CC, "--cprof-lines=hot_loop", levels[i], "-S", "-emit-llvm", "-o",
                      "funcs.ll", "funcs.c", NULL});
        char *ir = slurp("funcs.ll");
        const char *cursor = ir, *body = NULL, *end;
        char name[64] = "";
        while (strcmp(name, "hot_loop") &&
               next_function(&cursor, name, sizeof name, &body, &end))
            continue;
        cr_assert_str_eq(name, "hot_loop", "no hot_loop in %s", ir);
        char *def = strndup(body, (size_t)(end - body));
        long enter = position(def, "@__cyg_profile_func_enter(", 0);
        long first = position(def, "@__cprof_line(", 0);
        long last = position(def, "@__cprof_line(", 1);
        long exit_hook = position(def, "@__cyg_profile_func_exit(", 1);
        cr_expect(enter >= 0 && first > enter, "%s: enter %ld, first line %ld", levels[i],
                  enter, first);
        cr_expect(last >= 0 && exit_hook > last, "%s: last line %ld, exit %ld", levels[i],
                  last, exit_hook);
        free(def);
        free(ir);
    }
}

/* A __cprof_line that counts hits per site and writes them to hits.txt
 * when the program ends: "function file line hits", in first-hit order. */
static const char counter_src[] =
    "#include <stdint.h>\n"
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "struct site { void *fn; const char *func; const char *file;\n"
    "              uint32_t line; uint32_t flags; };\n"
    "static const struct site *seen[256];\n"
    "static long hits[256];\n"
    "static int n;\n"
    "static void dump(void)\n"
    "{\n"
    "    FILE *f = fopen(\"hits.txt\", \"w\");\n"
    "    for (int i = 0; i < n; i++)\n"
    "        fprintf(f, \"%s %s %u %ld%s\\n\", seen[i]->func, seen[i]->file,\n"
    "                seen[i]->line, hits[i], seen[i]->flags ? \" flags\" : \"\");\n"
    "    fclose(f);\n"
    "}\n"
    "void __cprof_line(const struct site *s)\n"
    "{\n"
    "    int i = 0;\n"
    "    while (i < n && seen[i] != s)\n"
    "        i++;\n"
    "    if (i == n) {\n"
    "        if (n == 0)\n"
    "            atexit(dump);\n"
    "        if (n == 256)\n"
    "            abort();\n"
    "        seen[n++] = s;\n"
    "    }\n"
    "    hits[i]++;\n"
    "}\n";

static const char loop_src[] = "int sum(int n)\n"
                               "{\n"
                               "    int s = 0;\n"
                               "    for (int i = 0; i < n; i++) {\n"
                               "        if (i % 3 == 0)\n"
                               "            s += i;\n"
                               "        else\n"
                               "            s -= 1;\n"
                               "    }\n"
                               "    return s;\n"
                               "}\n";

static const char loop_main_src[] = "int sum(int);\n"
                                    "int main(void)\n"
                                    "{\n"
                                    "    int t = 0;\n"
                                    "    for (int k = 0; k < 3; k++)\n"
                                    "        t += sum(10);\n"
                                    "    return t == 36 ? 0 : 1;\n"
                                    "}\n";

/* Runs prog (built with counter.c) and returns the hits it wrote. */
static char *run_for_hits(const char *prog)
{
    char data[4300];
    snprintf(data, sizeof data, "CPROF_DIR=%s/data", e2e_scratch);
    struct e2e_result res;
    int status = run_env((char *[]){(char *)prog, NULL}, (char *[]){data, NULL}, &res);
    cr_assert_eq(status, 0, "%s: %d %s", prog, status, res.err);
    e2e_result_free(&res);
    char *hits = slurp("hits.txt");
    ok((char *[]){"rm", "-f", "hits.txt", NULL});
    return hits;
}

/* sum(10), three times: lines 3 and 10 once a call, the for line 1 + 11
 * + 10 = 22, and so on; "for" carries no extra hit for its back edge. */
static void expect_loop_hits(const char *hits, const char *how)
{
    static const int expected[][2] = {{3, 3},  {4, 66}, {5, 30}, {6, 12},
                                      {8, 18}, {9, 30}, {10, 3}};
    char line[4400];
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) {
        snprintf(line, sizeof line, "sum %s/loop.c %d %d\n", e2e_scratch, expected[i][0],
                 expected[i][1]);
        cr_expect(strstr(hits, line), "%s: no \"%.*s\" in\n%s", how,
                  (int)strlen(line) - 1, line, hits);
    }
    size_t n_lines = 0;
    for (const char *p = hits; (p = strchr(p, '\n')); p++)
        n_lines++;
    cr_expect_eq(n_lines, sizeof expected / sizeof *expected, "%s: %s", how, hits);
    cr_expect(!strstr(hits, "main "), "main is not selected: %s", hits);
}

/* Writes the loop program (loop.c, main.c) and the counting __cprof_line
 * (counter.c), and builds counter.o to link with the program. */
static void put_loop_program(void)
{
    e2e_scratch_put("counter.c", counter_src);
    e2e_scratch_put("loop.c", loop_src);
    e2e_scratch_put("main.c", loop_main_src);
    ok((char *[]){CC, "--cprof-no-instrument", "-O2", "-c", "counter.c", NULL});
}

/* Runs prog and checks it counted the loop program's hits exactly; how
 * says how it was built. */
static void expect_prog_hits(const char *prog, const char *how)
{
    char *hits = run_for_hits(prog);
    expect_loop_hits(hits, how);
    free(hits);
}

Test(lines_pass, hits_are_exact_and_the_same_at_every_level)
{
    put_loop_program();
    static char *const levels[] = {"-O0", "-O1", "-O2", "-O3", "-Os"};
    char *first = NULL;
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
        ok((char *[]){CC, "--cprof-lines=sum", levels[i], "-o", "prog", "loop.c",
                      "main.c", "counter.o", NULL});
        char *hits = run_for_hits("./prog");
        expect_loop_hits(hits, levels[i]);
        if (!first)
            first = hits;
        else {
            cr_expect_str_eq(hits, first, "%s against -O0", levels[i]);
            free(hits);
        }
    }
    free(first);
}

Test(lines_pass, link_time_optimisation)
{
    put_loop_program();
    ok((char *[]){CC, "--cprof-lines=sum", "-flto", "-O2", "-c", "loop.c", "main.c",
                  NULL});
    ok((char *[]){CC, "-flto", "-O2", "-o", "prog", "loop.o", "main.o", "counter.o",
                  NULL});
    expect_prog_hits("./prog", "-flto, compiled then linked");
    ok((char *[]){CC, "--cprof-lines=sum", "-flto", "-O2", "-o", "prog2", "loop.c",
                  "main.c", "counter.o", NULL});
    expect_prog_hits("./prog2", "-flto in one command");
}

Test(lines_pass, shared_library)
{
    put_loop_program();
    ok((char *[]){CC, "--cprof-lines=sum", "-O2", "-fPIC", "-shared", "-o", "libloop.so",
                  "loop.c", NULL});
    ok((char *[]){CC, "-O2", "-o", "prog", "main.c", "counter.o", "-L.", "-lloop",
                  "-Wl,-rpath,$ORIGIN", NULL});
    expect_prog_hits("./prog", "-fPIC -shared");
}
