/*
 * Source files for views that show code (`cprof lines`): each file is read
 * once, when first asked for, and split into lines. A file that cannot be
 * read is remembered as such, so that a view asks once and says which file
 * was missing.
 */
#ifndef CPROF_SOURCE_H
#define CPROF_SOURCE_H

struct src_cache;

struct src_cache *src_cache_new(void);
void src_cache_free(struct src_cache *cache);

/* Whether the file at path (relative to the current directory unless
 * absolute) could be read. */
int src_readable(struct src_cache *cache, const char *path);

/* The text of line (from 1) of the file at path, without its line end;
 * NULL when the file could not be read or has fewer lines. Owned by the
 * cache. */
const char *src_line(struct src_cache *cache, const char *path, unsigned line);

#endif
