/*
 * What the suites that load one run at a time (percentiles, heap, audit,
 * graph) work on: a model and what the code under test builds from it.
 * A suite names fx_init and fx_fini as its .init and .fini, so that each
 * test starts from an empty model and leaves nothing allocated.
 */
#ifndef CPROF_TEST_FIXTURE_H
#define CPROF_TEST_FIXTURE_H

#include "audit.h"
#include "graph.h"
#include "model.h"
#include "profile.h"

extern struct model fx_model;
extern struct profile fx_prof; /* profile_build's, when a test builds it */
extern struct audit fx_audit;  /* audit_build's */
extern struct graph fx_graph;  /* graph_build's */

void fx_init(void);
void fx_fini(void);

#endif
