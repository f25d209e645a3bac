/*
 * Building instrumented test programs; see testprog.h.
 */
#include "testprog.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

void tp_build(const char *dir, const char *name, const char *src, const char *extra)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.c", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs(src, f);
    fclose(f);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "clang -O2 -g -finstrument-functions -o %s/%s %s -lpthread -L%s/lib/cprof "
             "-Wl,-rpath,%s/lib/cprof -lcprof-rt%s",
             dir, name, path, CPROF_BINARY_DIR, CPROF_BINARY_DIR, extra);
    cr_assert_eq(system(cmd), 0, "cannot build the test program: %s", cmd);
}
