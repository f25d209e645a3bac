/*
 * The symbolizer: turns a function's address in a recorded module into its
 * name and source location, through libdwarf where the module has DWARF and
 * through the ELF symbol table where it does not. A function with neither is
 * still named, by module and offset, never dropped.
 *
 * Modules are opened lazily, once each, and indexed so that a lookup is a
 * binary search; of a module's DWARF only the compile units that hold a
 * looked-up address are read (docs/PERFORMANCE.md, "Symbolization"). All
 * strings returned are owned by the cache and live until sym_cache_free().
 */
#ifndef CPROF_SYM_H
#define CPROF_SYM_H

#include <stddef.h>
#include <stdint.h>

struct sym_cache;

/* How a function was resolved, from best to worst. */
enum sym_quality {
    SYM_DWARF = 0,  /* name and file:line from debug info */
    SYM_SYMTAB = 1, /* name from the ELF symbol table; no source location */
    SYM_OFFSET = 2, /* "module+0xoffset": the module has no symbol for it */
};

struct sym_func {
    const char *name; /* function name, never NULL */
    const char *file; /* source file, "" when unknown */
    unsigned line;    /* line of the function's declaration, 0 if unknown; with
                         -gline-tables-only (no declarations) the line of its
                         first line-table row, usually the opening brace */
    uint64_t entry;   /* link-time address of the function's first byte */
    enum sym_quality quality;
};

struct sym_cache *sym_cache_new(void);
void sym_cache_free(struct sym_cache *cache);

/* Where separate debug files are looked for by build id and debug link
 * (<dir>/.build-id/xx/yyyy.debug, <dir>/<module's folder>/<link>); the
 * default is /usr/lib/debug, "" turns that search off. Call before the
 * first sym_resolve(). */
void sym_cache_set_debug_root(struct sym_cache *cache, const char *dir);

/*
 * Resolves the function that contains link-time address vaddr in the ELF
 * file at path (vaddr = runtime address - the module's load bias). build_id
 * is the hex build id the runtime recorded ("" or NULL when none): when the
 * file on disk has another one, the lookup still answers from the file but
 * records a warning that the binary changed since the run. Returns 0 and
 * fills *out; out->quality says how well it resolved. Never fails: a module
 * that cannot be opened yields SYM_OFFSET names and a warning.
 */
int sym_resolve(struct sym_cache *cache, const char *path, const char *build_id,
                uint64_t vaddr, struct sym_func *out);

/* Warnings collected so far (each once per module), e.g.
 * "/usr/bin/foo: rebuilt since the run (build id differs): names may be wrong"
 * or "/tmp/a.out: cannot open: No such file or directory". */
size_t sym_warning_count(const struct sym_cache *cache);
const char *sym_warning(const struct sym_cache *cache, size_t i);

#endif
