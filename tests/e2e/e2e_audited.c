/* See e2e_audited.h. */
#include "e2e_audited.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"

const char *const e2e_modes[3] = {"summary", "trace", "count"};

/* Runs `cprof <cmd> --format <fmt> <data>` in the scratch directory; the
 * output is the caller's to free. */
static char *cprof_output(const char *cmd, const char *fmt, const char *data, int *status)
{
    struct e2e_result res;
    char *argv[] = {CPROF, (char *)cmd, "--format", (char *)fmt, (char *)data, NULL};
    *status = e2e_scratch_run_plain(argv, &res);
    char *out = strdup(res.out);
    cr_assert(out);
    e2e_result_free(&res);
    return out;
}

void e2e_audited_init(struct e2e_audited *r, const char *mode)
{
    memset(r, 0, sizeof *r);
    r->mode = mode;
    snprintf(r->data, sizeof r->data, "data-%s", mode);
}

void e2e_audited_analyse(struct e2e_audited *r)
{
    r->report = cprof_output("report", "csv", r->data, &r->report_status);
    r->audit = cprof_output("audit", "json", r->data, &r->audit_status);
}

void e2e_audited_run(struct e2e_audited *r, const char *prog, const char *arg,
                     const char *mode, char *const env[])
{
    e2e_audited_init(r, mode);
    char path[300], mode_env[64], dir_env[128];
    snprintf(path, sizeof path, "./%s", prog);
    snprintf(mode_env, sizeof mode_env, "CPROF_MODE=%s", mode);
    snprintf(dir_env, sizeof dir_env, "CPROF_DIR=%s", r->data);
    char *full_env[12] = {mode_env, dir_env};
    for (int i = 0; env && env[i]; i++) {
        cr_assert_lt(i, 9);
        full_env[i + 2] = env[i];
    }
    char *argv[] = {path, (char *)arg, NULL};
    char *unset[] = {"CPROF_VERBOSE",   "CPROF_START",     "CPROF_SIGNAL",
                     "CPROF_MAX_DEPTH", "CPROF_MAX_NODES", "CPROF_TRACE_BUFFER",
                     "LD_PRELOAD",      "CPROF_TRACE_MAX", NULL};
    cr_assert_eq(e2e_run(e2e_scratch, argv, full_env, unset, 120, &r->prog), 0,
                 "cannot run %s", path);
    cr_assert(!r->prog.timed_out, "%s %s in %s mode hung (killed after 120 s)", prog,
              arg ? arg : "", mode);
    e2e_audited_analyse(r);
}

void e2e_audited_free(struct e2e_audited *r)
{
    e2e_result_free(&r->prog);
    free(r->report);
    free(r->audit);
}

long long e2e_audited_calls(const struct e2e_audited *r, const char *fn)
{
    cr_assert_eq(r->report_status, 0, "%s: cprof report failed (%d)", r->mode,
                 r->report_status);
    long long n = e2e_report_calls(r->report, fn);
    cr_assert_neq(n, -2, "%s: not a report CSV:\n%s", r->mode, r->report);
    return n < 0 ? 0 : n;
}

/* The audit's per-process part (its "run" part repeats some keys). */
static const char *audit_processes(const struct e2e_audited *r)
{
    const char *p = strstr(r->audit, "\n  \"processes\": [");
    cr_assert(p, "%s: not an audit's JSON (status %d):\n%s", r->mode, r->audit_status,
              r->audit);
    return p;
}

long long e2e_audited_sum(const struct e2e_audited *r, const char *key)
{
    char pat[80];
    int n = snprintf(pat, sizeof pat, "\"%s\": ", key);
    long long sum = -1;
    for (const char *p = strstr(audit_processes(r), pat); p; p = strstr(p + n, pat)) {
        char *end;
        long long v = strtoll(p + n, &end, 10);
        if (end != p + n)
            sum = (sum < 0 ? 0 : sum) + v;
    }
    return sum;
}

int e2e_audited_count(const struct e2e_audited *r, const char *text)
{
    int n = 0;
    for (const char *p = strstr(audit_processes(r), text); p; p = strstr(p + 1, text))
        n++;
    return n;
}

const char *e2e_audited_verdict(const struct e2e_audited *r)
{
    const char *v = strstr(r->audit, "\"audit\":");
    return v ? v : r->audit;
}
