/*
 * Building small instrumented programs for the unit tests that need real
 * runtime output: the source is written to <dir>/<name>.c and compiled
 * with clang -finstrument-functions against this build tree's runtime.
 */
#ifndef CPROF_TEST_TESTPROG_H
#define CPROF_TEST_TESTPROG_H

/* Builds <dir>/<name> from src; extra is appended to the compile command
 * (e.g. " && nm <dir>/<name> > <dir>/nm"), "" for nothing. Fails the
 * test when the build fails. */
void tp_build(const char *dir, const char *name, const char *src, const char *extra);

#endif
