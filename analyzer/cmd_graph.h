/*
 * The state of `cprof graph` (cmd_graph.c: options, the edges view) shared
 * with its --tree view (cmd_graph_tree.c), and the helpers both views fill
 * their rows with. Private to them.
 */
#ifndef CPROF_CMD_GRAPH_H
#define CPROF_CMD_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "cmd_common.h"
#include "fmt.h"
#include "util.h"

/* What the command works with. */
struct gv {
    struct cmd_view_run run;
    const struct pf_row **row_of; /* model.funcs index -> its profile row */
    unsigned char *selected;      /* model.funcs index -> a FUNC names it */
    int any_selected;             /* FUNCs were given */
    int timed;
    int compensable; /* the data has probe costs: the adjusted cells hold them */
    int compensate;  /* --compensate: text shows them, and they order */
    char *probe;     /* --compensate: the summary line of what was subtracted */
    double min_pct;
    struct strpool owned;   /* strings made here */
    struct fmt_cell *cells; /* the main table's */
    size_t nrows, cells_cap;
};

/* The text note under a view shown with --compensate. */
#define GRAPH_ADJ_NOTE                                                                   \
    "total adj, self adj: probe cost subtracted, estimates (see "                        \
    "docs/PERFORMANCE.md); ! clamped at 0"

/* A new row of ncols cells of v's main table, all zero; the pointer holds
 * until the next row is added (the cells may move). */
struct fmt_cell *gv_row(struct gv *v, size_t ncols);
/* The name of model function func as the profile has it ("?" for M_NONE or
 * a function without a row): owned by v's profile. */
const char *gv_name(const struct gv *v, uint32_t func);
/* What orders functions, edges and paths: the time (less the probe cost
 * with --compensate), or calls in count mode. */
double gv_weight(const struct gv *v, double total_ns, double total_adj_ns,
                 uint64_t calls);
/* Sets a time cell: null in count mode. */
void gv_time(const struct gv *v, struct fmt_cell *cell, double ns);
/* Sets the compensated cells total, self and clamped (may be NULL): null
 * when the data has no probe cost. */
void gv_adj(const struct gv *v, struct fmt_cell *total, struct fmt_cell *self,
            struct fmt_cell *clamped, double total_adj_ns, double self_adj_ns,
            int adj_clamped);
/* name, or with --compensate and adj_clamped a copy with the clamp mark:
 * either lives as long as name and v. */
const char *gv_marked(struct gv *v, const char *name, int adj_clamped);
/* Whether function func is shown: no FUNC was given, or one names it. */
int gv_shows(const struct gv *v, uint32_t func);
/* Points summary (room for 2) at the summary lines of both views (count
 * mode, what --compensate subtracted), owned by v. Returns how many. */
size_t gv_summary(const struct gv *v, const char **summary);

/* Writes the --tree view of v (the profile sorted, rows selected) to
 * stdout in v's format, its rows added to v's main table. Returns 0. */
int gv_show_tree(struct gv *v);

#endif
