/*
 * Implementation of the per-mode program runner declared in e2e_rtprog.h.
 */
#include "e2e_rtprog.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "e2e_mp.h"
#include "e2e_util.h"

static const char *const modes[] = {"summary", "trace", "count"};
#define N_MODES (sizeof modes / sizeof *modes)

void e2e_rtprog_make_dir(struct e2e_rtprog *r)
{
    char tag[256];
    snprintf(tag, sizeof tag, "cprof-%s", criterion_current_suite->name);
    r->dir = e2e_make_temp_dir(NULL, tag);
    cr_assert(r->dir, "cannot make a scratch directory for %s", tag);
    snprintf(r->prog, sizeof r->prog, "%s/prog", r->dir);
    snprintf(r->data, sizeof r->data, "%s/data", r->dir);
}

void e2e_rtprog_put(const struct e2e_rtprog *r, const char *name, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    cr_assert_eq(e2e_write_file(path, text), 0, "cannot write %s", path);
}

void e2e_rtprog_read_head(const msgpack_object *header, void *ctx)
{
    struct e2e_rtprog_head *head = ctx;
    e2e_mp_copy_str(head->mode, sizeof head->mode, e2e_mp_get(header, "mode"));
    head->fork_child = e2e_mp_get(header, "fork_parent") != NULL;
}

struct read_ctx {
    struct e2e_rtprog *r;
    const struct e2e_rtprog_ops *ops;
};

/* For e2e_each_file: reads a file of the current run into r->f, or into
 * r->child when a forked child wrote it. */
static void read_run_file(const char *path, void *ctx)
{
    struct read_ctx *c = ctx;
    struct e2e_rtprog *r = c->r;
    struct e2e_rtprog_head *file = c->ops->read(path, r);
    cr_assert_str_eq(file->mode, r->mode, "%s: the header's mode", path);
    if (file->fork_child) {
        cr_assert(r->with_child, "%s: an unexpected forked child's file", r->scenario);
        free(r->child);
        r->child = file;
        r->n_children++;
    } else {
        free(r->f);
        r->f = file;
        r->n_files++;
    }
}

/* Runs the scenario in r->mode and reads the files it wrote. */
static void run_mode(struct e2e_rtprog *r, const struct e2e_rtprog_ops *ops)
{
    char env_dir[600], env_mode[64];
    snprintf(env_dir, sizeof env_dir, "CPROF_DIR=%s", r->data);
    snprintf(env_mode, sizeof env_mode, "CPROF_MODE=%s", r->mode);
    char *env[] = {env_dir, env_mode, NULL};
    char *argv[] = {r->prog, (char *)r->scenario, NULL};
    char *unset[] = {"CPROF_VERBOSE", "LD_PRELOAD", NULL};
    e2e_remove_tree(r->data);
    struct e2e_result res;
    cr_assert_eq(e2e_run(r->dir, argv, env, unset, 60, &res), 0);
    char how[128];
    cr_assert(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0,
              "%s %s: the program failed (%s): %s", r->scenario, r->mode,
              e2e_status_str(&res, how, sizeof how), res.out);
    r->out = strdup(res.out);
    cr_assert(r->out);
    e2e_result_free(&res);
    r->n_files = r->n_children = 0;
    struct read_ctx ctx = {r, ops};
    e2e_each_file(r->data, ".cprof", read_run_file, &ctx);
    cr_assert_eq(r->n_files, 1, "%s %s: %d files of the process", r->scenario, r->mode,
                 r->n_files);
    cr_assert_eq(r->n_children, r->with_child ? 1 : 0, "%s %s: %d files of children",
                 r->scenario, r->mode, r->n_children);
}

int e2e_rtprog_next(struct e2e_rtprog *r, const struct e2e_rtprog_ops *ops)
{
    free(r->out);
    free(r->f);
    free(r->child);
    r->out = NULL;
    r->f = r->child = NULL;
    if (r->done == (r->summary_only ? 1 : N_MODES)) {
        e2e_remove_tree(r->dir);
        free(r->dir);
        r->dir = NULL;
        return 0;
    }
    if (!r->dir) {
        e2e_rtprog_make_dir(r);
        ops->build(r);
    }
    r->mode = modes[r->done++];
    run_mode(r, ops);
    return 1;
}
