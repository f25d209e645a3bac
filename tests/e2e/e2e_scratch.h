/*
 * A scratch directory per test, for the suites whose tests build and run
 * things in one (test_cc_wrapper.c, test_lines_pass.c, test_heap_cli.c,
 * test_lines_cli.c): name
 * e2e_scratch_init and e2e_scratch_fini as the suite's .init and .fini,
 *
 *     TestSuite(name, .init = e2e_scratch_init, .fini = e2e_scratch_fini);
 *
 * and each test gets a fresh, empty e2e_scratch (Criterion runs every test
 * with its init and fini in a process of its own), removed with everything
 * in it after the test. Unlike e2e_util, these helpers fail the running
 * test themselves when something cannot be done.
 */
#ifndef CPROF_E2E_SCRATCH_H
#define CPROF_E2E_SCRATCH_H

#include "e2e_util.h"

/* The current test's scratch directory. */
extern char *e2e_scratch;

/* A suite's .init: makes e2e_scratch, "cprof-<suite>.XXXXXX" in $TMPDIR. */
void e2e_scratch_init(void);

/* A suite's .fini: removes e2e_scratch and everything in it. */
void e2e_scratch_fini(void);

/* Writes text to the file name in the scratch directory. */
void e2e_scratch_put(const char *name, const char *text);

/* Runs argv in the scratch directory, as e2e_run with a limit of 240 s,
 * env added to and unset removed from the environment (either may be
 * NULL). Returns the exit status, 128 + the signal number when a signal
 * ended the command. */
int e2e_scratch_run(char *const argv[], char *const env[], char *const unset[],
                    struct e2e_result *res);

/* e2e_scratch_run with no environment of cprof's (CPROF_DIR, CPROF_MODE,
 * CPROF_VERBOSE) from the test's: for the tools and programs whose
 * output the test compares. */
int e2e_scratch_run_plain(char *const argv[], struct e2e_result *res);

/* Writes text to <name>.c in the scratch directory and builds it there as
 * <name> with cprof-cc, flags (NULL terminated, may be NULL) and
 * -lpthread. Fails the test when it does not build. */
void e2e_scratch_build(const char *name, const char *text, char *const flags[]);

/* Runs ./<prog> in the scratch directory in cprof mode mode (CPROF_MODE),
 * writing its data into the directory data there (CPROF_DIR). Fails the
 * test unless it exits 0. */
void e2e_scratch_record(const char *prog, const char *mode, const char *data);

#endif
