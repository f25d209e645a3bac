/*
 * The DWARF side of the symbolizer (see sym_internal.h), on the libdwarf
 * 2021 API. Each compile unit gives its concrete subprograms (name through
 * DW_AT_specification / DW_AT_abstract_origin, declaration file:line,
 * low/high pc or DW_AT_ranges) and its line table, which supplies the
 * file:line of functions that have none: binaries built with
 * -gline-tables-only (what cprof-cc uses) have no subprogram entries at all
 * for functions that inline nothing, so their names come from the symbol
 * table and their location from the line-table row at their entry.
 *
 * Inlined copies (DW_TAG_inlined_subroutine) are not functions here: an
 * address inside one belongs to the subprogram that contains it.
 *
 * Units are read only when a lookup needs them. Which unit holds an
 * address comes from .debug_aranges when the file has one (gcc writes it:
 * then .debug_info is not even inflated past the units read, see
 * sym_object.c), else from each unit's own DIE (low/high pc or ranges),
 * all listed when the file is opened. An address no listed range holds
 * makes the units .debug_aranges left out listed too, and then the units
 * whose extent is unknown read: the answer is the one reading every unit
 * would give.
 *
 * Every libdwarf call gets an error pointer and an error handler is set,
 * so damaged DWARF makes libdwarf return an error rather than abort.
 */
#include "sym_internal.h"

#include <dwarf.h>
#include <libdwarf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hashmap.h"
#include "util.h"

/* Deepest DIE nesting walked; damaged files must not exhaust the stack. */
#define DW_MAX_DEPTH 64
/* Longest DW_AT_specification / DW_AT_abstract_origin chain followed. */
#define DW_MAX_HOPS 4

struct dw_unit {
    Dwarf_Debug dbg;
    struct sym_object *obj; /* the file's sections */
    struct sym_table *funcs;
    struct sym_strings *pool;
    Dwarf_Half version;   /* of the unit's line table, else of the unit */
    const uint8_t *lines; /* .debug_line */
    size_t lines_size;
    uint64_t stmt_list; /* the unit's line table in it */
    int has_lines;
    int is_c;                 /* named by DW_AT_name, not by the linkage (symbol) name */
    Dwarf_Off cu_off, cu_len; /* the unit's extent, to spot cross-unit refs */
    Dwarf_Addr base;          /* the unit's base address (DW_AT_low_pc) */
    char **files;             /* dwarf_srcfiles of the unit */
    Dwarf_Signed nfiles;
    const char **file_copies; /* files[i] copied into pool, on first use */
    int failed;               /* a libdwarf error stopped part of the walk */
    char *msg;
    size_t msg_size;
};

/* Remembers the first libdwarf error message and frees the error. */
static void dw_error(Dwarf_Debug dbg, Dwarf_Error err, char *msg, size_t msg_size,
                     int *failed)
{
    if (!*failed && msg_size) {
        snprintf(msg, msg_size, "%s", err ? dwarf_errmsg(err) : "libdwarf error");
        for (char *c = msg; *c; c++) /* warnings are one line */
            if (*c == '\n' || *c == '\r' || *c == '\t')
                *c = ' ';
    }
    *failed = 1;
    if (err)
        dwarf_dealloc_error(dbg, err);
}

static void dw_unit_error(struct dw_unit *u, Dwarf_Error err)
{
    dw_error(u->dbg, err, u->msg, u->msg_size, &u->failed);
}

/* Called by libdwarf on an error that has no error pointer to go to;
 * setting it is what keeps libdwarf from aborting. */
static void dw_on_error(Dwarf_Error err, Dwarf_Ptr arg)
{
    (void)err;
    int *failed = arg;
    *failed = 1;
}

/* The unsigned value of attribute at of die; 0 if present. */
static int dw_udata(struct dw_unit *u, Dwarf_Die die, Dwarf_Half at, Dwarf_Unsigned *v)
{
    Dwarf_Attribute attr;
    Dwarf_Error err = NULL;
    int rc = dwarf_attr(die, at, &attr, &err);
    if (rc != DW_DLV_OK) {
        if (rc == DW_DLV_ERROR)
            dw_unit_error(u, err);
        return -1;
    }
    Dwarf_Half form = 0;
    rc = dwarf_whatform(attr, &form, &err);
    if (rc == DW_DLV_OK && form == DW_FORM_sec_offset) {
        Dwarf_Off off = 0;
        rc = dwarf_global_formref(attr, &off, &err);
        *v = off;
    } else if (rc == DW_DLV_OK && form == DW_FORM_implicit_const) {
        /* gcc's decl_file; this libdwarf reads it only as signed */
        Dwarf_Signed sv = 0;
        rc = dwarf_formsdata(attr, &sv, &err);
        if (rc == DW_DLV_OK && sv < 0)
            rc = DW_DLV_NO_ENTRY;
        *v = (Dwarf_Unsigned)sv;
    } else if (rc == DW_DLV_OK) {
        rc = dwarf_formudata(attr, v, &err);
    }
    if (rc == DW_DLV_ERROR)
        dw_unit_error(u, err);
    dwarf_dealloc_attribute(attr);
    return rc == DW_DLV_OK ? 0 : -1;
}

/* The string value of attribute at of die, copied into the pool; NULL if
 * absent or empty. */
static const char *dw_string(struct dw_unit *u, Dwarf_Die die, Dwarf_Half at)
{
    Dwarf_Attribute attr;
    Dwarf_Error err = NULL;
    char *text = NULL;
    int rc = dwarf_attr(die, at, &attr, &err);
    if (rc != DW_DLV_OK) {
        if (rc == DW_DLV_ERROR)
            dw_unit_error(u, err);
        return NULL;
    }
    rc = dwarf_formstring(attr, &text, &err);
    if (rc == DW_DLV_ERROR)
        dw_unit_error(u, err);
    const char *copy = NULL;
    if (rc == DW_DLV_OK && text && text[0])
        copy = sym_strings_add(u->pool, text, strlen(text));
    dwarf_dealloc_attribute(attr);
    return copy;
}

/* The DIE that attribute at of die refers to (caller deallocates), or NULL. */
static Dwarf_Die dw_ref(struct dw_unit *u, Dwarf_Die die, Dwarf_Half at)
{
    Dwarf_Attribute attr;
    Dwarf_Error err = NULL;
    Dwarf_Off off;
    Dwarf_Die target = NULL;
    int rc = dwarf_attr(die, at, &attr, &err);
    if (rc != DW_DLV_OK) {
        if (rc == DW_DLV_ERROR)
            dw_unit_error(u, err);
        return NULL;
    }
    rc = dwarf_global_formref(attr, &off, &err);
    if (rc == DW_DLV_OK) {
        size_t info_size = 0;
        sym_object_cover(u->obj, ".debug_info", off, &info_size);
        rc = dwarf_offdie_b(u->dbg, off, 1, &target, &err);
    }
    if (rc == DW_DLV_ERROR)
        dw_unit_error(u, err);
    dwarf_dealloc_attribute(attr);
    return rc == DW_DLV_OK ? target : NULL;
}

/* The unit's file number n as a path in the pool, or "" . */
static const char *dw_file(struct dw_unit *u, Dwarf_Unsigned n)
{
    /* dwarf_srcfiles lists DWARF 5 files from number 0, older ones from 1 */
    Dwarf_Signed i = u->version >= 5 ? (Dwarf_Signed)n : (Dwarf_Signed)n - 1;
    if (n > (Dwarf_Unsigned)u->nfiles || i < 0 || i >= u->nfiles || !u->files[i])
        return "";
    if (!u->file_copies[i])
        u->file_copies[i] = sym_strings_path(u->pool, u->files[i]);
    return u->file_copies[i];
}

/* Name and declaration of a subprogram, following specification and
 * abstract origin links; file:line only from DIEs of the same unit, whose
 * file numbers we can read. C functions are named as written (glibc's
 * asm-label aliases such as __GI_ are not what users call them); other
 * languages by their linkage name, which is unique and matches the symbol
 * table that names the functions DWARF does not describe. */
static void dw_describe(struct dw_unit *u, Dwarf_Die die, struct sym_entry *e)
{
    const char *plain = NULL; /* DW_AT_name, if no linkage name is found */
    Dwarf_Die cur = die;
    for (int hop = 0; cur && hop <= DW_MAX_HOPS; hop++) {
        Dwarf_Off off = 0;
        Dwarf_Error err = NULL;
        int same_unit = hop == 0;
        if (!same_unit && dwarf_dieoffset(cur, &off, &err) == DW_DLV_ERROR)
            dw_unit_error(u, err);
        else if (!same_unit)
            same_unit = off >= u->cu_off && off < u->cu_off + u->cu_len;
        if (!e->name && u->is_c) {
            e->name = dw_string(u, cur, DW_AT_name);
        } else if (!e->name) {
            const char *linkage = dw_string(u, cur, DW_AT_linkage_name);
            if (!linkage)
                linkage = dw_string(u, cur, DW_AT_MIPS_linkage_name);
            if (linkage)
                e->name = linkage;
            else if (!plain)
                plain = dw_string(u, cur, DW_AT_name);
        }
        Dwarf_Unsigned line, file;
        if (!e->line && same_unit && dw_udata(u, cur, DW_AT_decl_line, &line) == 0 &&
            line > 0 && line <= UINT32_MAX) {
            e->line = (unsigned)line;
            if (dw_udata(u, cur, DW_AT_decl_file, &file) == 0)
                e->file = dw_file(u, file);
        }
        if (e->name && e->line)
            break;
        err = NULL;
        Dwarf_Die next = dw_ref(u, cur, DW_AT_specification);
        if (!next)
            next = dw_ref(u, cur, DW_AT_abstract_origin);
        if (cur != die)
            dwarf_dealloc_die(cur);
        cur = next;
    }
    if (cur && cur != die)
        dwarf_dealloc_die(cur);
    if (!e->name)
        e->name = plain;
}

/* Appends one range of a subprogram described by proto. */
static void dw_add_range(struct dw_unit *u, const struct sym_entry *proto, Dwarf_Addr lo,
                         Dwarf_Addr hi)
{
    if (lo == 0 || hi <= lo) /* discarded by the linker, or empty */
        return;
    struct sym_entry *e = sym_table_add(u->funcs);
    *e = *proto;
    e->lo = lo;
    e->hi = hi;
    if (!e->entry)
        e->entry = lo;
}

/* Adds the ranges of DW_AT_ranges; returns how many. */
static int dw_ranges(struct dw_unit *u, Dwarf_Die die, struct sym_entry *proto)
{
    Dwarf_Attribute attr;
    Dwarf_Error err = NULL;
    int rc = dwarf_attr(die, DW_AT_ranges, &attr, &err);
    if (rc != DW_DLV_OK) {
        if (rc == DW_DLV_ERROR)
            dw_unit_error(u, err);
        return 0;
    }
    int added = 0;
    Dwarf_Half form = 0;
    Dwarf_Unsigned value = 0;
    rc = dwarf_whatform(attr, &form, &err);
    if (rc == DW_DLV_OK) {
        if (form == DW_FORM_rnglistx || form == DW_FORM_udata || form == DW_FORM_data4 ||
            form == DW_FORM_data8)
            rc = dwarf_formudata(attr, &value, &err);
        else
            rc = dwarf_global_formref(attr, &value, &err);
    }
    if (rc == DW_DLV_OK && u->version >= 5) {
        Dwarf_Rnglists_Head head = NULL;
        Dwarf_Unsigned count = 0, global_off = 0;
        rc = dwarf_rnglists_get_rle_head(attr, form, value, &head, &count, &global_off,
                                         &err);
        for (Dwarf_Unsigned i = 0; rc == DW_DLV_OK && i < count; i++) {
            unsigned len = 0, code = 0;
            Dwarf_Unsigned raw1, raw2, lo, hi;
            Dwarf_Bool no_addr = 0;
            rc = dwarf_get_rnglists_entry_fields_a(head, i, &len, &code, &raw1, &raw2,
                                                   &no_addr, &lo, &hi, &err);
            if (rc != DW_DLV_OK || no_addr || code == DW_RLE_end_of_list ||
                code == DW_RLE_base_address || code == DW_RLE_base_addressx)
                continue;
            if (!proto->entry)
                proto->entry = lo;
            dw_add_range(u, proto, lo, hi);
            added++;
        }
        if (head)
            dwarf_dealloc_rnglists_head(head);
    } else if (rc == DW_DLV_OK) {
        Dwarf_Ranges *ranges = NULL;
        Dwarf_Signed count = 0;
        Dwarf_Unsigned bytes = 0;
        Dwarf_Addr base = u->base;
        rc = dwarf_get_ranges_a(u->dbg, value, die, &ranges, &count, &bytes, &err);
        for (Dwarf_Signed i = 0; rc == DW_DLV_OK && i < count; i++) {
            if (ranges[i].dwr_type == DW_RANGES_END)
                break;
            if (ranges[i].dwr_type == DW_RANGES_ADDRESS_SELECTION) {
                base = ranges[i].dwr_addr2;
                continue;
            }
            Dwarf_Addr lo = base + ranges[i].dwr_addr1, hi = base + ranges[i].dwr_addr2;
            if (!proto->entry)
                proto->entry = lo;
            dw_add_range(u, proto, lo, hi);
            added++;
        }
        if (ranges)
            dwarf_ranges_dealloc(u->dbg, ranges, count);
    }
    if (rc == DW_DLV_ERROR)
        dw_unit_error(u, err);
    dwarf_dealloc_attribute(attr);
    return added;
}

/* Adds a subprogram DIE if it is a concrete function with code. */
static void dw_subprogram(struct dw_unit *u, Dwarf_Die die)
{
    struct sym_entry proto = {0};
    Dwarf_Error err = NULL;
    Dwarf_Addr lo = 0, hi = 0;
    Dwarf_Half form = 0;
    enum Dwarf_Form_Class cls = DW_FORM_CLASS_UNKNOWN;
    int has_pc = dwarf_lowpc(die, &lo, &err);
    if (has_pc == DW_DLV_ERROR) {
        dw_unit_error(u, err);
        err = NULL;
    }
    if (has_pc == DW_DLV_OK) {
        int rc = dwarf_highpc_b(die, &hi, &form, &cls, &err);
        if (rc == DW_DLV_ERROR) {
            dw_unit_error(u, err);
            return;
        }
        if (rc != DW_DLV_OK)
            return;
        if (cls == DW_FORM_CLASS_CONSTANT)
            hi += lo;
        if (lo == 0 || hi <= lo)
            return;
    } else {
        Dwarf_Bool has_ranges = 0;
        if (dwarf_hasattr(die, DW_AT_ranges, &has_ranges, &err) == DW_DLV_ERROR)
            dw_unit_error(u, err);
        if (!has_ranges)
            return; /* a declaration, or an abstract instance */
    }
    proto.quality = SYM_DWARF;
    proto.file = "";
    dw_describe(u, die, &proto);
    if (!proto.name)
        proto.name = ""; /* named from the symbols later, see dw_unit */
    if (has_pc == DW_DLV_OK) {
        proto.entry = lo;
        dw_add_range(u, &proto, lo, hi);
    } else {
        dw_ranges(u, die, &proto);
    }
}

/* Whether functions can be nested below a DIE with this tag. */
static int dw_may_hold_functions(Dwarf_Half tag)
{
    switch (tag) {
    case DW_TAG_subprogram:
    case DW_TAG_lexical_block:
    case DW_TAG_namespace:
    case DW_TAG_module:
    case DW_TAG_class_type:
    case DW_TAG_structure_type:
    case DW_TAG_union_type:
        return 1;
    default:
        return 0;
    }
}

static void dw_walk(struct dw_unit *u, Dwarf_Die parent, int depth)
{
    Dwarf_Die child = NULL;
    Dwarf_Error err = NULL;
    int rc = dwarf_child(parent, &child, &err);
    while (rc == DW_DLV_OK) {
        Dwarf_Half tag = 0;
        if (dwarf_tag(child, &tag, &err) != DW_DLV_OK) {
            dw_unit_error(u, err);
            err = NULL;
        } else {
            if (tag == DW_TAG_subprogram)
                dw_subprogram(u, child);
            if (dw_may_hold_functions(tag) && depth < DW_MAX_DEPTH)
                dw_walk(u, child, depth + 1);
        }
        Dwarf_Die sibling = NULL;
        rc = dwarf_siblingof_b(u->dbg, child, 1, &sibling, &err);
        dwarf_dealloc_die(child);
        child = sibling;
    }
    if (rc == DW_DLV_ERROR)
        dw_unit_error(u, err);
}

static int dw_entry_cmp(const void *a, const void *b)
{
    const struct sym_entry *x = a, *y = b;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

/* The first index in v[0..n) (sorted by entry) with entry >= addr. */
static size_t dw_lower_bound(const struct sym_entry *v, size_t n, uint64_t addr)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].entry < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Gives file:line to every entry of v[0..n) at entry addr that lacks one;
 * returns how many it gave. */
static int dw_fill(struct sym_entry *v, size_t n, uint64_t addr, const char *file,
                   unsigned line)
{
    int filled = 0;
    for (size_t i = dw_lower_bound(v, n, addr); i < n && v[i].entry == addr; i++) {
        if (v[i].line && v[i].file[0])
            continue;
        if (!v[i].line)
            v[i].line = line;
        if (!v[i].file[0])
            v[i].file = file;
        v[i].quality = SYM_DWARF;
        filled++;
    }
    return filled;
}

struct dw_line_walk {
    struct dw_unit *u;
    struct sym_entry *mine; /* the unit's functions, sorted by entry */
    size_t nmine;
    struct sym_table *symbols;
    int fresh; /* the next row starts a sequence */
    uint64_t prev;
};

static int dw_line_row(void *arg, const struct sym_line_row *row)
{
    struct dw_line_walk *w = arg;
    if (row->end_sequence) {
        w->fresh = 1;
        return 0;
    }
    if (!w->fresh && row->addr == w->prev)
        return 0; /* only the first row at an address is the entry's */
    w->fresh = 0;
    w->prev = row->addr;
    if (row->line == 0)
        return 0;
    const char *file = dw_file(w->u, row->file);
    dw_fill(w->mine, w->nmine, row->addr, file, row->line);
    dw_fill(w->symbols->v, w->symbols->n, row->addr, file, row->line);
    return 0;
}

/* Walks the unit's line table, giving the first row at each function entry
 * to the unit's new functions (from index first) and to the symbols. */
static void dw_lines(struct dw_unit *u, size_t first, struct sym_table *symbols)
{
    struct dw_line_walk w = {.u = u, .symbols = symbols, .fresh = 1};
    w.nmine = u->funcs->n - first;
    w.mine = w.nmine ? u->funcs->v + first : NULL;
    if (w.nmine)
        qsort(w.mine, w.nmine, sizeof(*w.mine), dw_entry_cmp);
    if (!u->has_lines)
        return;
    if (sym_line_program(u->lines, u->lines_size, u->stmt_list, dw_line_row, &w) != 0 &&
        !u->failed) {
        snprintf(u->msg, u->msg_size, "damaged line table at .debug_line+0x%llx",
                 (unsigned long long)u->stmt_list);
        u->failed = 1;
    }
}

/* Reads one compile unit whose DIE is cu. */
static void dw_unit(struct dw_unit *u, Dwarf_Die cu, struct sym_table *symbols)
{
    Dwarf_Error err = NULL;
    int rc = dwarf_die_CU_offset_range(cu, &u->cu_off, &u->cu_len, &err);
    if (rc == DW_DLV_ERROR) {
        dw_unit_error(u, err);
        err = NULL;
    }
    if (dwarf_lowpc(cu, &u->base, &err) == DW_DLV_ERROR) {
        dw_unit_error(u, err);
        err = NULL;
    }
    Dwarf_Unsigned lang = 0;
    err = NULL;
    rc = dwarf_srclang(cu, &lang, &err);
    if (rc == DW_DLV_ERROR)
        dw_unit_error(u, err);
    u->is_c = rc != DW_DLV_OK || lang == DW_LANG_C89 || lang == DW_LANG_C ||
              lang == DW_LANG_C99 || lang == DW_LANG_C11 || lang == 0x2c /* C17 */;
    /* file numbers follow the line table's version, not the unit's */
    Dwarf_Unsigned stmt_list = 0;
    u->has_lines = 0;
    u->lines = NULL;
    if (dw_udata(u, cu, DW_AT_stmt_list, &stmt_list) == 0)
        u->lines = sym_object_cover(u->obj, ".debug_line", stmt_list, &u->lines_size);
    if (u->lines) {
        int version = sym_line_version(u->lines, u->lines_size, stmt_list);
        if (version > 0) {
            u->version = (Dwarf_Half)version;
            u->stmt_list = stmt_list;
            u->has_lines = 1;
        }
    }
    rc = dwarf_srcfiles(cu, &u->files, &u->nfiles, &err);
    if (rc != DW_DLV_OK) {
        if (rc == DW_DLV_ERROR)
            dw_unit_error(u, err);
        u->files = NULL;
        u->nfiles = 0;
    }
    u->file_copies = cprof_xcalloc(u->nfiles ? (size_t)u->nfiles : 1, sizeof(char *));
    size_t first = u->funcs->n;
    dw_walk(u, cu, 0);
    for (size_t i = first; i < u->funcs->n; i++)
        if (!u->funcs->v[i].name[0]) /* no name: maybe the symbols have one */
            u->funcs->v[i].name = NULL;
    dw_lines(u, first, symbols);
    free(u->file_copies);
    u->file_copies = NULL;
    for (Dwarf_Signed i = 0; i < u->nfiles; i++)
        dwarf_dealloc(u->dbg, u->files[i], DW_DLA_STRING);
    if (u->files)
        dwarf_dealloc(u->dbg, u->files, DW_DLA_LIST);
    u->files = NULL;
    u->nfiles = 0;
}

/* Functions DWARF found with no name take the symbol at their entry, or
 * are dropped so the symbol table answers for them. */
static void dw_name_unnamed(struct sym_table *funcs, const struct sym_table *symbols)
{
    size_t kept = 0;
    for (size_t i = 0; i < funcs->n; i++) {
        struct sym_entry *e = &funcs->v[i];
        if (!e->name) {
            const struct sym_entry *s = sym_table_find(symbols, e->entry);
            if (!s || s->lo != e->entry)
                continue;
            e->name = s->name;
        }
        funcs->v[kept++] = *e;
    }
    funcs->n = kept;
}

/* ---- one compile unit at a time ---- */

/* A compile unit: where its header is, and whether it was read. */
struct dw_cu {
    Dwarf_Off header_off; /* in .debug_info */
    int loaded;
    int unranged; /* its addresses are not known: read on a miss */
};

/* An address range of one compile unit. */
struct dw_span {
    uint64_t lo, hi;
    size_t cu;
};

struct sym_dwarf {
    Dwarf_Debug dbg;
    int fd;
    struct sym_object *obj;
    int lib_failed; /* set by dw_on_error */
    struct dw_cu *cus;
    size_t ncus, cus_cap;
    struct hashmap cu_ids; /* header offset -> index in cus */
    struct dw_span *spans;
    size_t nspans, spans_cap;
    int listed;   /* every unit of .debug_info is in cus */
    int unranged; /* some unit not read yet has no known range */
};

/* The unit whose header is at header_off, added if new. */
static size_t dw_cu_at(struct sym_dwarf *d, Dwarf_Off header_off)
{
    uint32_t id = hm_get(&d->cu_ids, header_off);
    if (id != HM_NONE)
        return id;
    cprof_grow(&d->cus, &d->cus_cap, d->ncus + 1, sizeof(*d->cus));
    memset(&d->cus[d->ncus], 0, sizeof(*d->cus));
    d->cus[d->ncus].header_off = header_off;
    hm_put(&d->cu_ids, header_off, (uint32_t)d->ncus);
    return d->ncus++;
}

static void dw_add_span(struct sym_dwarf *d, uint64_t lo, uint64_t hi, size_t cu)
{
    if (lo == 0 || hi <= lo) /* discarded by the linker, or empty */
        return;
    cprof_grow(&d->spans, &d->spans_cap, d->nspans + 1, sizeof(*d->spans));
    d->spans[d->nspans++] = (struct dw_span){lo, hi, cu};
}

/* Whether the unit's DIE has DW_AT_ranges (read into u->funcs) or a
 * low/high pc pair (into *lo, *hi); 0 when it has neither. */
static int dw_unit_ranges(struct dw_unit *u, Dwarf_Die cu, Dwarf_Addr *lo, Dwarf_Addr *hi)
{
    Dwarf_Error err = NULL;
    Dwarf_Bool has_ranges = 0;
    if (dwarf_hasattr(cu, DW_AT_ranges, &has_ranges, &err) == DW_DLV_ERROR) {
        dw_unit_error(u, err);
        return 0;
    }
    if (has_ranges) {
        struct sym_entry proto = {.name = "", .file = ""};
        return dw_ranges(u, cu, &proto) > 0;
    }
    Dwarf_Half form = 0;
    enum Dwarf_Form_Class cls = DW_FORM_CLASS_UNKNOWN;
    int rc = dwarf_lowpc(cu, lo, &err);
    if (rc == DW_DLV_OK)
        rc = dwarf_highpc_b(cu, hi, &form, &cls, &err);
    if (rc == DW_DLV_ERROR)
        dw_unit_error(u, err);
    if (rc != DW_DLV_OK)
        return 0;
    if (cls == DW_FORM_CLASS_CONSTANT)
        *hi += *lo;
    return *hi > *lo;
}

/* Records the addresses unit cu (whose DIE is die) covers, from its DIE. */
static void dw_index_unit(struct sym_dwarf *d, struct dw_unit *u, size_t cu,
                          Dwarf_Die die, Dwarf_Half version)
{
    Dwarf_Error err = NULL;
    u->version = version;
    u->base = 0;
    if (dwarf_lowpc(die, &u->base, &err) == DW_DLV_ERROR)
        dw_unit_error(u, err);
    struct sym_table ranges = {0};
    u->funcs = &ranges;
    Dwarf_Addr lo = 0, hi = 0;
    if (!dw_unit_ranges(u, die, &lo, &hi)) {
        d->cus[cu].unranged = 1;
        d->unranged = 1;
    } else if (!ranges.n) {
        dw_add_span(d, lo, hi, cu);
    }
    for (size_t i = 0; i < ranges.n; i++)
        dw_add_span(d, ranges.v[i].lo, ranges.v[i].hi, cu);
    sym_table_free(&ranges);
}

/* Lists every unit of .debug_info that .debug_aranges did not, with the
 * addresses its DIE says it covers: all of .debug_info is read. */
static void dw_list_units(struct sym_dwarf *d, struct dw_unit *u)
{
    d->listed = 1;
    size_t info_size = 0;
    sym_object_cover(d->obj, ".debug_info", UINT64_MAX, &info_size);
    Dwarf_Unsigned header_off = 0;
    for (;;) {
        Dwarf_Unsigned header_len = 0, type_off = 0, next = 0;
        Dwarf_Half version = 0, address_size = 0, length_size = 0, ext_size = 0,
                   unit_type = 0;
        Dwarf_Off abbrev_off = 0;
        Dwarf_Sig8 signature;
        Dwarf_Error err = NULL;
        int rc = dwarf_next_cu_header_d(d->dbg, 1, &header_len, &version, &abbrev_off,
                                        &address_size, &length_size, &ext_size,
                                        &signature, &type_off, &next, &unit_type, &err);
        if (rc == DW_DLV_NO_ENTRY)
            break;
        if (rc == DW_DLV_ERROR) {
            dw_unit_error(u, err);
            break;
        }
        Dwarf_Unsigned this_off = header_off;
        header_off = next;
        Dwarf_Die die = NULL;
        rc = dwarf_siblingof_b(d->dbg, NULL, 1, &die, &err);
        if (rc == DW_DLV_ERROR) {
            dw_unit_error(u, err);
            break;
        }
        if (rc != DW_DLV_OK)
            continue;
        size_t known = d->ncus, cu = dw_cu_at(d, this_off);
        if (cu == known) /* new: not in .debug_aranges */
            dw_index_unit(d, u, cu, die, version);
        dwarf_dealloc_die(die);
    }
}

static int dw_arange(void *arg, uint64_t header_off, uint64_t lo, uint64_t hi)
{
    struct sym_dwarf *d = arg;
    dw_add_span(d, lo, hi, dw_cu_at(d, header_off));
    return 0;
}

/* The error of one call: the unit's first message, else libdwarf's. */
static int dw_result(struct sym_dwarf *d, struct dw_unit *u, char *msg, size_t msg_size)
{
    int failed = u->failed || d->lib_failed;
    if (!u->failed && d->lib_failed)
        snprintf(msg, msg_size, "libdwarf error");
    d->lib_failed = 0;
    return failed ? -1 : 0;
}

int sym_dwarf_open(int fd, struct sym_dwarf **out, char *msg, size_t msg_size)
{
    *out = NULL;
    struct sym_object *obj = sym_object_open(fd, msg, msg_size);
    if (!obj) {
        close(fd);
        return -1;
    }
    struct sym_dwarf *d = cprof_xcalloc(1, sizeof(*d));
    d->fd = fd;
    d->obj = obj;
    Dwarf_Error err = NULL;
    int rc = dwarf_object_init_b(sym_object_interface(obj), dw_on_error, &d->lib_failed,
                                 DW_GROUPNUMBER_ANY, &d->dbg, &err);
    if (rc != DW_DLV_OK) {
        if (rc == DW_DLV_ERROR)
            dw_error(NULL, err, msg, msg_size, &d->lib_failed);
        d->dbg = NULL;
        sym_dwarf_close(d);
        return rc == DW_DLV_NO_ENTRY ? 0 : -1;
    }
    struct dw_unit u = {.dbg = d->dbg, .obj = obj, .msg = msg, .msg_size = msg_size};
    /* gcc writes .debug_aranges (clang only with -gdwarf-aranges): the
     * units it lists need no reading of .debug_info until looked up */
    size_t aranges_size = 0;
    const uint8_t *aranges =
        sym_object_cover(obj, ".debug_aranges", UINT64_MAX, &aranges_size);
    if (aranges)
        sym_aranges(aranges, aranges_size, dw_arange, d);
    if (!d->nspans)
        dw_list_units(d, &u);
    *out = d;
    return dw_result(d, &u, msg, msg_size) < 0 ? -1 : 1;
}

/* Reads unit i: its functions into u->funcs, its line table into them and
 * into symbols. */
static void dw_load_unit(struct sym_dwarf *d, struct dw_unit *u, size_t i,
                         struct sym_table *symbols)
{
    d->cus[i].loaded = 1;
    Dwarf_Error err = NULL;
    Dwarf_Off die_off = 0;
    Dwarf_Die cu = NULL;
    size_t info_size = 0;
    const uint8_t *info =
        sym_object_cover(d->obj, ".debug_info", d->cus[i].header_off, &info_size);
    die_off = sym_unit_die_offset(info, info_size, d->cus[i].header_off);
    if (!die_off) {
        if (!u->failed)
            snprintf(u->msg, u->msg_size, "damaged unit header at .debug_info+0x%llx",
                     (unsigned long long)d->cus[i].header_off);
        u->failed = 1;
        return;
    }
    int rc = dwarf_offdie_b(d->dbg, die_off, 1, &cu, &err);
    if (rc != DW_DLV_OK) {
        if (rc == DW_DLV_ERROR)
            dw_unit_error(u, err);
        return;
    }
    Dwarf_Half version = 0, offset_size = 0;
    if (dwarf_get_version_of_die(cu, &version, &offset_size) != DW_DLV_OK)
        version = 0;
    u->version = version;
    u->base = 0;
    dw_unit(u, cu, symbols);
    dwarf_dealloc_die(cu);
}

/* Reads the units not read yet that a span holding addr names. */
static int dw_load_spans(struct sym_dwarf *d, struct dw_unit *u, uint64_t addr,
                         struct sym_table *symbols)
{
    int read = 0;
    for (size_t i = 0; i < d->nspans; i++) {
        const struct dw_span *s = &d->spans[i];
        if (addr >= s->lo && addr < s->hi && !d->cus[s->cu].loaded) {
            dw_load_unit(d, u, s->cu, symbols);
            read++;
        }
    }
    return read;
}

int sym_dwarf_load(struct sym_dwarf *d, uint64_t addr, struct sym_table *funcs,
                   struct sym_table *symbols, struct sym_strings *pool, char *msg,
                   size_t msg_size)
{
    struct dw_unit u = {.dbg = d->dbg,
                        .obj = d->obj,
                        .funcs = funcs,
                        .pool = pool,
                        .msg = msg,
                        .msg_size = msg_size};
    int read = dw_load_spans(d, &u, addr, symbols);
    if (!read && !d->listed) { /* a miss: the units .debug_aranges left out */
        dw_list_units(d, &u);
        u.funcs = funcs;
        read = dw_load_spans(d, &u, addr, symbols);
    }
    if (!read && d->unranged) { /* units of unknown extent may hold it */
        d->unranged = 0;
        for (size_t i = 0; i < d->ncus; i++)
            if (d->cus[i].unranged && !d->cus[i].loaded) {
                dw_load_unit(d, &u, i, symbols);
                read++;
            }
    }
    if (read)
        dw_name_unnamed(funcs, symbols);
    return dw_result(d, &u, msg, msg_size) < 0 ? -1 : read;
}

void sym_dwarf_close(struct sym_dwarf *d)
{
    if (!d)
        return;
    Dwarf_Error err = NULL;
    if (d->dbg)
        dwarf_object_finish(d->dbg, &err);
    sym_object_close(d->obj);
    close(d->fd);
    hm_free(&d->cu_ids);
    free(d->cus);
    free(d->spans);
    free(d);
}
