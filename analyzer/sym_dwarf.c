/*
 * The DWARF side of the symbolizer (see sym_internal.h): which compile
 * units hold an address, and reading them (one unit's functions:
 * sym_dwarf_unit.c).
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
#include "sym_dwarf_unit.h"

#include <dwarf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hashmap.h"
#include "util.h"

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
    int lib_failed; /* set by sym_dw_on_error */
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
        sym_dw_unit_error(u, err);
        return 0;
    }
    if (has_ranges) {
        struct sym_entry proto = {.name = "", .file = ""};
        return sym_dw_ranges(u, cu, &proto) > 0;
    }
    Dwarf_Half form = 0;
    enum Dwarf_Form_Class cls = DW_FORM_CLASS_UNKNOWN;
    int rc = dwarf_lowpc(cu, lo, &err);
    if (rc == DW_DLV_OK)
        rc = dwarf_highpc_b(cu, hi, &form, &cls, &err);
    if (rc == DW_DLV_ERROR)
        sym_dw_unit_error(u, err);
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
        sym_dw_unit_error(u, err);
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
            sym_dw_unit_error(u, err);
            break;
        }
        Dwarf_Unsigned this_off = header_off;
        header_off = next;
        Dwarf_Die die = NULL;
        rc = dwarf_siblingof_b(d->dbg, NULL, 1, &die, &err);
        if (rc == DW_DLV_ERROR) {
            sym_dw_unit_error(u, err);
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
    int rc = dwarf_object_init_b(sym_object_interface(obj), sym_dw_on_error,
                                 &d->lib_failed, DW_GROUPNUMBER_ANY, &d->dbg, &err);
    if (rc != DW_DLV_OK) {
        if (rc == DW_DLV_ERROR)
            sym_dw_error(NULL, err, msg, msg_size, &d->lib_failed);
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
            sym_dw_unit_error(u, err);
        return;
    }
    Dwarf_Half version = 0, offset_size = 0;
    if (dwarf_get_version_of_die(cu, &version, &offset_size) != DW_DLV_OK)
        version = 0;
    u->version = version;
    u->base = 0;
    sym_dw_unit(u, cu, symbols);
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
        sym_dw_name_unnamed(funcs, symbols);
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
