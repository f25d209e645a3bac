/*
 * Control data of format 1.4, written when the program steers its own
 * profile (<cprof.h>) or is steered from outside (CPROF_START=off,
 * CPROF_SIGNAL): region records name the pseudo-functions of regions,
 * period records say when recording was on. A region's calls come in node
 * records and trace events like any function's; here its pseudo-address
 * becomes a model function of its own, one per name, so that a region of
 * the same name is one row in every thread and process. EXT_OFF/EXT_ON
 * trace events are replayed in model_trace.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cprof_format.h"
#include "model.h"
#include "reader.h"

/* The next field as a non-empty string (model_field_str). */
static const char *ctl_str(struct model *m, struct rd_record *rec, const char **s)
{
    const char *why = model_field_str(m, rec, s);
    return why ? why : **s ? NULL : "empty";
}

static const char *ctl_region_name(const struct m_process *p, uint64_t fn)
{
    uint32_t i = hm_get(&p->regions, fn);
    return i == HM_NONE ? NULL : p->region_names[i];
}

int model_region_rec(struct model *m, struct m_process *p, struct rd_record *rec,
                     char *msg, size_t msglen)
{
    uint64_t fn = 0;
    const char *name = NULL, *field = "fn", *why = model_field_uint(rec, &fn, UINT64_MAX);
    if (!why && !(fn & CPROF_FN_REGION_BIT))
        why = "a code address (the region bit, 1 << 62, is not set)";
    if (!why) {
        field = "name";
        why = ctl_str(m, rec, &name);
    }
    if (why) {
        snprintf(msg, msglen, "bad region record: its %s field is %s", field, why);
        return -1;
    }
    const char *before = ctl_region_name(p, fn);
    if (before && before != name) {
        snprintf(msg, msglen,
                 "bad region record: region 0x%llx, named \"%.60s\" before, is renamed "
                 "\"%.60s\"",
                 (unsigned long long)fn, before, name);
        return -1;
    }
    if (before)
        return 0; /* a forked child's file repeats its parent's regions */
    cprof_grow(&p->region_names, &p->regions_cap, p->nregions + 1,
               sizeof(*p->region_names));
    p->region_names[p->nregions] = name;
    hm_put(&p->regions, fn, (uint32_t)p->nregions++);
    return 0;
}

int model_period_rec(struct model *m, struct m_process *p, struct rd_record *rec,
                     char *msg, size_t msglen)
{
    struct m_period per = {0};
    if (p->periods_ended) {
        /* the periods written with an earlier end record (a flush in
         * trace mode, which appends): this list supersedes them */
        p->nperiods = 0;
        p->periods_ended = 0;
    }
    const char *field = "on_ticks",
               *why = model_field_uint(rec, &per.on_ticks, UINT64_MAX);
    if (!why && (why = model_field_uint(rec, &per.off_ticks, UINT64_MAX)))
        field = "off_ticks";
    if (!why && (why = ctl_str(m, rec, &per.how_on)))
        field = "how_on";
    if (!why && (why = ctl_str(m, rec, &per.how_off)))
        field = "how_off";
    if (!why && per.off_ticks && per.off_ticks < per.on_ticks) {
        field = "off_ticks";
        why = "before its on_ticks";
    }
    const struct m_period *last = p->nperiods ? &p->periods[p->nperiods - 1] : NULL;
    if (!why && last && !last->off_ticks) {
        field = "on_ticks";
        why = "after a period that never ended (off_ticks 0)";
    }
    if (!why && last && per.on_ticks < last->off_ticks) {
        field = "on_ticks";
        why = "before the end of the previous period";
    }
    if (why) {
        snprintf(msg, msglen, "bad period record %zu: its %s field is %s",
                 p->nperiods + 1, field, why);
        return -1;
    }
    cprof_grow(&p->periods, &p->periods_cap, p->nperiods + 1, sizeof(*p->periods));
    p->periods[p->nperiods++] = per;
    return 0;
}

int model_region_check(const struct m_process *p, uint64_t fn, const char *user,
                       char *msg, size_t msglen)
{
    if (!(fn & CPROF_FN_REGION_BIT) || ctl_region_name(p, fn))
        return 0;
    snprintf(msg, msglen, "%s uses region 0x%llx, which no region record named before it",
             user, (unsigned long long)fn);
    return -1;
}

uint32_t model_region_func(struct model *m, const struct m_process *p, uint64_t fn)
{
    const char *name = ctl_region_name(p, fn);
    if (!name) /* checked when read; a name keeps the model whole regardless */
        name = model_intern(m, "[undefined region]", 18);
    uint64_t key = (uint64_t)(uintptr_t)name; /* interned: one pointer per name */
    uint32_t f = hm_get(&m->region_funcs, key);
    if (f != HM_NONE)
        return f;
    cprof_grow(&m->funcs, &m->funcs_cap, m->nfuncs + 1, sizeof(*m->funcs));
    f = (uint32_t)m->nfuncs++;
    m->funcs[f] = (struct m_func){.module = M_NONE, .addr = fn, .region = name};
    hm_put(&m->region_funcs, key, f);
    return f;
}

void model_control_free(struct m_process *p)
{
    hm_free(&p->regions);
    free(p->region_names);
    free(p->periods);
}
