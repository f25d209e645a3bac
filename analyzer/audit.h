/*
 * What `cprof audit` knows, apart from how it is shown (cmd_audit.c): the
 * exactness facts of a run, per process and thread (enter/exit balance,
 * frames repaired, every kind of loss, clock calibration), and
 * expectations of call counts (`function count`, ranges, bounds) parsed
 * from a file, checked against the per-function view, or written from it.
 *
 * A loss is anything that may have made a count or time wrong: dropped
 * events of any kind, unmatched exits, threads not profiled, allocation
 * calls counted for no thread, a file cut short or damaged, a process
 * killed by a signal, calls left out of a trace that stopped at its size
 * cap (CPROF_TRACE_MAX, format 1.5). A repair (a frame closed at a longjmp or at the end)
 * keeps the counts exact and is not a loss.
 *
 * Recording periods (format 1.4: cprof_start/cprof_stop, CPROF_START=off,
 * CPROF_SIGNAL) are facts too: calls made while recording was off are not
 * in the data by request, so neither a period off nor a run whose recording
 * was never on is a loss.
 */
#ifndef CPROF_AUDIT_H
#define CPROF_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "profile.h"
#include "util.h"

/* Exit statuses of `cprof audit` (docs/cprof-audit.md), from enum
 * cprof_exit. */
enum {
    AUDIT_EXIT_LOST = CPROF_EXIT_FOUND,      /* the run lost events, threads or calls */
    AUDIT_EXIT_MISMATCH = CPROF_EXIT_EXPECT, /* --expect: some count is not as expected */
};

/* The counters of struct m_stats, each a loss or a repair, by JSON key. */
struct audit_stat {
    const char *key;
    size_t offset; /* in struct m_stats */
    int loss;      /* 1: a loss, 0: a repair or a plain fact */
};
extern const struct audit_stat audit_stats[];
extern const size_t audit_nstats;

struct audit_thread {
    const struct m_thread *thread;
    uint64_t calls;       /* calls counted in its tree */
    uint64_t completed;   /* of them, calls that returned or were closed at a longjmp */
    int completed_known;  /* 0 in count mode (no per-call figures) */
    uint64_t open_at_end; /* closed_at_end + cut_open */
    /* frames a forked child started inside: closed at its end, not its calls */
    uint64_t inherited;
    /* calls == completed + open_at_end - inherited; 1 when unknown (count mode) */
    int balanced;
    uint64_t lost, repaired;
};

struct audit_process {
    const struct m_process *proc;
    size_t first_thread, nthreads; /* in audit.threads */
    double clock_ticks_per_sec;    /* implied by the clock records; 0 when fewer than 2 */
    double clock_drift_ppm;        /* clock records vs header rate; NAN when unknown */
    double end_drift_ppm;          /* end record vs header rate; NAN when unknown */
    int damaged;                   /* the file is damaged or cut short */
    int killed;                    /* ended by a signal */
    uint64_t lost;                 /* thread losses + threads lost + heap dropped */
    uint64_t repaired;
    /* recording periods (1.4); nperiods 0: recording was never switched */
    size_t nperiods;
    double recorded_ns; /* time recording was on over the periods; NAN: unknown */
    double run_ns;      /* the process's run, start to end record; NAN: unknown */
    int never_on;       /* periods recorded, and none of them had any length */
};

struct audit {
    struct audit_process *procs;
    size_t nprocs;
    struct audit_thread *threads;
    size_t nthreads;
    uint64_t lost, repaired;
    size_t lossy_procs; /* processes with a loss (damage and kills included) */
    size_t damaged_procs, killed_procs;
};

/* Works out the facts of every process and thread of m (which must outlive
 * a). */
void audit_build(const struct model *m, struct audit *a);
void audit_free(struct audit *a);
/* How long period per of p was on, in ticks: 0, or -1 when unknown (a
 * period still on in a file cut short). */
int audit_period_ticks(const struct m_process *p, const struct m_period *per,
                       uint64_t *ticks);
/* The value of stat s of a thread's counters. */
uint64_t audit_stat_value(const struct m_stats *st, const struct audit_stat *s);

/* One expectation: calls of func (in file, when given) within lo..hi. */
struct audit_check {
    char *func;
    char *file; /* NULL: every function of that name, summed */
    uint64_t lo, hi;
    char *want; /* as written: "10", "10..20", ">= 5", "<= 7" */
    unsigned line;
};

struct audit_expect {
    struct audit_check *checks;
    size_t count, cap;
};

/* Parses an expectation file's text; path names it in messages. Returns
 * 0, or -1 with msg set to "PATH:LINE: what is wrong". Adds to e. */
int audit_expect_parse(const char *path, const char *text, struct audit_expect *e,
                       char *msg, size_t msglen);
/* Reads and parses the file at path ("-": standard input). */
int audit_expect_load(const char *path, struct audit_expect *e, char *msg, size_t msglen);
void audit_expect_free(struct audit_expect *e);

/* The calls of the functions named func (as cprof report names them) in
 * the view, summed; with file, only those whose source file is file or
 * ends in "/file". 0 when none ran. */
uint64_t audit_calls(const struct profile *pf, const char *func, const char *file);
/* Whether calls meets the check. */
int audit_check_ok(const struct audit_check *c, uint64_t calls);

/* Writes an expectation file of the view's exact counts: a header comment,
 * then `function calls` per function sorted by name (`name@file` for
 * functions of one name in several files). what describes the data. */
void audit_write_expect(FILE *out, const struct profile *pf, const char *what);

#endif
