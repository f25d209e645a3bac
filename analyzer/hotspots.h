/*
 * Bottleneck detection (`cprof hotspots`, the last section of `cprof
 * report`): rules over the per-function view (profile.h), the line data and
 * the per-thread trees of the model, each finding a place worth a
 * developer's time with the numbers that support it, a concrete next step
 * and an estimate of the time at stake, by which findings are ranked.
 *
 * Every rule is a small function in hotspots.c; every number a rule
 * compares against is a threshold of hs_thresholds (name, default, what it
 * means), which --threshold NAME=VALUE changes. docs/cprof-hotspots.md
 * describes each rule.
 */
#ifndef CPROF_HOTSPOTS_H
#define CPROF_HOTSPOTS_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "profile.h"

enum hs_rule {
    HS_HOT_SELF,   /* a large share of all self time */
    HS_TINY_CALLS, /* very many calls with tiny self time each */
    HS_HOT_ALLOC,  /* allocations per call of a frequent function, short-lived blocks */
    HS_LEAK,       /* blocks it allocated still allocated at exit */
    HS_LATENCY,    /* p99 far above p50 */
    HS_WAITING,    /* wall time far above CPU time (needs CPU data) */
    HS_IMBALANCE,  /* threads running the same entry function for unequal times */
    HS_NRULES
};

/* The rule's name in output ("hot_self", ...). */
const char *hs_rule_name(enum hs_rule rule);

enum hs_threshold_id {
    HS_SELF_PCT,
    HS_TINY_CALLS_MIN,
    HS_TINY_NS,
    HS_TINY_PCT,
    HS_ALLOC_CALLS_MIN,
    HS_ALLOC_PER_CALL,
    HS_ALLOC_BLOCKS_MIN,
    HS_ALLOC_FREED_PCT,
    HS_ALLOC_COST_NS,
    HS_LEAK_BYTES,
    HS_LEAK_BLOCKS,
    HS_LATENCY_RATIO,
    HS_LATENCY_CALLS_MIN,
    HS_LATENCY_GAP_NS,
    HS_LATENCY_PCT,
    HS_WAIT_PCT,
    HS_WAIT_SHARE_PCT,
    HS_IMBALANCE_RATIO,
    HS_IMBALANCE_NS,
    HS_NTHRESHOLDS
};

struct hs_threshold {
    const char *name; /* for --threshold NAME=VALUE and the JSON "thresholds" */
    double value;     /* the default */
    const char *doc;  /* what it means, for --help */
};

extern const struct hs_threshold hs_thresholds[HS_NTHRESHOLDS];

/* The thresholds in use, indexed by enum hs_threshold_id. */
struct hs_config {
    double value[HS_NTHRESHOLDS];
};

void hs_config_default(struct hs_config *c);
/* Sets one threshold from "NAME=VALUE" (a non-negative number). Returns 0,
 * or -1 with msg saying what was wrong (an unknown name lists the valid
 * ones). */
int hs_config_set(struct hs_config *c, const char *arg, char *msg, size_t msglen);

#define HS_MAX_EVIDENCE 8

/* One number behind a finding, e.g. {"calls", 4012331, HS_COUNT}. */
enum hs_unit { HS_COUNT, HS_NS, HS_PCT, HS_BYTES, HS_RATIO };
struct hs_evidence {
    const char *key;
    double value;
    enum hs_unit unit;
};

struct hs_finding {
    enum hs_rule rule;
    size_t row;         /* index in the profile's rows */
    double at_stake_ns; /* estimated time it could save; 0 for leaks */
    double at_stake_bytes;
    struct hs_evidence evidence[HS_MAX_EVIDENCE];
    size_t nevidence;
    char *advice; /* allocated */
};

struct hs_result {
    struct hs_finding *items; /* ranked: most time at stake first */
    size_t count, cap;
};

/*
 * Applies every rule to the profile pf built from m (rows in any order;
 * their indexes are kept, so do not sort pf until the result is used) and
 * ranks the findings. Rules that need data the model lacks (times, heap,
 * line, CPU data, several threads) find nothing.
 */
void hs_find(const struct model *m, const struct profile *pf, const struct hs_config *c,
             struct hs_result *out);
void hs_result_free(struct hs_result *r);

/* The evidence of f as a JSON object ({"calls": 4012331, ...}), and the
 * suggestions of row as a JSON array of {rule, evidence, advice} objects
 * ([] when none); allocated. */
char *hs_evidence_json(const struct hs_finding *f);
char *hs_row_json(const struct hs_result *r, size_t row);

#endif
