/*
 * Runs of a test program in one recording mode, read back through the
 * command line only: `cprof report --format csv` for exact call counts and
 * `cprof audit --format json` for how the process ended and what was lost.
 * Shared by the stress and crash tests (test_stress.c, test_crash.c); the
 * program is built and run in the e2e scratch directory (e2e_scratch.h).
 */
#ifndef CPROF_E2E_AUDITED_H
#define CPROF_E2E_AUDITED_H

#include "e2e_util.h"

/* The recording modes every test runs its program in. */
extern const char *const e2e_modes[3];
#define E2E_N_MODES 3

struct e2e_audited {
    const char *mode;
    char data[64];          /* its data directory, in the scratch directory */
    struct e2e_result prog; /* the program's run: prog.status is its wait status */
    char *report;           /* `cprof report --format csv` */
    int report_status;
    char *audit; /* `cprof audit --format json` */
    int audit_status;
};

/* Sets r up for a run in mode with its data in data-<mode>. */
void e2e_audited_init(struct e2e_audited *r, const char *mode);
/* Reads the report and the audit of r's data. */
void e2e_audited_analyse(struct e2e_audited *r);
/* Runs ./<prog> <arg> (arg may be NULL) in mode, env added (NULL-terminated,
 * may be NULL), then analyses it. The program may end in any way; it must
 * not hang (120 s). */
void e2e_audited_run(struct e2e_audited *r, const char *prog, const char *arg,
                     const char *mode, char *const env[]);
void e2e_audited_free(struct e2e_audited *r);

/* The calls of fn in the run's report, 0 when it has no row; fails the
 * test when the report failed or is not a report's CSV. */
long long e2e_audited_calls(const struct e2e_audited *r, const char *fn);
/* The sum of every number the audit's per-process part gives key
 * ("key": N), over processes or threads; -1 when no such key has one. */
long long e2e_audited_sum(const struct e2e_audited *r, const char *key);
/* How many times text appears in the audit's per-process part. */
int e2e_audited_count(const struct e2e_audited *r, const char *text);
/* The audit's verdict object, for messages (the whole JSON can be long). */
const char *e2e_audited_verdict(const struct e2e_audited *r);

#endif
