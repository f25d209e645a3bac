/*
 * Source files, read whole and split into lines; see source.h. Views show
 * a few files at most, so the cache is a list.
 */
#include "source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Larger files are taken as not source code. */
#define SRC_MAX_BYTES (64u << 20)

struct src_file {
    char *path;
    char *text;   /* the file, its line ends replaced by NULs; NULL: unreadable */
    char **lines; /* lines[i] is line i + 1 */
    size_t nlines;
};

struct src_cache {
    struct src_file *files;
    size_t nfiles, cap;
};

struct src_cache *src_cache_new(void)
{
    return cprof_xcalloc(1, sizeof(struct src_cache));
}

void src_cache_free(struct src_cache *cache)
{
    if (!cache)
        return;
    for (size_t i = 0; i < cache->nfiles; i++) {
        free(cache->files[i].path);
        free(cache->files[i].text);
        free(cache->files[i].lines);
    }
    free(cache->files);
    free(cache);
}

/* Reads the file into f->text and splits it; leaves f->text NULL when it
 * cannot be read. */
static void src_read(struct src_file *f)
{
    FILE *in = fopen(f->path, "rb");
    if (!in)
        return;
    struct strbuf sb = {0};
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0 && sb.len < SRC_MAX_BYTES)
        sb_add(&sb, buf, n);
    int bad = ferror(in) || sb.len >= SRC_MAX_BYTES;
    fclose(in);
    if (bad) {
        sb_free(&sb);
        return;
    }
    f->text = sb.s ? sb.s : cprof_xstrdup("");
    size_t len = sb.len, cap = 0;
    for (size_t start = 0; start < len;) {
        char *nl = memchr(f->text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - f->text) : len;
        f->text[end] = 0;
        if (end > start && f->text[end - 1] == '\r')
            f->text[end - 1] = 0;
        cprof_grow(&f->lines, &cap, f->nlines + 1, sizeof(*f->lines));
        f->lines[f->nlines++] = f->text + start;
        start = end + 1;
    }
}

static struct src_file *src_file(struct src_cache *cache, const char *path)
{
    for (size_t i = 0; i < cache->nfiles; i++)
        if (!strcmp(cache->files[i].path, path))
            return &cache->files[i];
    cprof_grow(&cache->files, &cache->cap, cache->nfiles + 1, sizeof(*cache->files));
    struct src_file *f = &cache->files[cache->nfiles++];
    memset(f, 0, sizeof(*f));
    f->path = cprof_xstrdup(path);
    src_read(f);
    return f;
}

int src_readable(struct src_cache *cache, const char *path)
{
    return src_file(cache, path)->text != NULL;
}

const char *src_line(struct src_cache *cache, const char *path, unsigned line)
{
    struct src_file *f = src_file(cache, path);
    if (!f->text || line == 0 || line > f->nlines)
        return NULL;
    return f->lines[line - 1];
}
