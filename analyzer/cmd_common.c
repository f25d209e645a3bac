/*
 * Option values, loading and finishing shared by the subcommands; see
 * cmd_common.h.
 */
#include "cmd_common.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

int cmd_format_arg(const char *cmd, const char *arg, const struct fmt_ops **format)
{
    if ((*format = fmt_find(arg)))
        return 0;
    cprof_error("%s: unknown format '%s' (text, json or csv)", cmd, arg);
    return -1;
}

int cmd_id_arg(const char *cmd, const char *opt, const char *arg, uint64_t *id)
{
    if (cprof_parse_u64(arg, id) == 0 && *id != 0)
        return 0;
    cprof_error("%s: --%s wants a process or thread id, not '%s'", cmd, opt, arg);
    return -1;
}

void cmd_bad_option(const char *cmd, int optopt, const char *with_value, const char *arg)
{
    if (optopt)
        cprof_error("%s: option '-%c' %s", cmd, optopt,
                    strchr(with_value, optopt) ? "needs a value" : "is unknown");
    else
        cprof_error("%s: unknown option '%s'", cmd, arg);
    fprintf(stderr, "(cprof %s --help lists the options)\n", cmd);
}

int cmd_load(struct model *m, const struct m_filter *filter, char *const *paths,
             size_t npaths, int *nothing)
{
    m->filter = *filter;
    int status = CPROF_EXIT_OK;
    if (npaths == 0)
        status = model_load_path(m, CMD_DEFAULT_DATA);
    for (size_t i = 0; i < npaths; i++)
        if (model_load_path(m, paths[i]) != CPROF_EXIT_OK)
            status = CPROF_EXIT_DATA;
    *nothing = m->nprocs == 0;
    if (*nothing) {
        if (status == CPROF_EXIT_OK)
            cprof_error("no process with pid %llu in the data",
                        (unsigned long long)filter->pid);
        return CPROF_EXIT_DATA;
    }
    size_t threads = 0;
    for (size_t i = 0; i < m->nprocs; i++)
        threads += m->procs[i]->nthreads;
    if (filter->tid && threads == 0)
        warn_add(&m->warnings, "no thread with tid %llu in the data",
                 (unsigned long long)filter->tid);
    return status;
}

int cmd_finish(const char *cmd, const struct model *m, const struct fmt_ops *format,
               int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cprof_error("%s: cannot write the output", cmd);
        status = CPROF_EXIT_DATA;
    }
    /* damaged or cut-short input: shown as far as it goes, but an error */
    for (size_t i = 0; i < m->damage.count; i++) {
        if (format != &fmt_csv)
            cprof_error("%s", m->damage.text[i]);
        status = CPROF_EXIT_DATA;
    }
    return status;
}

const char *cmd_short_path(const char *path, const char *cwd)
{
    size_t n = strlen(cwd);
    if (n > 1 && !strncmp(path, cwd, n) && path[n] == '/' && path[n + 1])
        return path + n + 1;
    return path;
}
