/*
 * Two runs side by side, per function (`cprof diff A B`): each function's
 * exact calls, self and total time on either side, and a judgement of its
 * change in time per call against the runs' own noise.
 *
 * A function of A and one of B are the same function when they have the
 * same name and the same source file (when the file is unknown, the same
 * ELF file base name): the identity `cprof report` merges processes by,
 * less the address and the line, which move when the program is rebuilt.
 * Rows of one side that share an identity (the program built twice in
 * two places) are summed.
 *
 * The noise rule: each side's completed calls give a mean and a spread of
 * the inclusive time per call (the exact sum over the calls, the spread
 * from the node histograms: bucket midpoints, clamped to the node's
 * fastest and slowest call, plus each bucket's own width). A change of the
 * mean is noise when it is within se_multiple combined standard errors
 * (sqrt(sd_a^2/n_a + sd_b^2/n_b)) or within floor_pct percent of A's mean;
 * otherwise a regression (slower) or an improvement (faster). A side with
 * fewer than min_calls completed calls says too little of its own spread
 * (a single call has none): the change is then unknown.
 */
#ifndef CPROF_DIFF_H
#define CPROF_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "profile.h"
#include "util.h"

/* Defaults of the noise rule (docs/cprof-diff.md). */
#define DIFF_NOISE_SE 3.0
#define DIFF_NOISE_PCT 10.0
#define DIFF_NOISE_MIN_CALLS 5

/* The exit status of `cprof diff --fail-on-...` when the runs differ in
 * what the option names (docs/cprof.md). */
#define DIFF_EXIT_CHANGED CPROF_EXIT_FOUND

struct diff_noise {
    double se_multiple; /* a change within this many standard errors is noise */
    double floor_pct;   /* ... and so is one within this percent of A's mean */
    uint64_t min_calls; /* fewer completed calls on a side: no judgement */
};

/* What happened to a function's time per call, from A to B. */
enum diff_change {
    DIFF_UNTIMED,     /* count-mode data on a side: no time to judge */
    DIFF_NOISE,       /* within the noise rule */
    DIFF_REGRESSION,  /* slower per call beyond the noise */
    DIFF_IMPROVEMENT, /* faster per call beyond the noise */
    DIFF_ONLY_A,      /* it ran in A only */
    DIFF_ONLY_B,      /* it ran in B only */
    DIFF_UNKNOWN,     /* too few completed calls on a side to judge */
};

/* One side's figures of a function; all 0 when it did not run there. */
struct diff_side {
    const struct pf_row *row; /* its first profile row; NULL: did not run */
    uint64_t calls;
    double self_ns, total_ns;
    uint64_t timed_calls;  /* completed calls the histograms hold */
    double mean_ns, sd_ns; /* their inclusive time per call */
};

struct diff_row {
    const char *name, *file; /* B's row when it has one, else A's */
    unsigned line;
    const char *module;
    struct diff_side a, b;
    enum diff_change change;
};

struct diff {
    struct diff_row *rows;
    size_t nrows;
    int timed;             /* both sides have times */
    size_t count_changed;  /* rows whose calls differ (only_a, only_b among them) */
    size_t only_a, only_b; /* rows that ran on one side only */
    size_t changes[DIFF_UNKNOWN + 1]; /* rows per diff_change */
    uint64_t calls_a, calls_b;
    double self_ns_a, self_ns_b; /* all time in instrumented functions */
};

/* Matches the functions of profiles pa (built from ma) and pb (from mb),
 * whose names the caller's symbol caches keep alive, and judges each
 * one's change by noise. out owns its rows; free with diff_free. */
void diff_build(const struct model *ma, const struct profile *pa, const struct model *mb,
                const struct profile *pb, const struct diff_noise *noise,
                struct diff *out);
/* The rule itself, for one function's two sides; timed says both runs
 * have times. */
enum diff_change diff_judge(const struct diff_side *a, const struct diff_side *b,
                            int timed, const struct diff_noise *noise);
/* "regression", "improvement", "noise", "only_a", "only_b", "unknown";
 * NULL for DIFF_UNTIMED. */
const char *diff_change_name(enum diff_change c);

enum diff_order {
    DIFF_BY_COUNT, /* count changes first, largest change in calls first;
                      then the rest by the largest change in total time */
    DIFF_BY_TIME,  /* largest change in total time first */
};
/* Orders the rows; ties go by name, file and line. */
void diff_sort(struct diff *d, enum diff_order order);
void diff_free(struct diff *d);

#endif
