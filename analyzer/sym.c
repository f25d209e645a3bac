/*
 * The symbolizer's cache and lookups; see sym.h. Each module (an ELF file
 * named by path) is opened once, on its first lookup, into two sorted
 * tables: functions from the ELF symbol tables, read whole (they are
 * small), and functions from DWARF, which grows as lookups read the
 * compile units that hold their addresses (sym_dwarf.c). A lookup tries
 * DWARF, then the symbols, then names the address by module and offset.
 * When a module's own file has no DWARF, a separate debug file is looked
 * for by build id and by .gnu_debuglink, as gdb does.
 *
 * Everything a module could not do is said once, as a warning naming the
 * file; the lookup itself always answers.
 */
#include "sym.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hashmap.h"
#include "sym_internal.h"
#include "util.h"

#define SYM_DEFAULT_DEBUG_ROOT "/usr/lib/debug"
#define SYM_BLOCK_SIZE 65536

struct sym_module {
    char *path;
    const char *base;   /* basename of path, for offset names */
    char build_id[129]; /* of the file on disk */
    int open_failed;
    int build_id_warned;
    int dwarf_warned;
    struct sym_table dwarf, symbols;
    struct sym_dwarf *dwarf_file; /* NULL when the module has no DWARF */
    struct sym_table dwarf_read;  /* every function of the units read so far */
    struct sym_strings strings;
    struct hashmap offset_ids; /* vaddr -> index in offset_names */
    char **offset_names;
    size_t noffset_names, offset_cap;
};

struct sym_cache {
    struct sym_module **modules;
    size_t nmodules, cap;
    struct sym_module *last; /* the module of the previous lookup */
    struct warnings warnings;
    char *debug_root;
};

/* ---- tables and strings ---- */

struct sym_entry *sym_table_add(struct sym_table *t)
{
    cprof_grow(&t->v, &t->cap, t->n + 1, sizeof(*t->v));
    struct sym_entry *e = &t->v[t->n++];
    memset(e, 0, sizeof(*e));
    return e;
}

static int sym_entry_cmp(const void *a, const void *b)
{
    const struct sym_entry *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    if (x->quality != y->quality)
        return x->quality < y->quality ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->hi > y->hi ? -1 : x->hi < y->hi;
}

/* A sort key: an entry's start address and where it is in the table. */
struct sym_key {
    uint64_t lo;
    size_t at;
};

/* Sorts t's entries as sym_entry_cmp orders them: the keys by address
 * with a radix sort (a symbol table holds thousands of entries, which
 * qsort on the entries took 0.7 ms of a report's 10 to order), then the
 * few entries that share an address by the whole comparison. */
static void sym_table_sort(struct sym_table *t)
{
    size_t n = t->n;
    struct sym_key *both = cprof_xmalloc(2 * n * sizeof(*both)), *keys = both,
                   *tmp = both + n; /* the radix passes swap keys and tmp */
    for (size_t i = 0; i < n; i++)
        keys[i] = (struct sym_key){t->v[i].lo, i};
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((keys[i].lo >> shift) & 0xff) + 1]++;
        if (count[((keys[0].lo >> shift) & 0xff) + 1] == n)
            continue; /* every key has the same byte here */
        for (unsigned b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++)
            tmp[count[(keys[i].lo >> shift) & 0xff]++] = keys[i];
        struct sym_key *swap = keys;
        keys = tmp;
        tmp = swap;
    }
    for (size_t i = 1; i < n; i++) { /* insertion among equal addresses */
        struct sym_key k = keys[i];
        size_t j = i;
        while (j > 0 && keys[j - 1].lo == k.lo &&
               sym_entry_cmp(&t->v[keys[j - 1].at], &t->v[k.at]) > 0) {
            keys[j] = keys[j - 1];
            j--;
        }
        keys[j] = k;
    }
    struct sym_entry *sorted = cprof_xmalloc(t->cap * sizeof(*sorted));
    for (size_t i = 0; i < n; i++)
        sorted[i] = t->v[keys[i].at];
    free(t->v);
    t->v = sorted;
    free(both);
}

void sym_table_finish(struct sym_table *t)
{
    if (!t->n)
        return;
    sym_table_sort(t);
    size_t kept = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (kept && t->v[kept - 1].lo == t->v[i].lo) {
            /* an alias: keep the best ranked name, widest range */
            if (t->v[i].hi > t->v[kept - 1].hi)
                t->v[kept - 1].hi = t->v[i].hi;
            continue;
        }
        t->v[kept++] = t->v[i];
    }
    t->n = kept;
    for (size_t i = 0; i + 1 < t->n; i++)
        if (t->v[i].hi > t->v[i + 1].lo)
            t->v[i].hi = t->v[i + 1].lo;
}

const struct sym_entry *sym_table_find(const struct sym_table *t, uint64_t addr)
{
    size_t lo = 0, hi = t->n; /* first entry with lo > addr */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->v[mid].lo <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct sym_entry *e = &t->v[lo - 1];
    return addr < e->hi ? e : NULL;
}

void sym_table_free(struct sym_table *t)
{
    free(t->v);
    memset(t, 0, sizeof(*t));
}

const char *sym_strings_add(struct sym_strings *p, const char *s, size_t n)
{
    if (n + 1 > p->left) {
        size_t size = n + 1 > SYM_BLOCK_SIZE / 4 ? n + 1 : SYM_BLOCK_SIZE;
        cprof_grow(&p->blocks, &p->cap, p->nblocks + 1, sizeof(*p->blocks));
        char *block = cprof_xmalloc(size);
        p->blocks[p->nblocks++] = block;
        if (size != SYM_BLOCK_SIZE) { /* a big string keeps its own block */
            memcpy(block, s, n);
            block[n] = 0;
            return block;
        }
        p->cur = block;
        p->left = size;
    }
    char *d = p->cur;
    memcpy(d, s, n);
    d[n] = 0;
    p->cur += n + 1;
    p->left -= n + 1;
    return d;
}

const char *sym_strings_path(struct sym_strings *p, const char *path)
{
    struct strbuf sb = {0};
    const char *s = path;
    while (s[0] == '.' && s[1] == '/')
        s += 2;
    sb_puts(&sb, "");
    while (*s) {
        if (s[0] == '/' && s[1] == '.' && s[2] == '/') {
            s += 2;
            continue;
        }
        if (s[0] == '/' && s[1] == '/') {
            s++;
            continue;
        }
        sb_add(&sb, s, 1);
        s++;
    }
    const char *r = sym_strings_add(p, sb.s, sb.len);
    sb_free(&sb);
    return r;
}

void sym_strings_free(struct sym_strings *p)
{
    for (size_t i = 0; i < p->nblocks; i++)
        free(p->blocks[i]);
    free(p->blocks);
    memset(p, 0, sizeof(*p));
}

/* ---- the cache ---- */

struct sym_cache *sym_cache_new(void)
{
    struct sym_cache *cache = cprof_xcalloc(1, sizeof(*cache));
    cache->debug_root = cprof_xstrdup(SYM_DEFAULT_DEBUG_ROOT);
    return cache;
}

static void sym_module_free(struct sym_module *m)
{
    sym_dwarf_close(m->dwarf_file);
    sym_table_free(&m->dwarf);
    sym_table_free(&m->dwarf_read);
    sym_table_free(&m->symbols);
    sym_strings_free(&m->strings);
    for (size_t i = 0; i < m->noffset_names; i++)
        free(m->offset_names[i]);
    free(m->offset_names);
    hm_free(&m->offset_ids);
    free(m->path);
    free(m);
}

void sym_cache_free(struct sym_cache *cache)
{
    if (!cache)
        return;
    for (size_t i = 0; i < cache->nmodules; i++)
        sym_module_free(cache->modules[i]);
    free(cache->modules);
    warn_free(&cache->warnings);
    free(cache->debug_root);
    free(cache);
}

void sym_cache_set_debug_root(struct sym_cache *cache, const char *dir)
{
    free(cache->debug_root);
    cache->debug_root = cprof_xstrdup(dir ? dir : "");
}

size_t sym_warning_count(const struct sym_cache *cache)
{
    return cache->warnings.count;
}

const char *sym_warning(const struct sym_cache *cache, size_t i)
{
    return i < cache->warnings.count ? cache->warnings.text[i] : NULL;
}

/* Opens path read-only if it is a regular file; -1 with errno otherwise. */
static int sym_open_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EISDIR;
        return -1;
    }
    return fd;
}

/*
 * Finds and opens the separate debug file of module m (whose own file has
 * no DWARF): <root>/.build-id/xx/rest.debug, then the .gnu_debuglink name
 * next to the file, in its .debug/ folder and under <root>/<its folder>.
 * A debug link found is only used when its build id, if any, matches.
 */
static int sym_open_debug_file(const struct sym_cache *cache, const struct sym_module *m,
                               const struct sym_elf_info *info)
{
    char path[4096];
    if (info->build_id[0] && info->build_id[1] && info->build_id[2] &&
        cache->debug_root[0]) {
        snprintf(path, sizeof path, "%s/.build-id/%.2s/%s.debug", cache->debug_root,
                 info->build_id, info->build_id + 2);
        int fd = sym_open_file(path);
        if (fd >= 0)
            return fd;
    }
    if (!info->debuglink[0] || strchr(info->debuglink, '/'))
        return -1;
    size_t dir_len = (size_t)(m->base - m->path);
    const char *forms[] = {"%.*s%s", "%.*s.debug/%s", "%s%.*s%s"};
    for (int i = 0; i < 3; i++) {
        if (i < 2)
            snprintf(path, sizeof path, forms[i], (int)dir_len, m->path, info->debuglink);
        else if (cache->debug_root[0] && m->path[0] == '/')
            snprintf(path, sizeof path, forms[i], cache->debug_root, (int)dir_len,
                     m->path, info->debuglink);
        else
            continue;
        if (strcmp(path, m->path) == 0)
            continue;
        int fd = sym_open_file(path);
        if (fd < 0)
            continue;
        struct sym_elf_info debug_info;
        struct sym_table unused = {0};
        struct sym_strings unused_strings = {0};
        char msg[256];
        int ok = sym_elf_read(fd, &debug_info, &unused, &unused_strings, msg,
                              sizeof msg) == 0 &&
                 (!info->build_id[0] || !debug_info.build_id[0] ||
                  strcmp(info->build_id, debug_info.build_id) == 0);
        sym_table_free(&unused);
        sym_strings_free(&unused_strings);
        if (ok && lseek(fd, 0, SEEK_SET) == 0)
            return fd;
        close(fd);
    }
    return -1;
}

/* Warns once per module that its DWARF is damaged. */
static void sym_dwarf_warn(struct sym_cache *cache, struct sym_module *m, const char *msg)
{
    if (m->dwarf_warned)
        return;
    m->dwarf_warned = 1;
    warn_add(&cache->warnings,
             "%s: debug info cprof cannot read (%s): names without a "
             "source location come from the symbol table",
             m->path, msg);
}

/* Opens the DWARF of the file open at fd (which it takes over) for m. */
static void sym_open_dwarf(struct sym_cache *cache, struct sym_module *m, int fd)
{
    char msg[512] = "";
    if (sym_dwarf_open(fd, &m->dwarf_file, msg, sizeof msg) < 0)
        sym_dwarf_warn(cache, m, msg);
}

/* Reads the DWARF units that may hold vaddr, if m has DWARF and they were
 * not read yet, and sorts what they add into m->dwarf. */
static void sym_need_dwarf(struct sym_cache *cache, struct sym_module *m, uint64_t vaddr)
{
    if (!m->dwarf_file)
        return;
    char msg[512] = "";
    int read = sym_dwarf_load(m->dwarf_file, vaddr, &m->dwarf_read, &m->symbols,
                              &m->strings, msg, sizeof msg);
    if (read < 0)
        sym_dwarf_warn(cache, m, msg);
    if (read == 0)
        return;
    struct sym_table *t = &m->dwarf;
    t->n = 0;
    cprof_grow(&t->v, &t->cap, m->dwarf_read.n ? m->dwarf_read.n : 1, sizeof(*t->v));
    if (m->dwarf_read.n)
        memcpy(t->v, m->dwarf_read.v, m->dwarf_read.n * sizeof(*t->v));
    t->n = m->dwarf_read.n;
    sym_table_finish(t);
}

/* Reads the module at m->path; failures become warnings, never errors. */
static void sym_load(struct sym_cache *cache, struct sym_module *m)
{
    int fd = sym_open_file(m->path);
    if (fd < 0) {
        warn_add(&cache->warnings, "%s: cannot open: %s", m->path, strerror(errno));
        m->open_failed = 1;
        return;
    }
    struct sym_elf_info info;
    char msg[512] = "";
    if (sym_elf_read(fd, &info, &m->symbols, &m->strings, msg, sizeof msg) != 0)
        warn_add(&cache->warnings, "%s: %s", m->path, msg);
    memcpy(m->build_id, info.build_id, sizeof(m->build_id));

    int debug_fd = -1;
    if (!info.has_debug_info)
        debug_fd = sym_open_debug_file(cache, m, &info);
    if (debug_fd >= 0) {
        /* the debug file's full .symtab names what a stripped file's
         * .dynsym does not */
        struct sym_elf_info debug_info;
        if (sym_elf_read(debug_fd, &debug_info, &m->symbols, &m->strings, msg,
                         sizeof msg) != 0 ||
            lseek(debug_fd, 0, SEEK_SET) != 0)
            warn_add(&cache->warnings, "%s: debug file: %s", m->path, msg);
    }
    sym_table_finish(&m->symbols);
    if (debug_fd >= 0) {
        sym_open_dwarf(cache, m, debug_fd);
        close(fd);
    } else if (info.has_debug_info) {
        sym_open_dwarf(cache, m, fd);
    } else {
        close(fd);
    }
}

static struct sym_module *sym_module_get(struct sym_cache *cache, const char *path)
{
    if (cache->last && strcmp(cache->last->path, path) == 0)
        return cache->last;
    for (size_t i = 0; i < cache->nmodules; i++)
        if (strcmp(cache->modules[i]->path, path) == 0)
            return cache->last = cache->modules[i];
    struct sym_module *m = cprof_xcalloc(1, sizeof(*m));
    m->path = cprof_xstrdup(path);
    const char *slash = strrchr(m->path, '/');
    m->base = slash ? slash + 1 : m->path;
    cprof_grow(&cache->modules, &cache->cap, cache->nmodules + 1,
               sizeof(*cache->modules));
    cache->modules[cache->nmodules++] = m;
    sym_load(cache, m);
    return cache->last = m;
}

/* "prog+0x1234", one string per address, owned by the module. */
static const char *sym_offset_name(struct sym_module *m, uint64_t vaddr)
{
    uint32_t id = hm_get(&m->offset_ids, vaddr);
    if (id != HM_NONE)
        return m->offset_names[id];
    cprof_grow(&m->offset_names, &m->offset_cap, m->noffset_names + 1,
               sizeof(*m->offset_names));
    char *name = cprof_xasprintf("%s+0x%llx", m->base[0] ? m->base : "?",
                                 (unsigned long long)vaddr);
    m->offset_names[m->noffset_names] = name;
    hm_put(&m->offset_ids, vaddr, (uint32_t)m->noffset_names++);
    return name;
}

int sym_resolve(struct sym_cache *cache, const char *path, const char *build_id,
                uint64_t vaddr, struct sym_func *out)
{
    struct sym_module *m = sym_module_get(cache, path ? path : "");
    if (!m->open_failed && build_id && build_id[0] && !m->build_id_warned &&
        strcmp(build_id, m->build_id) != 0) {
        m->build_id_warned = 1;
        warn_add(&cache->warnings,
                 "%s: rebuilt since the run (build id differs): names may be wrong",
                 m->path);
    }
    const struct sym_entry *e = sym_table_find(&m->dwarf, vaddr);
    if (!e) {
        sym_need_dwarf(cache, m, vaddr);
        e = sym_table_find(&m->dwarf, vaddr);
    }
    if (!e) {
        /* the line table of the unit at the symbol's entry gives its
         * file:line, and that unit may not be the one at vaddr */
        const struct sym_entry *s = sym_table_find(&m->symbols, vaddr);
        if (s && s->lo != vaddr)
            sym_need_dwarf(cache, m, s->lo);
        e = sym_table_find(&m->dwarf, vaddr);
        if (!e)
            e = sym_table_find(&m->symbols, vaddr);
    }
    if (e) {
        out->name = e->name;
        out->file = e->file ? e->file : "";
        out->line = e->line;
        out->entry = e->entry;
        out->quality = (enum sym_quality)e->quality;
        return 0;
    }
    out->name = sym_offset_name(m, vaddr);
    out->file = "";
    out->line = 0;
    out->entry = vaddr;
    out->quality = SYM_OFFSET;
    return 0;
}
