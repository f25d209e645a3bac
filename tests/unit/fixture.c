/*
 * The per-test state of the suites that load one run; see fixture.h.
 */
#include "fixture.h"

#include <string.h>

struct model fx_model;
struct profile fx_prof;
struct audit fx_audit;
struct graph fx_graph;

void fx_init(void)
{
    model_init(&fx_model);
    memset(&fx_prof, 0, sizeof fx_prof);
    memset(&fx_audit, 0, sizeof fx_audit);
    memset(&fx_graph, 0, sizeof fx_graph);
}

void fx_fini(void)
{
    graph_free(&fx_graph);
    audit_free(&fx_audit);
    profile_free(&fx_prof);
    model_free(&fx_model);
}
