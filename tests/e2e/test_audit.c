/*
 * `cprof audit` end to end over samples/: each sample (fib, longjmp,
 * exit_deep, threads, fork) is built with cprof-cc and run, in summary and
 * trace mode; its data must audit as exact (status 0), its
 * samples/<name>/expected file (`name calls` lines, `!` directives the
 * audit skips) must hold as an expectation file, an expectation file
 * written by --write-expect must hold too, and an edited one must fail
 * with status 4 listing the mismatch. The longjmp sample's report must
 * show its 500 repaired frames.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"
#define SAMPLES CPROF_SOURCE_DIR "/samples"

TestSuite(audit_cli, .init = e2e_scratch_init, .fini = e2e_scratch_fini);

/* Builds samples/<sample>/main.c as ./prog and runs it in mode with its
 * data in ./data; exit is the status the sample ends with. */
static void run_sample(const char *sample, const char *mode, int exit)
{
    char src[512];
    snprintf(src, sizeof src, "%s/%s/main.c", SAMPLES, sample);
    char *build[] = {
        CPROF_BINARY_DIR "/bin/cprof-cc", "-O2", "-o", "prog", src, "-lpthread", NULL};
    struct e2e_result res;
    int status = e2e_scratch_run(build, NULL, NULL, &res);
    cr_assert_eq(status, 0, "%s: cannot build (%d): %s", sample, status, res.err);
    e2e_result_free(&res);
    char mode_env[64];
    snprintf(mode_env, sizeof mode_env, "CPROF_MODE=%s", mode);
    char *env[] = {"CPROF_DIR=data", mode_env, NULL};
    char *unset[] = {"CPROF_VERBOSE", NULL};
    status = e2e_scratch_run((char *[]){"./prog", NULL}, env, unset, &res);
    cr_assert_eq(status, exit, "%s in %s mode ended with %d: %s", sample, mode, status,
                 res.err);
    e2e_result_free(&res);
}

/* Runs `cprof audit ARGS... data`; returns its status, res its output. */
static int audit(const char *const *args, struct e2e_result *res)
{
    char *argv[16] = {CPROF, "audit"};
    int argc = 2;
    for (int i = 0; args && args[i]; i++)
        argv[argc++] = (char *)args[i];
    argv[argc++] = "data";
    argv[argc] = NULL;
    return e2e_scratch_run_plain(argv, res);
}

/* The checks every sample must pass in mode. */
static void check_sample(const char *sample, const char *mode, int exit)
{
    run_sample(sample, mode, exit);
    struct e2e_result res;
    int status = audit(NULL, &res);
    cr_expect_eq(status, 0, "%s %s: audit %d:\n%s%s", sample, mode, status, res.out,
                 res.err);
    cr_expect(strstr(res.out, "exactness: exact: nothing lost"), "%s", res.out);
    e2e_result_free(&res);

    char expected[512];
    snprintf(expected, sizeof expected, "%s/%s/expected", SAMPLES, sample);
    status = audit((const char *[]){"--expect", expected, NULL}, &res);
    cr_expect_eq(status, 0, "%s %s: --expect %s: %d:\n%s%s", sample, mode, expected,
                 status, res.out, res.err);
    cr_expect(strstr(res.out, "expectations of"), "%s", res.out);
    e2e_result_free(&res);

    status = audit((const char *[]){"--write-expect", "written", NULL}, &res);
    cr_assert_eq(status, 0, "%s: --write-expect: %s", sample, res.err);
    e2e_result_free(&res);
    status = audit((const char *[]){"--expect", "written", NULL}, &res);
    cr_expect_eq(status, 0, "%s %s: round trip %d:\n%s%s", sample, mode, status, res.out,
                 res.err);
    e2e_result_free(&res);
}

/* The samples audited: name, mode, the exit status the sample ends with. */
#define AUDIT_SAMPLES(X)                                                                 \
    X(fib, summary, 0)                                                                   \
    X(longjmp, trace, 0)                                                                 \
    X(exit_deep, summary, 3)                                                             \
    X(threads, summary, 0)                                                               \
    X(fork, summary, 0)                                                                  \
    X(fork, trace, 0)

#define AUDIT_SAMPLE_TEST(sample, mode, exit)                                            \
    Test(audit_cli, sample##_##mode, .timeout = 240)                                     \
    {                                                                                    \
        check_sample(#sample, #mode, exit);                                              \
    }
AUDIT_SAMPLES(AUDIT_SAMPLE_TEST)

/* The exactness report shows the frames the longjmps skipped, repaired. */
Test(audit_cli, longjmp_shows_repaired_frames, .timeout = 240)
{
    run_sample("longjmp", "summary", 0);
    struct e2e_result res;
    cr_expect_eq(audit(NULL, &res), 0, "%s", res.err);
    cr_expect(strstr(res.out, "500 after longjmp"), "%s", res.out);
    cr_expect(strstr(res.out, "500 frames repaired"), "%s", res.out);
    e2e_result_free(&res);
    cr_expect_eq(audit((const char *[]){"--format", "json", NULL}, &res), 0);
    cr_expect(strstr(res.out, "\"repaired_longjmp\": 500"), "%s", res.out);
    cr_expect(strstr(res.out, "\"balanced\": true"), "%s", res.out);
    e2e_result_free(&res);
}

/* An expectation edited away from the run fails, listing it. */
Test(audit_cli, edited_expectation_fails, .timeout = 240)
{
    run_sample("fib", "summary", 0);
    e2e_scratch_put("edited", "# fib with one call too many\nmain 1\nfib 242786\n"
                              "fib 242785..242790\n");
    struct e2e_result res;
    int status = audit((const char *[]){"--expect", "edited", NULL}, &res);
    cr_expect_eq(status, 4, "%d:\n%s%s", status, res.out, res.err);
    cr_expect(strstr(res.out, "mismatch: fib expected 242786, got 242785 (edited:3)"),
              "%s", res.out);
    cr_expect(strstr(res.out, "1 of 3 expectations of edited not met"), "%s", res.out);
    e2e_result_free(&res);
}
