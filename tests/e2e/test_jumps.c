/*
 * Frames left without their exits by each kind of jump: longjmp, _longjmp,
 * siglongjmp out of a signal handler, __longjmp_chk (what _FORTIFY_SOURCE
 * makes of them), setcontext back to a getcontext, and __builtin_longjmp,
 * which no library call sees.
 *
 * The program dives four calls deep into leave(), which calls big() and
 * small() and then jumps back to main; main then calls them itself. big's
 * stack frame is far larger than the five frames the jump left, so its
 * enter hook runs lower on the stack than any of theirs, and leave -> big
 * already exists in the tree: count mode's fast enter, which does not find
 * frame addresses (RT_LAZY_CFA, rt_hooks.c), would count main's big()
 * under the stale leave() unless the jump told the runtime (rt_jump.c).
 * __builtin_longjmp cannot: main calls small() first there, whose hook
 * runs higher than leave's, which sends it to the full enter. Every mode
 * must give each call its true caller and close the five frames of each
 * round as repaired.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "e2e_audited.h"
#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"

TestSuite(jumps, .init = e2e_scratch_init, .fini = e2e_scratch_fini, .timeout = 240);

static const char jumps_src[] =
    "#define _GNU_SOURCE\n"
    "#include <setjmp.h>\n"
    "#include <signal.h>\n"
    "#include <string.h>\n"
    "#include <ucontext.h>\n"
    "static jmp_buf jb;\n"
    "static sigjmp_buf sjb;\n"
    "static void *bjb[5];\n"
    "static ucontext_t main_ctx;\n"
    "static volatile int ctx_jumped;\n"
    "static const char *how;\n"
    "__attribute__((noinline)) int big(int i) {\n"
    "    volatile char pad[8192]; pad[i] = (char)i; return pad[i]; }\n"
    "__attribute__((noinline)) int small(int i) { return i + 1; }\n"
    "__attribute__((noinline)) void leave(void) {\n"
    "    big(0); small(0);\n"
    "    if (!strcmp(how, \"longjmp\")) longjmp(jb, 1);\n"
    "    if (!strcmp(how, \"_longjmp\")) _longjmp(jb, 1);\n"
    "    if (!strcmp(how, \"siglongjmp\")) raise(SIGUSR1);\n"
    "    if (!strcmp(how, \"builtin\")) __builtin_longjmp(bjb, 1);\n"
    "    if (!strcmp(how, \"setcontext\")) { ctx_jumped = 1; setcontext(&main_ctx); } }\n"
    "__attribute__((noinline)) void on_signal(int sig) {\n"
    "    (void)sig; big(0); small(0); siglongjmp(sjb, 1); }\n"
    "__attribute__((noinline)) void dive(int n) { if (n) dive(n - 1); else leave(); }\n"
    "int main(int argc, char **argv) {\n"
    "    how = argc > 1 ? argv[1] : \"longjmp\";\n"
    "    signal(SIGUSR1, on_signal);\n"
    "    for (int i = 0; i < 100; i++) {\n"
    "        if (!strcmp(how, \"siglongjmp\")) { if (!sigsetjmp(sjb, 1)) dive(3); }\n"
    "        else if (!strcmp(how, \"builtin\")) { if (!__builtin_setjmp(bjb)) dive(3); "
    "}\n"
    "        else if (!strcmp(how, \"setcontext\")) {\n"
    "            ctx_jumped = 0; getcontext(&main_ctx); if (!ctx_jumped) dive(3); }\n"
    "        else if (!setjmp(jb)) dive(3);\n"
    "        if (!strcmp(how, \"builtin\")) { small(i); big(i); }\n"
    "        else { big(i); small(i); }\n"
    "    }\n"
    "    return 0; }\n";

/* `cprof graph --format csv` of the data directory data (in the scratch
 * directory), parsed into csv. */
static void graph_of(const char *data, struct e2e_csv *csv)
{
    struct e2e_result res;
    char *argv[] = {CPROF, "graph", "--format", "csv", (char *)data, NULL};
    cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "cprof graph %s: %s", data,
                 res.err);
    cr_assert_eq(e2e_csv_parse(res.out, csv), 0, "cprof graph %s: %s", data, res.out);
    cr_assert(e2e_csv_column(csv, "calls") >= 0, "cprof graph %s: %s", data, res.out);
    e2e_result_free(&res);
}

/* The calls of callee made by caller in graph; 0 when there is no such
 * edge. */
static long long edge_calls(const struct e2e_csv *graph, const char *caller,
                            const char *callee)
{
    size_t r = e2e_csv_edge(graph, caller, callee);
    return r ? atoll(e2e_csv_cell(graph, r, e2e_csv_column(graph, "calls"))) : 0;
}

/* Runs ./prog how in every mode and checks the callers, counts and
 * repairs the comment at the top gives. */
static void check_jumps(const char *prog, const char *how)
{
    int handler = !strcmp(how, "siglongjmp");
    for (size_t m = 0; m < E2E_N_MODES; m++) {
        struct e2e_audited r;
        e2e_audited_run(&r, prog, how, e2e_modes[m], NULL);
        char st[128];
        cr_assert(WIFEXITED(r.prog.status) && WEXITSTATUS(r.prog.status) == 0,
                  "%s %s: %s: %s", how, r.mode, e2e_status_str(&r.prog, st, sizeof st),
                  r.prog.err);
        cr_expect_eq(e2e_audited_calls(&r, "big"), 200 + 100 * handler, "%s %s", how,
                     r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "small"), 200 + 100 * handler, "%s %s", how,
                     r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "dive"), 400, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "leave"), 100, "%s %s", how, r.mode);
        cr_expect_eq(e2e_audited_calls(&r, "main"), 1, "%s %s", how, r.mode);
        struct e2e_csv g;
        graph_of(r.data, &g);
        cr_expect_eq(edge_calls(&g, "main", "big"), 100, "%s %s: big under main", how,
                     r.mode);
        cr_expect_eq(edge_calls(&g, "main", "small"), 100, "%s %s: small under main", how,
                     r.mode);
        cr_expect_eq(edge_calls(&g, "leave", "big"), 100, "%s %s: big under leave", how,
                     r.mode);
        cr_expect_eq(edge_calls(&g, "leave", "small"), 100, "%s %s: small under leave",
                     how, r.mode);
        e2e_csv_free(&g);
        cr_expect_eq(e2e_audited_sum(&r, "repaired_longjmp"), 500 + 100 * handler,
                     "%s %s: %s", how, r.mode, e2e_audited_verdict(&r));
        cr_expect_eq(e2e_audited_sum(&r, "unmatched_exits"), 0, "%s %s", how, r.mode);
        e2e_audited_free(&r);
    }
}

static void build(const char *name, int fortify)
{
    if (fortify)
        e2e_scratch_build(name, jumps_src,
                          (char *[]){"-O2", "-g", "-D_FORTIFY_SOURCE=2", NULL});
    else
        e2e_scratch_build(name, jumps_src, (char *[]){"-O1", "-g", NULL});
}

Test(jumps, longjmp)
{
    build("jumps", 0);
    check_jumps("jumps", "longjmp");
}

Test(jumps, underscore_longjmp)
{
    build("jumps", 0);
    check_jumps("jumps", "_longjmp");
}

Test(jumps, siglongjmp_out_of_a_signal_handler)
{
    build("jumps", 0);
    check_jumps("jumps", "siglongjmp");
}

Test(jumps, setcontext_back_to_getcontext)
{
    build("jumps", 0);
    check_jumps("jumps", "setcontext");
}

/* _FORTIFY_SOURCE turns all three longjmps into __longjmp_chk. */
static void build_fortified(void)
{
    build("jumps", 1);
    struct e2e_result res;
    char *argv[] = {"nm", "-D", "jumps", NULL};
    cr_assert_eq(e2e_scratch_run_plain(argv, &res), 0, "nm: %s", res.err);
    cr_assert(strstr(res.out, "U __longjmp_chk"), "no __longjmp_chk: %s", res.out);
    e2e_result_free(&res);
}

Test(jumps, longjmp_chk_of_fortify_source)
{
    build_fortified();
    check_jumps("jumps", "longjmp");
}

Test(jumps, siglongjmp_chk_of_fortify_source)
{
    build_fortified();
    check_jumps("jumps", "siglongjmp");
}

Test(jumps, builtin_longjmp_seen_by_stack_position)
{
    build("jumps", 0);
    check_jumps("jumps", "builtin");
}
