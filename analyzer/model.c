/*
 * Loading .cprof files into the model; see model.h. One pass over each
 * file's records (reader.h; each read by model_records.c or the part of
 * the model that owns its kind) fills a process; a final pass per process
 * resolves what may arrive out of order (node parents, modules recorded at
 * the end for libraries loaded by dlopen), turns functions into
 * module + link-time address, and turns the runtime's counters into
 * warnings.
 */
#include "model.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cprof_format.h"
#include "progress.h"
#include "reader.h"

void model_init(struct model *m)
{
    memset(m, 0, sizeof(*m));
    m->node_limit_func = M_NONE;
}

static void model_free_thread(struct m_thread *t)
{
    for (size_t i = 0; i < t->nnodes; i++)
        free(t->nodes[i].hist);
    free(t->nodes);
    free(t->name);
    free(t->node_parent_id);
    hm_free(&t->children);
    hm_free(&t->ids);
    model_trace_free(t);
    free(t->line_sites);
    free(t);
}

static void model_free_process(struct m_process *p)
{
    for (size_t i = 0; i < p->nthreads; i++)
        model_free_thread(p->threads[i]);
    free(p->threads);
    for (size_t i = 0; i < p->argc; i++)
        free(p->argv[i]);
    free(p->argv);
    for (size_t i = 0; i < p->nconfig_warnings; i++)
        free(p->config_warnings[i]);
    free(p->config_warnings);
    free(p->file);
    free(p->mode);
    free(p->clock);
    free(p->exe);
    free(p->end_reason);
    for (size_t i = 0; i < p->nmodules; i++) {
        free(p->modules[i].path);
        free(p->modules[i].build_id);
    }
    free(p->modules);
    free(p->local_fn_addr);
    free(p->local_to_func);
    hm_free(&p->local_fn);
    free(p->lines);
    free(p->freed);
    free(p->leaks);
    model_proc_exact_free(p);
    model_control_free(p);
    free(p);
}

void model_check_parents(struct model *m)
{
    if (m->filter.pid)
        return;
    for (size_t i = 0; i < m->nprocs; i++) {
        struct m_process *p = m->procs[i];
        if (!p->fork_parent)
            continue;
        int found = 0;
        for (size_t k = 0; k < m->nprocs && !found; k++)
            found = m->procs[k]->pid == p->fork_parent;
        if (found)
            continue;
        p->parent_missing = 1;
        warn_add(
            &m->warnings,
            "%s[%llu] was forked by process %llu, which has no file in the data: its "
            "calls are missing (it ended through _exit(), as in daemon(), or was killed "
            "before writing; or its file was not given)",
            model_basename(p->exe[0] ? p->exe : p->file), (unsigned long long)p->pid,
            (unsigned long long)p->fork_parent);
    }
}

void model_free(struct model *m)
{
    for (size_t i = 0; i < m->nprocs; i++)
        model_free_process(m->procs[i]);
    free(m->procs);
    for (size_t i = 0; i < m->nmodules; i++) {
        free(m->modules[i].path);
        free(m->modules[i].build_id);
        hm_free(&m->modules[i].funcs);
    }
    free(m->modules);
    free(m->funcs);
    hm_free(&m->unmapped_funcs);
    hm_free(&m->region_funcs);
    warn_free(&m->warnings);
    warn_free(&m->damage);
    model_lines_free(m);
    model_exact_free(m);
    model_init(m);
}

/* A warning that a file is damaged or incomplete (see model.damage). */
static void model_damage(struct model *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void model_damage(struct model *m, const char *fmt, ...)
{
    struct strbuf sb = {0};
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    warn_add(&m->warnings, "%s", sb.s);
    warn_add(&m->damage, "%s", sb.s);
    sb_free(&sb);
}

/* ---- building blocks the loaders share --------------------------------- */

struct m_thread *model_thread(struct m_process *p, uint32_t serial)
{
    for (size_t i = 0; i < p->nthreads; i++)
        if (p->threads[i]->serial == serial)
            return p->threads[i];
    struct m_thread *t = cprof_xcalloc(1, sizeof(*t));
    t->proc = p;
    t->serial = serial;
    t->name = cprof_xstrdup("");
    uint32_t root;
    model_node_new(t, M_NONE, M_NONE, &root);
    cprof_grow(&p->threads, &p->threads_cap, p->nthreads + 1, sizeof(*p->threads));
    p->threads[p->nthreads++] = t;
    return t;
}

void model_index_set(uint32_t **table, size_t *len, uint64_t index, uint32_t value)
{
    if (index >= *len) {
        size_t cap = *len;
        cprof_grow(table, &cap, (size_t)index + 1, sizeof(**table));
        for (size_t i = *len; i < cap; i++)
            (*table)[i] = M_NONE;
        *len = cap;
    }
    (*table)[index] = value;
}

uint32_t model_local_fn(struct m_process *p, uint64_t addr)
{
    uint32_t idx = hm_get(&p->local_fn, addr);
    if (idx != HM_NONE)
        return idx;
    cprof_grow(&p->local_fn_addr, &p->local_cap, p->nlocal + 1,
               sizeof(*p->local_fn_addr));
    idx = (uint32_t)p->nlocal++;
    p->local_fn_addr[idx] = addr;
    hm_put(&p->local_fn, addr, idx);
    return idx;
}

struct m_node *model_node_new(struct m_thread *t, uint32_t parent, uint32_t local_fn,
                              uint32_t *index)
{
    cprof_grow(&t->nodes, &t->cap, t->nnodes + 1, sizeof(*t->nodes));
    struct m_node *n = &t->nodes[t->nnodes];
    memset(n, 0, sizeof(*n));
    n->parent = parent;
    n->func = local_fn;
    n->first_child = n->next_sibling = M_NONE;
    *index = (uint32_t)t->nnodes++;
    return n;
}

void model_hist_add(struct m_node *n, uint32_t bucket, uint64_t count)
{
    /* sorted by bucket: records list buckets in order (appends), a trace
     * replay finds its bucket by bisection */
    uint32_t lo = 0, hi = n->hist_len;
    if (hi && n->hist[hi - 1].bucket < bucket)
        lo = hi;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (n->hist[mid].bucket < bucket)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n->hist_len && n->hist[lo].bucket == bucket) {
        n->hist[lo].count += count;
        return;
    }
    size_t cap = n->hist_cap;
    cprof_grow(&n->hist, &cap, n->hist_len + 1, sizeof(*n->hist));
    n->hist_cap = (uint32_t)cap;
    memmove(&n->hist[lo + 1], &n->hist[lo], (n->hist_len - lo) * sizeof(*n->hist));
    n->hist[lo].bucket = bucket;
    n->hist[lo].count = count;
    n->hist_len++;
}

/* ---- finishing a process -------------------------------------------------- */

static uint32_t model_module(struct model *m, const char *path, const char *build_id)
{
    for (size_t i = 0; i < m->nmodules; i++)
        if (!strcmp(m->modules[i].path, path) &&
            !strcmp(m->modules[i].build_id, build_id))
            return (uint32_t)i;
    cprof_grow(&m->modules, &m->modules_cap, m->nmodules + 1, sizeof(*m->modules));
    struct m_module *mod = &m->modules[m->nmodules];
    memset(mod, 0, sizeof(*mod));
    mod->path = cprof_xstrdup(path);
    mod->build_id = cprof_xstrdup(build_id);
    return (uint32_t)m->nmodules++;
}

static uint32_t model_func(struct model *m, uint32_t module, uint64_t addr,
                           int node_limit)
{
    struct hashmap *index =
        module == M_NONE ? &m->unmapped_funcs : &m->modules[module].funcs;
    if (node_limit && m->node_limit_func != M_NONE)
        return m->node_limit_func;
    uint32_t f = node_limit ? HM_NONE : hm_get(index, addr);
    if (f != HM_NONE)
        return f;
    cprof_grow(&m->funcs, &m->funcs_cap, m->nfuncs + 1, sizeof(*m->funcs));
    f = (uint32_t)m->nfuncs++;
    m->funcs[f].module = module;
    m->funcs[f].addr = addr;
    m->funcs[f].node_limit = node_limit;
    m->funcs[f].has_lines = 0;
    m->funcs[f].region = NULL;
    if (node_limit)
        m->node_limit_func = f;
    else
        hm_put(index, addr, f);
    return f;
}

/* Maps the process's runtime function addresses to model functions. */
static void model_map_functions(struct model *m, struct m_process *p)
{
    for (size_t i = 0; i < p->nmodules; i++)
        p->modules[i].module =
            model_module(m, p->modules[i].path, p->modules[i].build_id);
    p->local_to_func = cprof_xcalloc(p->nlocal, sizeof(*p->local_to_func));
    for (size_t i = 0; i < p->nlocal; i++) {
        uint64_t addr = p->local_fn_addr[i];
        const struct m_proc_module *best = NULL;
        for (size_t k = 0; k < p->nmodules; k++) {
            const struct m_proc_module *pm = &p->modules[k];
            if (addr >= pm->lo && addr < pm->hi && (!best || pm->lo > best->lo))
                best = pm;
        }
        if (addr == CPROF_FN_NODE_LIMIT)
            p->local_to_func[i] = model_func(m, M_NONE, 0, 1);
        else if (addr & CPROF_FN_REGION_BIT)
            p->local_to_func[i] = model_region_func(m, p, addr);
        else if (best)
            p->local_to_func[i] = model_func(m, best->module, addr - best->bias, 0);
        else
            p->local_to_func[i] = model_func(m, M_NONE, addr, 0);
    }
}

/* Resolves summary-mode parents, maps functions and links children. */
static void model_finish_thread(struct model *m, struct m_thread *t)
{
    struct m_process *p = t->proc;
    if (t->trace)
        model_trace_finish(t);
    for (size_t i = 1; i < t->nnodes; i++) {
        struct m_node *n = &t->nodes[i];
        if (t->node_parent_id) {
            uint64_t pid = t->node_parent_id[i];
            n->parent = pid ? hm_get(&t->ids, pid) : 0;
            if (n->parent == HM_NONE) {
                warn_add(&m->warnings,
                         "%s: thread %u: node %zu names a parent that was not recorded; "
                         "shown at the top of the call tree",
                         p->file, t->serial, i);
                n->parent = 0;
            }
        }
        n->func = p->local_to_func[n->func];
    }
    for (size_t i = t->nnodes; i-- > 1;) {
        if (t->nodes[i].parent >= i)
            t->nodes[i].parent = 0; /* parents come first; anything else is damage */
        struct m_node *parent = &t->nodes[t->nodes[i].parent];
        t->nodes[i].next_sibling = parent->first_child;
        parent->first_child = (uint32_t)i;
    }
    free(t->node_parent_id);
    t->node_parent_id = NULL;
    hm_free(&t->ids);
    hm_free(&t->children);
}

static void model_finish_process(struct model *m, struct m_process *p)
{
    model_map_functions(m, p);
    model_heap_finish(m, p);
    model_lines_drop_excluded(p);
    struct m_stats total = {0};
    size_t kept = 0;
    for (size_t i = 0; i < p->nthreads; i++) {
        struct m_thread *t = p->threads[i];
        if (t->excluded) {
            model_free_thread(t);
            continue;
        }
        model_finish_thread(m, t);
        const uint64_t *from = (const uint64_t *)&t->stats;
        uint64_t *to = (uint64_t *)&total;
        for (size_t k = 0; k < sizeof(total) / sizeof(uint64_t); k++)
            to[k] += from[k];
        p->threads[kept++] = t;
    }
    p->nthreads = kept;
    total.heap_dropped = p->heap_dropped;
    model_stat_warnings(m, p, &total);

    int timed = strcmp(p->mode, "count") != 0 && strcmp(p->clock, "none") != 0;
    if (timed && p->ticks_per_sec <= 0 && p->nclocks >= 2 &&
        p->clock_last_ticks > p->clock_first_ticks &&
        p->clock_last_ns > p->clock_first_ns + 20000000)
        p->ticks_per_sec = (double)(p->clock_last_ticks - p->clock_first_ticks) * 1e9 /
                           (double)(p->clock_last_ns - p->clock_first_ns);
    if (timed && p->ticks_per_sec <= 0)
        p->ticks_per_sec = p->header_ticks_per_sec;
    if (timed && !(p->ticks_per_sec > 0 && isfinite(p->ticks_per_sec))) {
        warn_add(&m->warnings, "%s: no usable clock rate: times are not shown", p->file);
        timed = 0;
    }
    p->ns_per_tick = timed ? 1e9 / p->ticks_per_sec : 0;
    m->timed |= timed;
    model_lines_merge(m, p);
    model_exact_merge(m, p);

    const char *prog = model_basename(p->exe[0] ? p->exe : p->file);
    for (size_t i = 0; i < p->nconfig_warnings; i++)
        warn_add(&m->warnings, "%s: %s", prog, p->config_warnings[i]);
    if (!p->complete)
        model_damage(m,
                     "%s: cut short (no end record: the process was killed or is still "
                     "running): the report covers what it holds",
                     p->file);
    char who[96];
    if (p->complete && !strcmp(p->end_reason, "signal")) {
        snprintf(who, sizeof who, "%s[%llu] was killed by signal %llu (%s)", prog,
                 (unsigned long long)p->pid, (unsigned long long)p->end_signal,
                 strsignal((int)p->end_signal));
        model_note(m, M_NOTE_KILLED, who, 1);
    } else if (p->complete && !strcmp(p->end_reason, "killed")) {
        /* format 1.5: the keeper wrote the data of a process that could not */
        snprintf(who, sizeof who, "%s[%llu] did not end normally (kill -9 or the like)",
                 prog, (unsigned long long)p->pid);
        model_note(m, M_NOTE_KILLED, who, 1);
    } else if (p->complete && !strcmp(p->end_reason, "live")) {
        warn_add(&m->warnings,
                 "%s[%llu]: a snapshot of a running process (CPROF_LIVE): calls still "
                 "running are timed up to the snapshot",
                 prog, (unsigned long long)p->pid);
    }
    if (p->threads_lost) {
        snprintf(who, sizeof who, "%s[%llu]", prog, (unsigned long long)p->pid);
        model_note(m, M_NOTE_THREADS_LOST, who, p->threads_lost);
    }
    if (total.folded_threads)
        warn_add(&m->warnings,
                 "%s[%llu]: %llu threads that ended after the first 256 are folded into "
                 "one, \"[folded threads]\": their counts and times are exact, which of "
                 "them made a call is not kept",
                 prog, (unsigned long long)p->pid,
                 (unsigned long long)total.folded_threads);
    char *stop = model_trace_stop_text(p);
    if (stop) {
        warn_add(&m->warnings,
                 "%s[%llu]: %s; the %llu calls it left out are not in this report", prog,
                 (unsigned long long)p->pid, stop,
                 (unsigned long long)total.trace_stopped_calls);
        free(stop);
    }
}

/* ---- files ---------------------------------------------------------------- */

static struct m_process *model_process_new(const char *name, const struct rd_header *h)
{
    struct m_process *p = cprof_xcalloc(1, sizeof(*p));
    p->file = cprof_xstrdup(name);
    p->mode = cprof_xstrdup(h->mode);
    p->clock = cprof_xstrdup(h->clock);
    p->exe = cprof_xstrdup(h->exe);
    p->argc = h->argc;
    p->argv = cprof_xcalloc(h->argc, sizeof(*p->argv));
    for (size_t i = 0; i < h->argc; i++)
        p->argv[i] = cprof_xstrdup(h->argv[i]);
    p->nconfig_warnings = h->nconfig_warnings;
    p->config_warnings = cprof_xcalloc(h->nconfig_warnings, sizeof(char *));
    for (size_t i = 0; i < h->nconfig_warnings; i++)
        p->config_warnings[i] = cprof_xstrdup(h->config_warnings[i]);
    p->pid = h->pid;
    p->ppid = h->ppid;
    p->fork_parent = h->fork_parent;
    p->hist_sub_bits = h->hist_sub_bits;
    p->format_minor = h->major > 1 ? UINT32_MAX : h->minor;
    p->has_cpu = h->cpu_time != NULL;
    p->start_ticks = h->start_ticks;
    p->start_unix_ns = h->start_unix_ns;
    p->header_ticks_per_sec = h->ticks_per_sec;
    p->has_probe = h->has_probe;
    p->probe_call_ns = h->probe_call_ns;
    p->probe_inner_ns =
        h->probe_inner_ns < h->probe_call_ns ? h->probe_inner_ns : h->probe_call_ns;
    p->probe_line_ns = h->probe_line_ns;
    return p;
}

static int model_load(struct model *m, const char *name, struct rd_file *f)
{
    const struct rd_header *h = rd_header(f);
    if (m->filter.pid && h->pid != m->filter.pid) {
        rd_close(f);
        return 1;
    }
    struct m_process *p = model_process_new(name, h);
    struct rd_record rec;
    int r;
    char why[200];
    while ((r = rd_next(f, &rec)) > 0) {
        if (m->progress)
            progress_update(m->progress, rd_offset(f));
        why[0] = 0;
        if (model_record(m, p, &rec, why, sizeof why) < 0) {
            if (rd_failed(f)) { /* damage inside an open record (reader.h) */
                r = -1;
                break;
            }
            model_damage(
                m, "%s: damaged at byte %llu (%s): the report covers the data before it",
                name, (unsigned long long)rec.offset, why);
            break;
        }
    }
    if (r < 0)
        model_damage(m, "%s: %s: the report covers the data before it", name,
                     rd_error(f));
    rd_close(f);
    model_finish_process(m, p);
    cprof_grow(&m->procs, &m->procs_cap, m->nprocs + 1, sizeof(*m->procs));
    m->procs[m->nprocs++] = p;
    return 0;
}

int model_load_file(struct model *m, const char *path, char *msg, size_t msglen)
{
    if (m->progress)
        progress_file(m->progress, path);
    struct rd_file *f = rd_open(path, msg, msglen);
    return f ? model_load(m, path, f) : -1;
}

int model_load_mem(struct model *m, const char *name, const void *data, size_t len,
                   char *msg, size_t msglen)
{
    struct rd_file *f = rd_open_mem(data, len, msg, msglen);
    return f ? model_load(m, name, f) : -1;
}

static int model_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int model_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && !strcmp(s + n - k, suffix);
}

/* Whether process pid runs on this machine. */
static int model_pid_runs(const char *pid_text)
{
    char *end;
    long pid = strtol(pid_text, &end, 10);
    return pid > 0 && *end == '.' && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* A live snapshot (<prog>.<pid>.live.cprof, CPROF_LIVE) and its process's
 * own file (<prog>.<pid>.cprof) side by side: while the process runs its
 * own file holds only the threads that ended (the snapshot has them too),
 * and once it ended its keeper is about to remove the snapshot. One of
 * the two is left out, by whether the process still runs. */
static void model_pick_live(char **names, size_t *count)
{
    static const char live[] = ".live" CPROF_FILE_SUFFIX;
    size_t k = strlen(live), kept = 0;
    for (size_t i = 0; i < *count; i++)
        for (size_t j = 0; names[i] && model_has_suffix(names[i], live) && j < *count;
             j++) {
            size_t n = strlen(names[i]) - k;
            if (!names[j] || strlen(names[j]) != n + strlen(CPROF_FILE_SUFFIX) ||
                strncmp(names[j], names[i], n) || strcmp(names[j] + n, CPROF_FILE_SUFFIX))
                continue;
            const char *dot = names[i] + n; /* the pid is the part before */
            while (dot > names[i] && dot[-1] != '.')
                dot--;
            size_t drop = model_pid_runs(dot) ? j : i;
            free(names[drop]);
            names[drop] = NULL;
        }
    for (size_t i = 0; i < *count; i++)
        if (names[i])
            names[kept++] = names[i];
    *count = kept;
}

int model_load_path(struct model *m, const char *path)
{
    struct stat st;
    char msg[300];
    if (stat(path, &st) != 0) {
        cprof_error("%s: %s", path, strerror(errno));
        return CPROF_EXIT_DATA;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (model_load_file(m, path, msg, sizeof msg) < 0) {
            cprof_error("%s: %s", path, msg);
            return CPROF_EXIT_DATA;
        }
        return CPROF_EXIT_OK;
    }
    DIR *dir = opendir(path);
    if (!dir) {
        cprof_error("%s: %s", path, strerror(errno));
        return CPROF_EXIT_DATA;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.' || !model_has_suffix(e->d_name, CPROF_FILE_SUFFIX))
            continue;
        cprof_grow(&names, &cap, count + 1, sizeof(*names));
        names[count++] = cprof_xasprintf("%s/%s", path, e->d_name);
    }
    closedir(dir);
    model_pick_live(names, &count);
    if (count)
        qsort(names, count, sizeof(*names), model_cmp_names);
    int status = CPROF_EXIT_OK;
    for (size_t i = 0; i < count; i++) {
        if (model_load_file(m, names[i], msg, sizeof msg) < 0) {
            cprof_error("%s: %s", names[i], msg);
            status = CPROF_EXIT_DATA;
        }
        free(names[i]);
    }
    free(names);
    if (count == 0) {
        cprof_error("%s: no %s files in this directory (run a program built with "
                    "cprof-cc first)",
                    path, CPROF_FILE_SUFFIX);
        return CPROF_EXIT_DATA;
    }
    return status;
}
