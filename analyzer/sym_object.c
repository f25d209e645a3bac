/*
 * The sections of one ELF file as libdwarf reads them, served by cprof
 * through libdwarf's object access interface (see sym_internal.h) so that
 * reading one compile unit costs about that unit, not the whole file:
 * a section is read when libdwarf first asks for it, a compressed one
 * (SHF_COMPRESSED, as distributions ship their separate debug files) is
 * inflated then, and .debug_info, by far the largest, and .debug_line
 * only as far as the units asked for (libdwarf reads the unit headers
 * before the unit it is asked for, never after; a line table is read
 * only for its unit), and .debug_abbrev only as far as the abbreviation
 * tables of those units of .debug_info. Of these three, only the
 * compressed bytes that inflating needs are read from the file, a chunk
 * at a time, and their checksum is not computed (a partly inflated
 * stream never reaches it). The location lists cprof never reads are not
 * shown to libdwarf at all. The line-table decoder reads the same bytes
 * libdwarf does, so no section is inflated twice.
 *
 * Every size and offset comes from the file: a section past the end, a
 * damaged compression header or stream makes libdwarf see an error (or
 * zeros where the stream broke), never memory outside the section.
 */
#include "sym_internal.h"

#include <dwarf.h>
#include <gelf.h>
#include <libdwarf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "util.h"

/* Bytes inflated at a time when a section is inflated only in part:
 * units of .debug_info and .debug_line, tables of .debug_abbrev; and
 * compressed bytes read from the file at a time for those (smaller for
 * tests: sym_object_chunks). */
static size_t so_chunk = 256 * 1024, so_abbrev_chunk = 16 * 1024, so_in_chunk = 64 * 1024;
/* DW_FORM_implicit_const: the one form whose abbreviation holds a value. */
#define SO_FORM_IMPLICIT_CONST 0x21
/* zlib inflates at most this many bytes per compressed byte. */
#define SO_MAX_RATIO 1032

struct so_section {
    const char *name; /* in libelf's string table */
    GElf_Shdr shdr;
    uint64_t size; /* what libdwarf sees: the inflated size if compressed */
    uint64_t raw_offset;
    int compressed;
    int loaded, failed;
    uint8_t *data;           /* the bytes libdwarf reads */
    uint8_t *owned;          /* data, when it was allocated here */
    int lazy;                /* inflated only as far as units were asked for */
    int abbrev;              /* lazy .debug_abbrev: inflated by tables, not units */
    uint64_t walk;           /* of a lazy section: the first unit not inflated */
    uint8_t *in;             /* of a lazy section: compressed bytes read so far ... */
    uint64_t in_at, in_left; /* ... and where the rest is in the file */
    int z_open;
    z_stream z;
    uint64_t ready; /* bytes of data that hold the section so far */
};

struct sym_object {
    int fd;
    Elf *elf;
    int big_endian, is64;
    size_t nsections;
    struct so_section *sections;
    struct so_section *info, *abbrev; /* .debug_info, .debug_abbrev, or NULL */
    int has_types;                    /* a .debug_types section: its units use
                                         .debug_abbrev too */
    Dwarf_Obj_Access_Methods methods;
    Dwarf_Obj_Access_Interface iface;
};

static uint64_t so_read(const struct sym_object *o, const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[o->big_endian ? n - 1 - i : i] << (8 * i);
    return v;
}

/* Ends the stream of s (all of it inflated, or it failed). */
static void so_end_stream(struct so_section *s)
{
    if (s->z_open)
        inflateEnd(&s->z);
    s->z_open = 0;
}

/* Gives the stream of lazy section s its next compressed bytes from the
 * file (some are left); 0, or -1 when they cannot be read. */
static int so_refill(const struct sym_object *o, struct so_section *s)
{
    size_t n = s->in_left < so_in_chunk ? (size_t)s->in_left : so_in_chunk;
    if (pread(o->fd, s->in, n, (off_t)s->in_at) != (ssize_t)n)
        return -1;
    s->in_at += n;
    s->in_left -= n;
    s->z.next_in = s->in;
    s->z.avail_in = (uInt)n;
    return 0;
}

/* Inflates s until its first end bytes are there (or the stream fails:
 * the rest then stays zero). */
static void so_inflate(const struct sym_object *o, struct so_section *s, uint64_t end)
{
    if (end > s->size)
        end = s->size;
    while (s->ready < end && s->z_open) {
        if (s->in && s->z.avail_in == 0 && s->in_left && so_refill(o, s) != 0) {
            so_end_stream(s); /* the file cannot be read */
            s->failed = 1;
            break;
        }
        uint64_t chunk = end - s->ready;
        uint64_t least = s->abbrev ? so_abbrev_chunk : so_chunk;
        if (chunk < least)
            chunk = least;
        if (chunk > s->size - s->ready)
            chunk = s->size - s->ready;
        if (chunk > UINT32_MAX)
            chunk = UINT32_MAX;
        s->z.next_out = s->owned + s->ready;
        s->z.avail_out = (uInt)chunk;
        int rc = inflate(&s->z, Z_SYNC_FLUSH);
        s->ready = (uint64_t)(s->z.next_out - s->owned);
        if (rc == Z_STREAM_END || s->ready == s->size) {
            so_end_stream(s);
            if (s->ready < s->size)
                s->failed = 1;
        } else if (rc == Z_BUF_ERROR && s->in && s->z.avail_in == 0 && s->in_left) {
            continue; /* read on */
        } else if (rc != Z_OK) {
            so_end_stream(s);
            s->failed = 1;
        }
    }
}

/* Whether compressed section s of o is inflated only as far as asked:
 * sections of units that start with their length, that cprof reads one
 * unit at a time, and the abbreviation tables of those units (all of
 * them when another section's units use them too). */
static int so_lazy(const struct sym_object *o, const struct so_section *s)
{
    if (o->big_endian)
        return 0;
    if (s == o->abbrev)
        return !o->has_types && o->info && o->info->compressed && !o->info->failed;
    return strcmp(s->name, ".debug_info") == 0 || strcmp(s->name, ".debug_line") == 0;
}

/* Whether libdwarf is not shown the section: cprof reads no locations,
 * and libdwarf would read all the location lists with the first unit. */
static int so_hidden(const char *name)
{
    return strcmp(name, ".debug_loclists") == 0 || strcmp(name, ".debug_loc") == 0;
}

static void so_cover(struct sym_object *o, struct so_section *s, uint64_t off);
static void so_cover_abbrev(struct sym_object *o, uint64_t off);

/* Reads section s (inflates it, or starts to); 0 or -1. */
static int so_load(struct sym_object *o, struct so_section *s)
{
    if (s->loaded)
        return s->failed && !s->lazy ? -1 : 0;
    s->loaded = 1;
    s->lazy = s->compressed && so_lazy(o, s);
    Elf_Data *raw = NULL;
    if (!s->lazy) {
        Elf_Scn *scn = elf_getscn(o->elf, (size_t)(s - o->sections));
        raw = scn ? elf_rawdata(scn, NULL) : NULL;
        if (!raw || !raw->d_buf || raw->d_size < s->shdr.sh_size) {
            s->failed = 1;
            return -1;
        }
    }
    if (!s->compressed) {
        s->data = raw->d_buf;
        s->ready = s->size;
        return 0;
    }
    s->owned = calloc(1, s->size);
    if (s->lazy)
        s->in = malloc(so_in_chunk);
    if (!s->owned || (s->lazy && !s->in) || inflateInit(&s->z) != Z_OK) {
        s->failed = 1;
        return -1;
    }
    s->z_open = 1;
    s->data = s->owned;
    if (s->lazy) {
        inflateValidate(&s->z, 0);
        s->in_at = s->shdr.sh_offset + s->raw_offset;
        s->in_left = s->shdr.sh_size - s->raw_offset;
        s->abbrev = s == o->abbrev;
        if (!s->abbrev)
            so_cover(o, s, 0); /* libdwarf reads the first header */
        return 0;
    }
    s->z.next_in = (Bytef *)raw->d_buf + s->raw_offset;
    s->z.avail_in = (uInt)(raw->d_size - s->raw_offset);
    so_inflate(o, s, s->size);
    return s->failed ? -1 : 0;
}

static int so_section_info(void *obj, Dwarf_Half index, Dwarf_Obj_Access_Section *out,
                           int *error)
{
    struct sym_object *o = obj;
    (void)error;
    if (index >= o->nsections)
        return DW_DLV_NO_ENTRY;
    const struct so_section *s = &o->sections[index];
    memset(out, 0, sizeof(*out));
    out->addr = s->shdr.sh_addr;
    out->type = s->shdr.sh_type;
    out->size = s->size;
    out->name = s->name;
    out->link = s->shdr.sh_link;
    out->info = s->shdr.sh_info;
    out->entrysize = s->shdr.sh_entsize;
    return DW_DLV_OK;
}

static Dwarf_Endianness so_byte_order(void *obj)
{
    return ((struct sym_object *)obj)->big_endian ? DW_OBJECT_MSB : DW_OBJECT_LSB;
}

static Dwarf_Small so_length_size(void *obj)
{
    (void)obj;
    return 4;
}

static Dwarf_Small so_pointer_size(void *obj)
{
    return ((struct sym_object *)obj)->is64 ? 8 : 4;
}

static Dwarf_Unsigned so_section_count(void *obj)
{
    return ((struct sym_object *)obj)->nsections;
}

static int so_load_section(void *obj, Dwarf_Half index, Dwarf_Small **data, int *error)
{
    struct sym_object *o = obj;
    if (index >= o->nsections || !o->sections[index].size)
        return DW_DLV_NO_ENTRY;
    struct so_section *s = &o->sections[index];
    if (so_load(o, s) != 0) {
        *error = s->compressed ? DW_DLE_ZLIB_DATA_ERROR : DW_DLE_ELF_SECT_ERR;
        return DW_DLV_ERROR;
    }
    *data = s->data;
    return DW_DLV_OK;
}

/* The size of compressed section s once inflated, from its header. */
static int so_compressed_size(struct sym_object *o, struct so_section *s)
{
    uint8_t head[24];
    unsigned head_size = o->is64 ? 24 : 12;
    if (s->shdr.sh_size < head_size ||
        pread(o->fd, head, head_size, (off_t)s->shdr.sh_offset) != (ssize_t)head_size)
        return -1;
    uint64_t type = so_read(o, head, 4);
    uint64_t size = o->is64 ? so_read(o, head + 8, 8) : so_read(o, head + 4, 4);
    uint64_t packed = s->shdr.sh_size - head_size;
    if (type != ELFCOMPRESS_ZLIB || size == 0 || size / SO_MAX_RATIO > packed + 1 ||
        packed > UINT32_MAX)
        return -1;
    s->size = size;
    s->raw_offset = head_size;
    return 0;
}

struct sym_object *sym_object_open(int fd, char *msg, size_t msg_size)
{
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    size_t shstrndx, nsections;
    GElf_Ehdr ehdr;
    if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr) ||
        elf_getshdrstrndx(elf, &shstrndx) != 0 || elf_getshdrnum(elf, &nsections) != 0 ||
        nsections > UINT16_MAX) {
        snprintf(msg, msg_size, "damaged ELF section headers");
        if (elf)
            elf_end(elf);
        return NULL;
    }
    struct sym_object *o = cprof_xcalloc(1, sizeof(*o));
    o->fd = fd;
    o->elf = elf;
    o->big_endian = ehdr.e_ident[EI_DATA] == ELFDATA2MSB;
    o->is64 = ehdr.e_ident[EI_CLASS] == ELFCLASS64;
    o->nsections = nsections;
    o->sections = cprof_xcalloc(nsections ? nsections : 1, sizeof(*o->sections));
    o->sections[0].name = "";
    for (size_t i = 1; i < nsections; i++) {
        struct so_section *s = &o->sections[i];
        Elf_Scn *scn = elf_getscn(elf, i);
        s->name = "";
        if (!scn || !gelf_getshdr(scn, &s->shdr))
            continue;
        const char *name = elf_strptr(elf, shstrndx, s->shdr.sh_name);
        s->name = name ? name : "";
        if (s->shdr.sh_type == SHT_NOBITS || so_hidden(s->name))
            continue;
        s->size = s->shdr.sh_size;
        if (s->shdr.sh_flags & SHF_COMPRESSED) {
            s->compressed = 1;
            if (so_compressed_size(o, s) != 0)
                s->loaded = s->failed = 1; /* libdwarf gets an error */
        }
        if (strcmp(s->name, ".debug_info") == 0)
            o->info = s;
        else if (strcmp(s->name, ".debug_abbrev") == 0)
            o->abbrev = s;
        else if (strcmp(s->name, ".debug_types") == 0)
            o->has_types = 1;
    }
    o->methods = (Dwarf_Obj_Access_Methods){
        .get_section_info = so_section_info,
        .get_byte_order = so_byte_order,
        .get_length_size = so_length_size,
        .get_pointer_size = so_pointer_size,
        .get_section_count = so_section_count,
        .load_section = so_load_section,
    };
    o->iface.object = o;
    o->iface.methods = &o->methods;
    return o;
}

Dwarf_Obj_Access_Interface *sym_object_interface(struct sym_object *o)
{
    return &o->iface;
}

/* The offset in .debug_abbrev of the table of the unit of .debug_info
 * whose header is at head (inflated; its length takes len_size bytes, 4
 * or 12), or UINT64_MAX when the header is not one cprof knows (all of
 * .debug_abbrev is then read). */
static uint64_t so_abbrev_offset(const struct sym_object *o,
                                 const struct so_section *info, uint64_t head,
                                 unsigned len_size)
{
    const uint8_t *p = info->data + head;
    uint64_t avail = info->ready > head ? info->ready - head : 0;
    unsigned off_size = len_size == 12 ? 8 : 4;
    if (avail < len_size + 2)
        return UINT64_MAX;
    uint64_t version = so_read(o, p + len_size, 2);
    /* 2 to 4: version, abbrev offset; 5: version, unit type, address
     * size, abbrev offset */
    unsigned at = len_size + 2 + (version == 5 ? 2 : 0);
    if (version < 2 || version > 5 || avail < at + off_size)
        return UINT64_MAX;
    return so_read(o, p + at, off_size);
}

/* The next LEB128 number of lazy section a at *pos (its low 64 bits),
 * inflating as it goes; -1 past the end of what can be inflated. */
static int so_abbrev_leb(const struct sym_object *o, struct so_section *a, uint64_t *pos,
                         uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (*pos >= a->ready)
            so_inflate(o, a, *pos + 1);
        if (*pos >= a->ready)
            return -1;
        uint8_t b = a->data[(*pos)++];
        if (shift < 64)
            *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
    }
}

/* Inflates lazy .debug_abbrev up to the end of the table that starts at
 * off, and all before it (all of it for UINT64_MAX). A table is a list of
 * abbreviations ending in code 0; each is a code, a tag, a children byte
 * and (attribute, form) pairs ending in (0, 0), an implicit constant
 * after its form. */
static void so_cover_abbrev(struct sym_object *o, uint64_t off)
{
    struct so_section *a = o->abbrev;
    if (!a || !a->size || so_load(o, a) != 0 || !a->lazy)
        return;
    if (off >= a->size) {
        so_inflate(o, a, a->size);
        return;
    }
    uint64_t pos = off, code, tag, attr, form, value;
    while (so_abbrev_leb(o, a, &pos, &code) == 0 && code != 0) {
        if (so_abbrev_leb(o, a, &pos, &tag) != 0)
            return;
        pos++; /* children */
        do {
            if (so_abbrev_leb(o, a, &pos, &attr) != 0 ||
                so_abbrev_leb(o, a, &pos, &form) != 0 ||
                (form == SO_FORM_IMPLICIT_CONST &&
                 so_abbrev_leb(o, a, &pos, &value) != 0))
                return;
        } while (attr != 0 || form != 0);
    }
}

/* Inflates lazy section s up to the end of the unit that holds byte off
 * and every unit before it (all of it if off is past its end); for
 * .debug_info, the units' abbreviation tables too. */
static void so_cover(struct sym_object *o, struct so_section *s, uint64_t off)
{
    if (off >= s->size) {
        so_inflate(o, s, s->size);
        s->walk = s->size;
        if (s == o->info)
            so_cover_abbrev(o, UINT64_MAX);
        return;
    }
    while (s->walk <= off && s->z_open) {
        uint64_t head = s->walk, next;
        so_inflate(o, s, head + 12);
        if (s->ready < head + 12 || s->ready == s->size) {
            so_inflate(o, s, s->size);
            if (s == o->info)
                so_cover_abbrev(o, UINT64_MAX);
            break;
        }
        uint64_t len = so_read(o, s->data + head, 4);
        unsigned len_size = 4;
        if (len == 0xffffffff) {
            len_size = 12;
            len = so_read(o, s->data + head + 4, 8);
            next = len < s->size ? head + 12 + len : s->size;
        } else {
            next = head + 4 + len;
        }
        if (next > s->size || len < 2)
            next = s->size; /* a damaged header: all of it is read */
        so_inflate(o, s, next);
        s->walk = next;
        if (s == o->info)
            so_cover_abbrev(o, next < s->size ? so_abbrev_offset(o, s, head, len_size)
                                              : UINT64_MAX);
    }
}

const uint8_t *sym_object_cover(struct sym_object *o, const char *name, uint64_t off,
                                size_t *size)
{
    *size = 0;
    for (size_t i = 1; i < o->nsections; i++) {
        struct so_section *s = &o->sections[i];
        if (!s->size || strcmp(s->name, name) != 0)
            continue;
        if (so_load(o, s) != 0)
            return NULL;
        if (s->lazy)
            so_cover(o, s, off);
        *size = (size_t)s->size;
        return s->data;
    }
    return NULL;
}

void sym_object_chunks(size_t inflate, size_t abbrev, size_t in)
{
    so_chunk = inflate;
    so_abbrev_chunk = abbrev;
    so_in_chunk = in;
}

void sym_object_close(struct sym_object *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->nsections; i++) {
        so_end_stream(&o->sections[i]);
        free(o->sections[i].owned);
        free(o->sections[i].in);
    }
    free(o->sections);
    elf_end(o->elf);
    free(o);
}
