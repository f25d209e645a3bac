/*
 * Where a call's frame is: its canonical frame address (CFA, the stack
 * pointer its caller had before the call), read from the unwind tables the
 * compiler emits (.eh_frame, found through .eh_frame_hdr). The hooks compare
 * CFAs to recognise frames abandoned by longjmp: a real ancestor's CFA is
 * always higher than its callee's, whatever the two functions' frame sizes.
 *
 * For each place an enter hook is called from (the hook's return address,
 * pc) the unwind table gives a rule, "CFA = rsp + k" or "CFA = rbp + k",
 * that holds every time; rules are cached in one process-wide table so the
 * tables are read once per place. A function inlined into another calls its
 * hook from inside its host, so it gets the host's CFA, as it should.
 *
 * Everything here but the table is cold: it runs once per hook place. Code
 * without unwind tables (built with -fno-asynchronous-unwind-tables) has no
 * rule: the hooks then fall back to a bound (rt_hooks.c).
 */
#define _GNU_SOURCE
#include <link.h>
#include <string.h>

#include "rt_internal.h"

struct rt_cfa_entry rt_cfa_table[RT_CFA_ENTRIES];

#if defined(__x86_64__)

/* DWARF register numbers on x86-64 */
#define RT_DW_RBP 6
#define RT_DW_RSP 7

/* Pointer encodings (DW_EH_PE_*) */
#define RT_PE_OMIT 0xff
#define RT_PE_FORMAT 0x0f
#define RT_PE_APPL 0x70
#define RT_PE_INDIRECT 0x80

/* A bounded reader over one table: every read checks the end, and a read
 * past it sets bad instead of going further. */
struct rt_rd {
    const uint8_t *p, *end;
    int bad;
};

RT_NOINST static uint64_t rt_rd_bytes(struct rt_rd *r, unsigned n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    return v;
}

RT_NOINST static uint64_t rt_rd_uleb(struct rt_rd *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; !r->bad; shift += 7) {
        uint64_t b = rt_rd_bytes(r, 1);
        if (shift < 64)
            v |= (b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    return v;
}

RT_NOINST static int64_t rt_rd_sleb(struct rt_rd *r)
{
    uint64_t v = 0, b = 0;
    unsigned shift = 0;
    do {
        b = rt_rd_bytes(r, 1);
        if (shift < 64)
            v |= (b & 0x7f) << shift;
        shift += 7;
    } while ((b & 0x80) && !r->bad);
    if (shift < 64 && (b & 0x40))
        v |= ~(uint64_t)0 << shift;
    return (int64_t)v;
}

/* Reads a pointer in encoding enc. datarel is the base of datarel
 * encodings (the start of .eh_frame_hdr). Indirect and text- or
 * function-relative pointers are not used in what we read: bad. */
RT_NOINST static uintptr_t rt_rd_ptr(struct rt_rd *r, unsigned enc, uintptr_t datarel)
{
    uintptr_t at = (uintptr_t)r->p;
    uint64_t v = 0;
    switch (enc & RT_PE_FORMAT) {
    case 0x00:
        v = rt_rd_bytes(r, sizeof(uintptr_t));
        break;
    case 0x01:
        v = rt_rd_uleb(r);
        break;
    case 0x02:
        v = rt_rd_bytes(r, 2);
        break;
    case 0x03:
        v = rt_rd_bytes(r, 4);
        break;
    case 0x04:
        v = rt_rd_bytes(r, 8);
        break;
    case 0x09:
        v = (uint64_t)rt_rd_sleb(r);
        break;
    case 0x0a:
        v = (uint64_t)(int64_t)(int16_t)rt_rd_bytes(r, 2);
        break;
    case 0x0b:
        v = (uint64_t)(int64_t)(int32_t)rt_rd_bytes(r, 4);
        break;
    case 0x0c:
        v = rt_rd_bytes(r, 8);
        break;
    default:
        r->bad = 1;
        return 0;
    }
    switch (enc & RT_PE_APPL) {
    case 0x00:
        break;
    case 0x10:
        v += at;
        break;
    case 0x30:
        v += datarel;
        break;
    default:
        r->bad = 1;
        return 0;
    }
    if (enc & RT_PE_INDIRECT)
        r->bad = 1;
    return (uintptr_t)v;
}

/* The CFA rule being built while the call frame instructions run. */
struct rt_cfa_state {
    uint64_t reg;
    int64_t off;
    int known;
};

/* What a CIE says that its FDEs need. */
struct rt_cie {
    uint64_t code_align;
    int64_t data_align;
    unsigned fde_enc;
    int has_aug_len; /* 'z': FDEs carry an augmentation data length */
    const uint8_t *insns, *insns_end;
};

RT_NOINST static int rt_parse_cie(const uint8_t *at, const uint8_t *limit,
                                  struct rt_cie *c)
{
    struct rt_rd r = {at, limit, 0};
    uint64_t len = rt_rd_bytes(&r, 4);
    if (r.bad || len == 0 || len == 0xffffffffu || len > (uint64_t)(limit - r.p))
        return -1;
    r.end = r.p + len;
    if (rt_rd_bytes(&r, 4) != 0) /* CIE id */
        return -1;
    unsigned version = (unsigned)rt_rd_bytes(&r, 1);
    const char *aug = (const char *)r.p;
    size_t aug_n = strnlen(aug, (size_t)(r.end - r.p));
    if (aug_n == (size_t)(r.end - r.p))
        return -1;
    r.p += aug_n + 1;
    if (version >= 4)
        rt_rd_bytes(&r, 2); /* address and segment selector sizes */
    c->code_align = rt_rd_uleb(&r);
    c->data_align = rt_rd_sleb(&r);
    if (version == 1)
        rt_rd_bytes(&r, 1);
    else
        rt_rd_uleb(&r); /* return address register */
    c->fde_enc = 0;
    c->has_aug_len = aug[0] == 'z';
    if (c->has_aug_len) {
        uint64_t n = rt_rd_uleb(&r);
        if (r.bad || n > (uint64_t)(r.end - r.p))
            return -1;
        const uint8_t *aug_end = r.p + n;
        for (size_t i = 1; i < aug_n && !r.bad; i++) {
            if (aug[i] == 'R') {
                c->fde_enc = (unsigned)rt_rd_bytes(&r, 1);
            } else if (aug[i] == 'P') {
                unsigned enc = (unsigned)rt_rd_bytes(&r, 1);
                rt_rd_ptr(&r, enc & ~RT_PE_INDIRECT, 0);
            } else if (aug[i] == 'L') {
                rt_rd_bytes(&r, 1);
            } else if (aug[i] != 'S' && aug[i] != 'B') {
                break; /* unknown: the length lets us skip the rest */
            }
        }
        r.p = aug_end;
    } else if (aug_n != 0) {
        return -1; /* an augmentation we cannot skip */
    }
    c->insns = r.p;
    c->insns_end = r.end;
    return r.bad ? -1 : 0;
}

/* Runs call frame instructions from loc until the row that covers target.
 * Returns 1 when it reached target (or the end of the instructions). */
RT_NOINST static int rt_run_cfi(struct rt_rd *r, const struct rt_cie *c, uintptr_t loc,
                                uintptr_t target, struct rt_cfa_state *s)
{
    struct rt_cfa_state saved[8];
    unsigned nsaved = 0;
    while (r->p < r->end && !r->bad) {
        unsigned op = (unsigned)rt_rd_bytes(r, 1);
        uint64_t delta = 0;
        int advance = 0;
        switch (op >> 6) {
        case 1:
            delta = op & 0x3f;
            advance = 1;
            break;
        case 2:
            rt_rd_uleb(r);
            continue; /* offset: a register rule */
        case 3:
            continue; /* restore: a register rule */
        default:
            break;
        }
        if (!advance) {
            switch (op) {
            case 0x00:
                break;
            case 0x01:
                loc = rt_rd_ptr(r, c->fde_enc, 0);
                if (loc > target)
                    return 1;
                break;
            case 0x02:
                delta = rt_rd_bytes(r, 1);
                advance = 1;
                break;
            case 0x03:
                delta = rt_rd_bytes(r, 2);
                advance = 1;
                break;
            case 0x04:
                delta = rt_rd_bytes(r, 4);
                advance = 1;
                break;
            case 0x05:
                rt_rd_uleb(r);
                rt_rd_uleb(r);
                break;
            case 0x06:
            case 0x07:
            case 0x08:
                rt_rd_uleb(r);
                break;
            case 0x09:
                rt_rd_uleb(r);
                rt_rd_uleb(r);
                break;
            case 0x0a:
                if (nsaved == 8)
                    return 0;
                saved[nsaved++] = *s;
                break;
            case 0x0b:
                if (nsaved == 0)
                    return 0;
                *s = saved[--nsaved];
                break;
            case 0x0c:
                s->reg = rt_rd_uleb(r);
                s->off = (int64_t)rt_rd_uleb(r);
                s->known = 1;
                break;
            case 0x0d:
                s->reg = rt_rd_uleb(r);
                break;
            case 0x0e:
                s->off = (int64_t)rt_rd_uleb(r);
                break;
            case 0x0f: /* def_cfa_expression: not a rule we can cache */
                s->known = 0;
                r->p += rt_rd_uleb(r);
                break;
            case 0x10:
            case 0x16:
                rt_rd_uleb(r);
                r->p += rt_rd_uleb(r);
                break;
            case 0x11:
            case 0x15:
                rt_rd_uleb(r);
                rt_rd_sleb(r);
                break;
            case 0x12:
                s->reg = rt_rd_uleb(r);
                s->off = rt_rd_sleb(r) * c->data_align;
                s->known = 1;
                break;
            case 0x13:
                s->off = rt_rd_sleb(r) * c->data_align;
                break;
            case 0x14:
            case 0x2f:
                rt_rd_uleb(r);
                rt_rd_uleb(r);
                break;
            case 0x2e:
                rt_rd_uleb(r);
                break;
            default:
                return 0; /* an instruction we do not know */
            }
        }
        if (advance) {
            loc += delta * c->code_align;
            if (loc > target)
                return 1;
        }
        if (r->p > r->end)
            r->bad = 1;
    }
    return !r->bad;
}

/* What rt_cfa_lookup looks for in dl_iterate_phdr's list. */
struct rt_cfa_find {
    uintptr_t pc;
    const uint8_t *hdr; /* the .eh_frame_hdr of the object holding pc */
    size_t hdr_size;
};

RT_NOINST static int rt_cfa_object_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct rt_cfa_find *f = data;
    const ElfW(Phdr) *eh = NULL;
    int holds = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && f->pc >= lo && f->pc < lo + ph->p_memsz)
            holds = 1;
        if (ph->p_type == PT_GNU_EH_FRAME)
            eh = ph;
    }
    if (!holds)
        return 0;
    if (eh) {
        f->hdr = (const uint8_t *)(info->dlpi_addr + eh->p_vaddr);
        f->hdr_size = eh->p_memsz;
    }
    return 1;
}

/* The rule for the code at pc (a return address: the row looked up is the
 * call's, at pc - 1), as RT_CFA_RSP/RT_CFA_RBP | offset << 2, or
 * RT_CFA_NONE. */
RT_NOINST static uint64_t rt_cfa_lookup(uintptr_t pc)
{
    struct rt_cfa_find f = {pc, NULL, 0};
    if (!dl_iterate_phdr(rt_cfa_object_cb, &f) || !f.hdr || f.hdr_size < 12)
        return RT_CFA_NONE;
    uintptr_t at = pc - 1;
    uintptr_t base = (uintptr_t)f.hdr;
    struct rt_rd r = {f.hdr, f.hdr + f.hdr_size, 0};
    unsigned version = (unsigned)rt_rd_bytes(&r, 1);
    unsigned frame_enc = (unsigned)rt_rd_bytes(&r, 1);
    unsigned count_enc = (unsigned)rt_rd_bytes(&r, 1);
    unsigned table_enc = (unsigned)rt_rd_bytes(&r, 1);
    if (version != 1 || table_enc != 0x3b || count_enc == RT_PE_OMIT)
        return RT_CFA_NONE; /* no sorted table of datarel sdata4 pairs */
    rt_rd_ptr(&r, frame_enc, base);
    uint64_t count = rt_rd_ptr(&r, count_enc, base);
    if (r.bad || count > (uint64_t)(r.end - r.p) / 8)
        return RT_CFA_NONE;
    const uint8_t *table = r.p;
    uint64_t lo = 0, hi = count;
    while (lo < hi) { /* the last entry whose start is <= at */
        uint64_t mid = lo + (hi - lo) / 2;
        struct rt_rd e = {table + mid * 8, table + mid * 8 + 4, 0};
        if ((uintptr_t)(int32_t)rt_rd_bytes(&e, 4) + base <= at)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return RT_CFA_NONE;
    struct rt_rd e = {table + (lo - 1) * 8 + 4, table + lo * 8, 0};
    const uint8_t *fde = (const uint8_t *)((uintptr_t)(int32_t)rt_rd_bytes(&e, 4) + base);

    /* the FDE and its CIE; sizes are trusted only as far as 64 KiB of
     * instructions, which no real function needs */
    struct rt_rd d = {fde, fde + 8, 0};
    uint64_t len = rt_rd_bytes(&d, 4);
    if (len == 0 || len == 0xffffffffu || len > 65536)
        return RT_CFA_NONE;
    d.end = fde + 4 + len;
    const uint8_t *cie_ptr_at = d.p;
    uint64_t cie_off = rt_rd_bytes(&d, 4);
    struct rt_cie cie;
    if (cie_off == 0 || rt_parse_cie(cie_ptr_at - cie_off, cie_ptr_at, &cie) != 0)
        return RT_CFA_NONE;
    uintptr_t start = rt_rd_ptr(&d, cie.fde_enc, 0);
    uintptr_t range = rt_rd_ptr(&d, cie.fde_enc & RT_PE_FORMAT, 0);
    if (d.bad || at < start || at - start >= range)
        return RT_CFA_NONE;
    if (cie.has_aug_len)
        d.p += rt_rd_uleb(&d);

    struct rt_cfa_state s = {0, 0, 0};
    struct rt_rd ci = {cie.insns, cie.insns_end, 0};
    if (!rt_run_cfi(&ci, &cie, start, at, &s))
        return RT_CFA_NONE;
    if (!rt_run_cfi(&d, &cie, start, at, &s) || !s.known || s.off < 0 ||
        s.off > (int64_t)RT_CFA_MAX_FRAME)
        return RT_CFA_NONE;
    if (s.reg == RT_DW_RSP)
        return RT_CFA_RSP | (uint64_t)s.off << 2;
    if (s.reg == RT_DW_RBP)
        return RT_CFA_RBP | (uint64_t)s.off << 2;
    return RT_CFA_NONE;
}

/* The cached rule for pc, or 0; *slot gets where it would go (NULL when
 * its probe run is full). */
RT_NOINST static uint64_t rt_cfa_probe(uintptr_t pc, struct rt_cfa_entry **slot)
{
    *slot = NULL;
    uint32_t h = rt_cfa_hash(pc);
    for (uint32_t i = 0; i < RT_CFA_PROBES; i++) {
        struct rt_cfa_entry *e = &rt_cfa_table[(h + i) & (RT_CFA_ENTRIES - 1)];
        uintptr_t key = __atomic_load_n(&e->pc, __ATOMIC_ACQUIRE);
        if (key == pc) {
            *slot = e;
            return __atomic_load_n(&e->rule, __ATOMIC_ACQUIRE);
        }
        if (key == 0) {
            uintptr_t expected = 0;
            if (__atomic_compare_exchange_n(&e->pc, &expected, pc, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                *slot = e;
                return 0;
            }
            if (expected == pc) {
                *slot = e;
                return __atomic_load_n(&e->rule, __ATOMIC_ACQUIRE);
            }
        }
    }
    return 0;
}

RT_NOINST uintptr_t rt_cfa_find(uintptr_t sp, uintptr_t bp, uintptr_t site)
{
    uintptr_t pc = *(const uintptr_t *)sp;
    struct rt_cfa_entry *slot;
    uint64_t rule = rt_cfa_probe(pc, &slot);
    if (rule == RT_CFA_NONE)
        return RT_CFA_UNKNOWN;
    uintptr_t cfa = rule ? rt_cfa_apply(rule, sp, bp, site) : 0;
    if (cfa)
        return cfa;
    /* not cached yet, or the cached rule did not hold (the code at pc was
     * unloaded and other code loaded there): read the tables. A rule that
     * does not hold even then is not used at all at pc, so that every call
     * from there is treated alike. */
    rule = rt_cfa_lookup(pc);
    cfa = rt_cfa_apply(rule, sp, bp, site);
    if (!cfa)
        rule = RT_CFA_NONE;
    if (slot)
        __atomic_store_n(&slot->rule, rule, __ATOMIC_RELEASE);
    return cfa ? cfa : RT_CFA_UNKNOWN;
}

RT_NOINST uintptr_t rt_cfa_resolve(uintptr_t pc, uintptr_t sp, uintptr_t bp)
{
    struct rt_cfa_entry *slot;
    uint64_t rule = rt_cfa_probe(pc, &slot);
    if (rule == 0) {
        /* not cached yet: the rule of the code at pc now, cached as it is
         * (rt_cfa_find checks it at its next use there) */
        rule = rt_cfa_lookup(pc);
        if (slot)
            __atomic_store_n(&slot->rule, rule, __ATOMIC_RELEASE);
    }
    uintptr_t cfa = rule == RT_CFA_NONE ? 0 : rt_cfa_rule_at(rule, sp, bp);
    return cfa ? cfa : RT_CFA_UNKNOWN;
}

#else

RT_NOINST uintptr_t rt_cfa_resolve(uintptr_t pc, uintptr_t sp, uintptr_t bp)
{
    (void)pc;
    (void)sp;
    (void)bp;
    return RT_CFA_UNKNOWN;
}

RT_NOINST uintptr_t rt_cfa_find(uintptr_t sp, uintptr_t bp, uintptr_t site)
{
    (void)sp;
    (void)bp;
    (void)site;
    return RT_CFA_UNKNOWN;
}

#endif
