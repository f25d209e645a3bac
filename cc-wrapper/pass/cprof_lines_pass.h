/*
 * The line-instrumentation pass, as the C++ shim that registers it with
 * clang's pass pipeline sees it: one function over one module. The logic is
 * in cprof_lines_pass.c (LLVM-C API); the shim (cprof_lines_plugin.cpp)
 * only wraps the module.
 */
#ifndef CPROF_LINES_PASS_H
#define CPROF_LINES_PASS_H

#include <llvm-c/Types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Adds the __cprof_line calls (common/cprof_lines.h) to the functions of m
 * whose names match the globs in $CPROF_LINES_PASS_PATTERNS; warns on
 * stderr when a selected function cannot be instrumented. Returns 1 when m
 * was changed, 0 when not. */
int cprof_lines_run(LLVMModuleRef m);

#ifdef __cplusplus
}
#endif

#endif
