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

int e2e_scratch_run_plain(char *const argv[], struct e2e_result *res)
{
    static char *const unset[] = {"CPROF_DIR", "CPROF_MODE", "CPROF_VERBOSE", NULL};
    return e2e_scratch_run(argv, NULL, unset, res);
}

void e2e_scratch_build(const char *name, const char *text, char *const flags[])
{
    char src[300], out[300];
    snprintf(src, sizeof src, "%s.c", name);
    snprintf(out, sizeof out, "%s", name);
    e2e_scratch_put(src, text);
    char *argv[32] = {CPROF_BINARY_DIR "/bin/cprof-cc"};
    int argc = 1;
    for (int i = 0; flags && flags[i]; i++) {
        cr_assert_lt(argc, 27, "too many flags to build %s", name);
        argv[argc++] = flags[i];
    }
    argv[argc++] = "-o";
    argv[argc++] = out;
    argv[argc++] = src;
    argv[argc++] = "-lpthread";
    struct e2e_result res;
    int status = e2e_scratch_run(argv, NULL, NULL, &res);
    cr_assert_eq(status, 0, "cannot build %s (%d): %s", name, status, res.err);
    e2e_result_free(&res);
}

void e2e_scratch_record(const char *prog, const char *mode, const char *data)
{
    char path[300], dir_env[300], mode_env[64];
    snprintf(path, sizeof path, "./%s", prog);
    snprintf(dir_env, sizeof dir_env, "CPROF_DIR=%s", data);
    snprintf(mode_env, sizeof mode_env, "CPROF_MODE=%s", mode);
    char *argv[] = {path, NULL};
    char *env[] = {dir_env, mode_env, NULL};
    char *unset[] = {"CPROF_VERBOSE", NULL};
    struct e2e_result res;
    int status = e2e_scratch_run(argv, env, unset, &res);
    cr_assert_eq(status, 0, "%s in %s mode (%d): %s", prog, mode, status, res.err);
    e2e_result_free(&res);
}
