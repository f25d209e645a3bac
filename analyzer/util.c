/*
 * Allocation, strings, string pools, warnings and messages for the
 * analyzer; see util.h.
 */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"

static void cprof_oom(void)
{
    fputs("cprof: out of memory\n", stderr);
    exit(CPROF_EXIT_DATA);
}

void *cprof_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        cprof_oom();
    return p;
}

void *cprof_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        cprof_oom();
    return p;
}

void cprof_grow(void *p, size_t *cap, size_t need, size_t size)
{
    void **slot = p;
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2 / size)
            cprof_oom();
        n *= 2;
    }
    void *grown = realloc(*slot, n * size);
    if (!grown)
        cprof_oom();
    *slot = grown;
    *cap = n;
}

char *cprof_xstrdup(const char *s)
{
    return cprof_xstrndup(s, strlen(s));
}

char *cprof_xstrndup(const char *s, size_t n)
{
    char *d = cprof_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *cprof_xasprintf(const char *fmt, ...)
{
    struct strbuf sb = {0};
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    return sb.s;
}

int cprof_color(FILE *f)
{
    const char *want = getenv("CPROF_COLOR");
    if (want && !strcmp(want, "always"))
        return 1;
    if (want && !strcmp(want, "never"))
        return 0;
    const char *no = getenv("NO_COLOR");
    if (no && no[0])
        return 0;
    const char *term = getenv("TERM");
    if (!term || !strcmp(term, "dumb"))
        return 0;
    return isatty(fileno(f));
}

void cprof_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    progress_clear(&progress_stderr);
    fputs("cprof: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void sb_add(struct strbuf *sb, const char *s, size_t n)
{
    cprof_grow(&sb->s, &sb->cap, sb->len + n + 1, 1);
    memcpy(sb->s + sb->len, s, n);
    sb->len += n;
    sb->s[sb->len] = 0;
}

void sb_puts(struct strbuf *sb, const char *s)
{
    sb_add(sb, s, strlen(s));
}

void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    if (n < 0)
        n = 0;
    cprof_grow(&sb->s, &sb->cap, sb->len + (size_t)n + 1, 1);
    vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, again);
    sb->len += (size_t)n;
    va_end(again);
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

void sb_free(struct strbuf *sb)
{
    free(sb->s);
    sb->s = NULL;
    sb->len = sb->cap = 0;
}

const char *strpool_own(struct strpool *sp, char *s)
{
    cprof_grow(&sp->s, &sp->cap, sp->n + 1, sizeof(*sp->s));
    sp->s[sp->n++] = s;
    return s;
}

void strpool_free(struct strpool *sp)
{
    for (size_t i = 0; i < sp->n; i++)
        free(sp->s[i]);
    free(sp->s);
    *sp = (struct strpool){0};
}

void warn_add(struct warnings *w, const char *fmt, ...)
{
    struct strbuf sb = {0};
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < w->count; i++) {
        if (strcmp(w->text[i], sb.s) == 0) {
            sb_free(&sb);
            return;
        }
    }
    cprof_grow(&w->text, &w->cap, w->count + 1, sizeof(*w->text));
    w->text[w->count++] = sb.s;
}

void warn_free(struct warnings *w)
{
    for (size_t i = 0; i < w->count; i++)
        free(w->text[i]);
    free(w->text);
    w->text = NULL;
    w->count = w->cap = 0;
}

int cprof_parse_u64(const char *s, uint64_t *v)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = n;
    return 0;
}
