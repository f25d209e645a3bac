/*
 * Implementation of the per-test scratch directory declared in
 * e2e_scratch.h.
 */
#include "e2e_scratch.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

char *e2e_scratch;

void e2e_scratch_init(void)
{
    char tag[256];
    snprintf(tag, sizeof tag, "cprof-%s", criterion_current_suite->name);
    e2e_scratch = e2e_make_temp_dir(NULL, tag);
    cr_assert(e2e_scratch, "cannot make a scratch directory for %s", tag);
}

void e2e_scratch_fini(void)
{
    e2e_remove_tree(e2e_scratch);
    free(e2e_scratch);
    e2e_scratch = NULL;
}

void e2e_scratch_put(const char *name, const char *text)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", e2e_scratch, name);
    cr_assert_eq(e2e_write_file(path, text), 0, "cannot write %s", path);
}

int e2e_scratch_run(char *const argv[], char *const env[], char *const unset[],
                    struct e2e_result *res)
{
    cr_assert_eq(e2e_run(e2e_scratch, argv, env, unset, 240, res), 0, "cannot run %s",
                 argv[0]);
    return WIFEXITED(res->status) ? WEXITSTATUS(res->status)
                                  : 128 + WTERMSIG(res->status);
}
