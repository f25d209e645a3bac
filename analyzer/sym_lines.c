/*
 * A DWARF line-number program decoder, versions 2 to 5, for the
 * symbolizer. libdwarf 20210528 reads DWARF 5 line tables with the file
 * register starting at 0 instead of 1, so rows before the first
 * DW_LNS_set_file of a sequence (clang-14 puts a header's functions there)
 * get the wrong file; decoding the program here gives the file numbers
 * exactly as written. Only the rows' address, file and line are tracked;
 * the header's file table is skipped (dwarf_srcfiles names the files).
 *
 * The address ranges of .debug_aranges and the size of a unit header
 * are decoded here too.
 *
 * Every read is bounds-checked against the unit: a damaged table stops
 * the decoding with an error, never reads past the section.
 */
#include "sym_internal.h"

#include <dwarf.h>

struct ln_reader {
    const uint8_t *p, *end;
    int bad;
};

static uint64_t ln_fixed(struct ln_reader *r, unsigned n)
{
    if ((size_t)(r->end - r->p) < n) {
        r->bad = 1;
        r->p = r->end;
        return 0;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)r->p[i] << (8 * i); /* little endian: x86-64 and arm64 */
    r->p += n;
    return v;
}

static uint64_t ln_uleb(struct ln_reader *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = 1;
    return 0;
}

static int64_t ln_sleb(struct ln_reader *r)
{
    uint64_t v = 0;
    unsigned shift = 0;
    while (r->p < r->end) {
        uint8_t b = *r->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40))
                v |= ~(uint64_t)0 << shift;
            return (int64_t)v;
        }
    }
    r->bad = 1;
    return 0;
}

/* A unit's initial length; *offset_size is 8 in 64-bit DWARF, else 4. */
static uint64_t ln_unit_length(struct ln_reader *r, unsigned *offset_size)
{
    uint64_t len = ln_fixed(r, 4);
    *offset_size = 4;
    if (len == 0xffffffff) {
        len = ln_fixed(r, 8);
        *offset_size = 8;
    }
    return len;
}

/* The header fields the program needs. */
struct ln_header {
    unsigned version;
    unsigned min_inst, line_range, opcode_base;
    int line_base;
    const uint8_t *std_lengths; /* opcode_base - 1 operand counts */
    const uint8_t *program, *end;
};

static int ln_header(const uint8_t *sec, size_t size, uint64_t off, struct ln_header *h)
{
    if (off >= size)
        return -1;
    struct ln_reader r = {sec + off, sec + size, 0};
    unsigned offset_size;
    uint64_t unit_length = ln_unit_length(&r, &offset_size);
    if (r.bad || unit_length > (uint64_t)(r.end - r.p))
        return -1;
    r.end = r.p + unit_length;
    h->end = r.end;
    h->version = (unsigned)ln_fixed(&r, 2);
    if (h->version < 2 || h->version > 5)
        return -1;
    if (h->version >= 5)
        ln_fixed(&r, 2); /* address_size, segment_selector_size */
    uint64_t header_length = ln_fixed(&r, offset_size);
    if (r.bad || header_length > (uint64_t)(r.end - r.p))
        return -1;
    h->program = r.p + header_length;
    h->min_inst = (unsigned)ln_fixed(&r, 1);
    if (h->version >= 4)
        ln_fixed(&r, 1); /* maximum_operations_per_instruction: VLIW only */
    ln_fixed(&r, 1);     /* default_is_stmt */
    h->line_base = (int8_t)ln_fixed(&r, 1);
    h->line_range = (unsigned)ln_fixed(&r, 1);
    h->opcode_base = (unsigned)ln_fixed(&r, 1);
    h->std_lengths = r.p;
    if (r.bad || h->line_range == 0 || h->opcode_base == 0 ||
        h->opcode_base - 1 > (size_t)(h->program - r.p))
        return -1;
    return 0;
}

int sym_line_version(const uint8_t *sec, size_t size, uint64_t off)
{
    struct ln_header h;
    return ln_header(sec, size, off, &h) == 0 ? (int)h.version : -1;
}

int sym_line_program(const uint8_t *sec, size_t size, uint64_t off, sym_line_fn fn,
                     void *arg)
{
    struct ln_header h;
    if (ln_header(sec, size, off, &h) != 0)
        return -1;
    struct ln_reader r = {h.program, h.end, 0};
    struct sym_line_row row = {0, 1, 1, 0};
    while (r.p < r.end && !r.bad) {
        unsigned op = *r.p++;
        if (op >= h.opcode_base) {
            unsigned adj = op - h.opcode_base;
            row.addr += (uint64_t)(adj / h.line_range) * h.min_inst;
            row.line += (unsigned)(h.line_base + (int)(adj % h.line_range));
            if (fn(arg, &row) != 0)
                return 0;
            continue;
        }
        switch (op) {
        case 0: { /* extended opcode */
            uint64_t len = ln_uleb(&r);
            if (r.bad || len == 0 || len > (uint64_t)(r.end - r.p))
                return -1;
            const uint8_t *next = r.p + len;
            unsigned sub = *r.p++;
            if (sub == DW_LNE_end_sequence) {
                row.end_sequence = 1;
                if (fn(arg, &row) != 0)
                    return 0;
                row = (struct sym_line_row){0, 1, 1, 0};
            } else if (sub == DW_LNE_set_address) {
                unsigned n = (unsigned)(len - 1);
                row.addr = n <= 8 ? ln_fixed(&r, n) : 0;
            }
            r.p = next;
            break;
        }
        case 1: /* DW_LNS_copy */
            if (fn(arg, &row) != 0)
                return 0;
            break;
        case 2: /* DW_LNS_advance_pc */
            row.addr += ln_uleb(&r) * h.min_inst;
            break;
        case 3: /* DW_LNS_advance_line */
            row.line += (unsigned)ln_sleb(&r);
            break;
        case 4: /* DW_LNS_set_file */
            row.file = ln_uleb(&r);
            break;
        case 8: /* DW_LNS_const_add_pc */
            row.addr += (uint64_t)((255 - h.opcode_base) / h.line_range) * h.min_inst;
            break;
        case 9: /* DW_LNS_fixed_advance_pc */
            row.addr += ln_fixed(&r, 2);
            break;
        default: /* operands counted in the header, all ULEB128 */
            for (unsigned i = 0; i < h.std_lengths[op - 1]; i++)
                ln_uleb(&r);
            break;
        }
    }
    return r.bad ? -1 : 0;
}

int sym_aranges(const uint8_t *sec, size_t size, sym_arange_fn fn, void *arg)
{
    struct ln_reader r = {sec, sec + size, 0};
    int rc = 0;
    while (r.p < r.end && !r.bad) {
        const uint8_t *set = r.p;
        unsigned offset_size;
        uint64_t len = ln_unit_length(&r, &offset_size);
        if (r.bad || len > (uint64_t)(r.end - r.p))
            return -1;
        struct ln_reader s = {r.p, r.p + len, 0};
        r.p += len;
        unsigned version = (unsigned)ln_fixed(&s, 2);
        uint64_t header_off = ln_fixed(&s, offset_size);
        unsigned address_size = (unsigned)ln_fixed(&s, 1);
        unsigned segment_size = (unsigned)ln_fixed(&s, 1);
        if (s.bad || version != 2 || segment_size != 0 ||
            (address_size != 4 && address_size != 8)) {
            rc = -1;
            continue;
        }
        size_t pad = (size_t)(s.p - set) % (2 * address_size);
        if (pad)
            ln_fixed(&s, (unsigned)(2 * address_size - pad));
        while (!s.bad && s.p < s.end) {
            uint64_t lo = ln_fixed(&s, address_size);
            uint64_t length = ln_fixed(&s, address_size);
            if (s.bad || (lo == 0 && length == 0))
                break;
            if (fn(arg, header_off, lo, lo + length < lo ? UINT64_MAX : lo + length) != 0)
                return rc;
        }
        if (s.bad)
            rc = -1;
    }
    return r.bad ? -1 : rc;
}

uint64_t sym_unit_die_offset(const uint8_t *sec, size_t size, uint64_t off)
{
    if (!sec || off >= size)
        return 0;
    struct ln_reader r = {sec + off, sec + size, 0};
    unsigned offset_size;
    ln_unit_length(&r, &offset_size);
    unsigned version = (unsigned)ln_fixed(&r, 2);
    if (version >= 2 && version <= 4) {
        ln_fixed(&r, offset_size + 1); /* abbreviations, address size */
    } else if (version == 5) {
        unsigned unit_type = (unsigned)ln_fixed(&r, 1);
        ln_fixed(&r, 1 + offset_size); /* address size, abbreviations */
        if (unit_type == DW_UT_skeleton || unit_type == DW_UT_split_compile)
            ln_fixed(&r, 8); /* dwo id */
        else if (unit_type == DW_UT_type || unit_type == DW_UT_split_type)
            ln_fixed(&r, 8 + offset_size); /* signature, type offset */
    } else {
        return 0;
    }
    return r.bad || r.p >= r.end ? 0 : (uint64_t)(r.p - sec);
}
