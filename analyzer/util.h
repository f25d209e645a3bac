/*
 * Small helpers every part of the analyzer uses: allocation that ends the
 * program cleanly when memory runs out, a growable string, a pool of
 * strings freed together, a list of warnings, and the one place messages
 * to the user are formatted.
 *
 * The analyzer is a command-line tool: running out of memory is reported
 * ("cprof: out of memory") and ends the run with status 2; everything else
 * is returned to the caller as an error code.
 */
#ifndef CPROF_UTIL_H
#define CPROF_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses of the cprof command (docs/cprof.md). */
enum cprof_exit {
    CPROF_EXIT_OK = 0,
    CPROF_EXIT_USAGE = 1,  /* bad command line */
    CPROF_EXIT_DATA = 2,   /* input missing, unreadable, not ours or damaged */
    CPROF_EXIT_FOUND = 3,  /* a check found what it looks for: a loss (audit), a
                              change the user asked to fail on (diff) */
    CPROF_EXIT_EXPECT = 4, /* audit --expect: a count is not as expected */
};

void *cprof_xmalloc(size_t n);
void *cprof_xcalloc(size_t n, size_t size);
/* Grows *p to hold at least need elements of size bytes, doubling; *cap is
 * updated. */
void cprof_grow(void *p, size_t *cap, size_t need, size_t size);
char *cprof_xstrdup(const char *s);
char *cprof_xstrndup(const char *s, size_t n);
char *cprof_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "cprof: " + message + newline on stderr. */
/* Whether to colour what goes to f: CPROF_COLOR=always or never decides;
 * else (auto) only on a terminal whose TERM is not "dumb", and never when
 * NO_COLOR is set to something (https://no-color.org). */
int cprof_color(FILE *f);
void cprof_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable NUL-terminated string. */
struct strbuf {
    char *s;
    size_t len, cap;
};
void sb_add(struct strbuf *sb, const char *s, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_printf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap);
void sb_free(struct strbuf *sb);

/* Strings a view makes while it is built, freed together. strpool_own
 * takes over s (allocated) and returns it; strpool_free frees them all and
 * leaves the pool empty. */
struct strpool {
    char **s;
    size_t n, cap;
};
const char *strpool_own(struct strpool *sp, char *s);
void strpool_free(struct strpool *sp);

/* Warnings shown with every report: each distinct text once, in the order
 * first seen. */
struct warnings {
    char **text;
    size_t count, cap;
};
void warn_add(struct warnings *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void warn_free(struct warnings *w);

/* Parses a decimal unsigned number; 0 on success, -1 if s is not one. */
int cprof_parse_u64(const char *s, uint64_t *v);

#endif
