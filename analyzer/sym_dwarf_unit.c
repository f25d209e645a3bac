/*
 * One compile unit's functions, for the DWARF side of the symbolizer
 * (sym_dwarf.c reads units one at a time; see sym_internal.h), on the
 * libdwarf 2021 API. Each compile unit gives its concrete subprograms
 * (name through DW_AT_specification / DW_AT_abstract_origin, declaration
 * file:line, low/high pc or DW_AT_ranges) and its line table, which
 * supplies the file:line of functions that have none: binaries built with
 * -gline-tables-only (what cprof-cc uses) have no subprogram entries at all
 * for functions that inline nothing, so their names come from the symbol
 * table and their location from the line-table row at their entry.
 *
 * Inlined copies (DW_TAG_inlined_subroutine) are not functions here: an
 * address inside one belongs to the subprogram that contains it.
 *
 * Every libdwarf call gets an error pointer, so damaged DWARF makes
 * libdwarf return an error rather than abort.
 */
#include "sym_dwarf_unit.h"

#include <dwarf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Deepest DIE nesting walked; damaged files must not exhaust the stack. */
#define DW_MAX_DEPTH 64
/* Longest DW_AT_specification / DW_AT_abstract_origin chain followed. */
#define DW_MAX_HOPS 4

void sym_dw_error(Dwarf_Debug dbg, Dwarf_Error err, char *msg, size_t msg_size,
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

void sym_dw_unit_error(struct dw_unit *u, Dwarf_Error err)
{
    sym_dw_error(u->dbg, err, u->msg, u->msg_size, &u->failed);
}

void sym_dw_on_error(Dwarf_Error err, Dwarf_Ptr arg)
{
    (void)err;
    int *failed = arg;
    *failed = 1;
}

/* Attribute at of die into *attr (the caller deallocates it): 1, or 0
 * when absent or on an error (remembered in u). */
static int dw_attr(struct dw_unit *u, Dwarf_Die die, Dwarf_Half at, Dwarf_Attribute *attr)
{
    Dwarf_Error err = NULL;
    int rc = dwarf_attr(die, at, attr, &err);
    if (rc == DW_DLV_ERROR)
        sym_dw_unit_error(u, err);
    return rc == DW_DLV_OK;
}

/* The unsigned value of attribute at of die; 0 if present. */
static int dw_udata(struct dw_unit *u, Dwarf_Die die, Dwarf_Half at, Dwarf_Unsigned *v)
{
    Dwarf_Attribute attr;
    Dwarf_Error err = NULL;
    if (!dw_attr(u, die, at, &attr))
        return -1;
    Dwarf_Half form = 0;
    int rc = dwarf_whatform(attr, &form, &err);
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
        sym_dw_unit_error(u, err);
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
    if (!dw_attr(u, die, at, &attr))
        return NULL;
    int rc = dwarf_formstring(attr, &text, &err);
    if (rc == DW_DLV_ERROR)
        sym_dw_unit_error(u, err);
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
    if (!dw_attr(u, die, at, &attr))
        return NULL;
    int rc = dwarf_global_formref(attr, &off, &err);
    if (rc == DW_DLV_OK) {
        size_t info_size = 0;
        sym_object_cover(u->obj, ".debug_info", off, &info_size);
        rc = dwarf_offdie_b(u->dbg, off, 1, &target, &err);
    }
    if (rc == DW_DLV_ERROR)
        sym_dw_unit_error(u, err);
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
            sym_dw_unit_error(u, err);
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

int sym_dw_ranges(struct dw_unit *u, Dwarf_Die die, struct sym_entry *proto)
{
    Dwarf_Attribute attr;
    Dwarf_Error err = NULL;
    if (!dw_attr(u, die, DW_AT_ranges, &attr))
        return 0;
    int added = 0;
    Dwarf_Half form = 0;
    Dwarf_Unsigned value = 0;
    int rc = dwarf_whatform(attr, &form, &err);
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
        sym_dw_unit_error(u, err);
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
        sym_dw_unit_error(u, err);
        err = NULL;
    }
    if (has_pc == DW_DLV_OK) {
        int rc = dwarf_highpc_b(die, &hi, &form, &cls, &err);
        if (rc == DW_DLV_ERROR) {
            sym_dw_unit_error(u, err);
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
            sym_dw_unit_error(u, err);
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
        sym_dw_ranges(u, die, &proto);
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
            sym_dw_unit_error(u, err);
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
        sym_dw_unit_error(u, err);
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

void sym_dw_unit(struct dw_unit *u, Dwarf_Die cu, struct sym_table *symbols)
{
    Dwarf_Error err = NULL;
    int rc = dwarf_die_CU_offset_range(cu, &u->cu_off, &u->cu_len, &err);
    if (rc == DW_DLV_ERROR) {
        sym_dw_unit_error(u, err);
        err = NULL;
    }
    if (dwarf_lowpc(cu, &u->base, &err) == DW_DLV_ERROR) {
        sym_dw_unit_error(u, err);
        err = NULL;
    }
    Dwarf_Unsigned lang = 0;
    err = NULL;
    rc = dwarf_srclang(cu, &lang, &err);
    if (rc == DW_DLV_ERROR)
        sym_dw_unit_error(u, err);
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
            sym_dw_unit_error(u, err);
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

void sym_dw_name_unnamed(struct sym_table *funcs, const struct sym_table *symbols)
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
