/*
 * The line-hook benchmark's workload: a loop whose every iteration makes
 * two line events, with the exact number of events known, so that the time
 * added per line event can be computed (bench/overhead.sh, "lines").
 *
 *   lines N   N iterations of the loop in work(): 2*N + 2 line events
 *
 * The line pass of cprof-cc (--cprof-lines) inserts __cprof_line(&site) at
 * every basic block start and wherever the source line changes, after the
 * function's enter hook, with one constant struct cprof_line_site per
 * (function, line). This file makes those calls by hand, exactly where the
 * pass would put them, so that the benchmark does not depend on the pass:
 * build it with -finstrument-functions and -DCPROF_BENCH_LINES (without it,
 * the plain build, there are no line calls at all).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cprof_lines.h"

static unsigned long long events;

#ifdef CPROF_BENCH_LINES
#define LINE(fn, n)                                                                      \
    do {                                                                                 \
        static const struct cprof_line_site site_ = {(void *)fn, #fn, __FILE__, n, 0};   \
        events++;                                                                        \
        __cprof_line(&site_);                                                            \
    } while (0)
#else
#define LINE(fn, n) events++
#endif

__attribute__((noinline)) static unsigned work(long n)
{
    unsigned acc = 1;
    LINE(work, 40); /* entry block */
    for (long i = 0; i < n; i++) {
        LINE(work, 41); /* loop header */
        acc = acc * 2654435761u + (unsigned)i;
        LINE(work, 42); /* loop body, a line of its own */
        acc ^= acc >> 13;
    }
    LINE(work, 44); /* after the loop */
    return acc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: lines lines N\n");
        return 2;
    }
    long n = atol(argv[2]);
    unsigned r = work(n);
    printf("%s %ld = %u, %llu line events\n", argv[1], n, r, events);
    return 0;
}
