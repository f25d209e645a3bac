/*
 * Line instrumentation: the contract between the compiler pass (loaded by
 * cprof-cc for the functions --cprof-lines selects) and the runtime.
 *
 * The pass gives each distinct (function, source line) of a selected
 * function one constant struct cprof_line_site, and inserts a call
 * __cprof_line(&site) at the start of every basic block and wherever the
 * source line changes inside one, after the function's enter hook. The
 * runtime counts hits and times per site (see CPROF_REC_LINE in
 * cprof_format.h).
 */
#ifndef CPROF_LINES_H
#define CPROF_LINES_H

#include <stdint.h>

struct cprof_line_site {
    void *fn;         /* the function, as -finstrument-functions passes it */
    const char *func; /* its name */
    const char *file; /* the source file, absolute when the debug info
                         gives a directory */
    uint32_t line;    /* source line, from 1 */
    uint32_t flags;   /* 0; reserved */
};

/* The runtime's line hook. */
#define CPROF_LINE_HOOK "__cprof_line"
void __cprof_line(const struct cprof_line_site *site);

/* The environment variable through which cprof-cc hands the selected
 * function-name globs (comma-separated) to the pass in the clang it runs. */
#define CPROF_LINES_PASS_ENV "CPROF_LINES_PASS_PATTERNS"

#endif
