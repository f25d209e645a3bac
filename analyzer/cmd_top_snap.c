/*
 * `cprof top`'s snapshots (see cmd_top.h): which live files to read, loading
 * them into a model, and the per-function figures built from it, the last
 * interval's taken against the snapshot before. What it builds is drawn by
 * cmd_top_view.c and read on the command's schedule (cmd_top.c); this part
 * neither prints nor waits.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_common.h"
#include "cprof_format.h"
#include "hashmap.h"
#include "model.h"
#include "profile.h"
#include "cmd_top.h"
#include "util.h"

/* ---- the functions of one snapshot, and of the one before ------------- */

void top_snap_free(struct top_snap *s)
{
    for (size_t i = 0; i < s->nfns; i++)
        free(s->fns[i].location);
    free(s->fns);
    hm_strings_free(&s->keys);
    free(s->who);
    memset(s, 0, sizeof(*s));
}

static void top_add(struct top_snap *s, size_t *cap, const struct pf_row *r,
                    const char *cwd)
{
    const char *name = r->name && r->name[0] ? r->name : "?";
    const char *module = r->module ? r->module : "";
    size_t nn = strlen(name), nm = strlen(module);
    char *key = cprof_xmalloc(nn + nm + 2);
    memcpy(key, name, nn + 1);
    memcpy(key + nn + 1, module, nm + 1);
    uint32_t at = hm_strings_add(&s->keys, key, nn + 1 + nm);
    free(key);
    if (at < s->nfns) { /* one name twice in a module (statics): one row */
        s->fns[at].calls += r->calls;
        s->fns[at].self_ns += r->self_ns;
        return;
    }
    cprof_grow(&s->fns, cap, s->nfns + 1, sizeof(*s->fns));
    struct top_fn *f = &s->fns[s->nfns++];
    memset(f, 0, sizeof(*f));
    f->name = s->keys.items[at].s;
    f->location = cmd_location(r->file ? r->file : "", module, r->line, cwd);
    f->calls = r->calls;
    f->self_ns = r->self_ns;
}

/* Builds s from the model; the figures of prev (may be empty) give the
 * last interval's. */
void top_snap_build(struct top_snap *s, const struct model *m, struct sym_cache *syms,
                    const struct top_snap *prev)
{
    struct profile pf;
    profile_build(m, syms, &pf);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    size_t cap = 0;
    for (size_t i = 0; i < pf.nrows; i++)
        top_add(s, &cap, &pf.rows[i], cwd);
    s->total_calls = pf.total_calls;
    s->total_self_ns = pf.total_self_ns;
    s->timed = pf.timed;
    profile_free(&pf);

    struct strbuf who = {0};
    s->nprocs = m->nprocs;
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct m_process *p = m->procs[i];
        s->nthreads += p->nthreads;
        if (p->ns_per_tick > 0 && p->end_ticks > p->start_ticks) {
            double e = (double)(p->end_ticks - p->start_ticks) * p->ns_per_tick;
            if (e > s->elapsed_ns)
                s->elapsed_ns = e;
        }
        if (i < 4) {
            const char *exe = p->exe ? p->exe : "?";
            const char *base = strrchr(exe, '/');
            sb_printf(&who, "%s%s %llu", i ? ", " : "", base ? base + 1 : exe,
                      (unsigned long long)p->pid);
        } else if (i == 4) {
            sb_printf(&who, ", ... (%zu processes)", m->nprocs);
        }
    }
    s->who = who.len ? who.s : cprof_xstrdup("");

    for (size_t i = 0; i < s->nfns; i++) {
        struct top_fn *f = &s->fns[i];
        const struct hm_string *key = &s->keys.items[i];
        uint32_t at = hm_strings_find(&prev->keys, key->s, key->n);
        uint64_t pc = at != HM_NONE ? prev->fns[at].calls : 0;
        double ps = at != HM_NONE ? prev->fns[at].self_ns : 0;
        /* a process gone since: its totals left the sum; never negative */
        f->d_calls = f->calls > pc ? f->calls - pc : 0;
        f->d_self_ns = f->self_ns > ps ? f->self_ns - ps : 0;
    }
}

/* ---- which files to read ---------------------------------------------- */

int top_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int top_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The snapshot files to read now: path itself when it is a file, else the
 * *.live.cprof files in the directory (only pid's when pid is not 0). */
char **top_list(const char *path, uint64_t pid, size_t *count)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct stat st;
    *count = 0;
    if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
        names = cprof_xcalloc(1, sizeof(char *));
        names[0] = cprof_xstrdup(path);
        *count = 1;
        return names;
    }
    DIR *d = opendir(path);
    if (!d)
        return NULL;
    struct dirent *e;
    char want[32];
    snprintf(want, sizeof want, ".%llu" TOP_LIVE_SUFFIX, (unsigned long long)pid);
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !top_has_suffix(e->d_name, TOP_LIVE_SUFFIX))
            continue;
        if (pid && !top_has_suffix(e->d_name, want))
            continue;
        cprof_grow(&names, &cap, n + 1, sizeof(char *));
        names[n++] = cprof_xasprintf("%s/%s", path, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(char *), top_cmp_str);
    *count = n;
    return names;
}

void top_free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* A fingerprint of the files' identities and times: a new snapshot of any
 * of them changes it. */
uint64_t top_stamp(char **names, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) != 0)
            continue;
        uint64_t v[4] = {(uint64_t)st.st_ino, (uint64_t)st.st_size,
                         (uint64_t)st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec};
        h = (h ^ hm_hash_bytes(v, sizeof v)) * 0x100000001b3ull;
    }
    return h;
}

/* Loads the files into a new model; 0 when at least one process was read.
 * A file that vanished between listing and reading (the process ended, or
 * the snapshot was being replaced) is skipped quietly. */
int top_load(struct model *m, char **names, size_t n, uint64_t pid, char *err,
             size_t errlen)
{
    model_init(m);
    m->filter.pid = pid;
    err[0] = 0;
    for (size_t i = 0; i < n; i++) {
        char msg[512];
        if (model_load_file(m, names[i], msg, sizeof msg) != 0 &&
            access(names[i], F_OK) == 0)
            snprintf(err, errlen, "%s: %s", names[i], msg);
    }
    return m->nprocs ? 0 : -1;
}

/* The final files of the program that ran as pid (PROG.PID.cprof in dir). */
char **top_final_files(const char *dir, pid_t pid, size_t *count)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    char want[32];
    snprintf(want, sizeof want, ".%ld%s", (long)pid, CPROF_FILE_SUFFIX);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !top_has_suffix(e->d_name, want) ||
            top_has_suffix(e->d_name, TOP_LIVE_SUFFIX))
            continue;
        cprof_grow(&names, &cap, n + 1, sizeof(char *));
        names[n++] = cprof_xasprintf("%s/%s", dir, e->d_name);
    }
    if (d)
        closedir(d);
    *count = n;
    return names;
}
