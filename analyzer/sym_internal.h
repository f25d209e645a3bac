/*
 * What the symbolizer's files share: the index entry every source (DWARF
 * subprograms, ELF symbols) is reduced to, a growable table of them, and
 * the string arena that owns every name and file an entry points to.
 * sym.c owns the cache and lookups, sym_elf.c reads ELF (symbols, build id,
 * debug links), sym_dwarf.c finds the DWARF units a lookup needs and
 * sym_dwarf_unit.c reads one (subprograms and line tables), sym_lines.c
 * decodes line tables, sym_object.c hands libdwarf the sections it reads.
 */
#ifndef CPROF_SYM_INTERNAL_H
#define CPROF_SYM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sym.h"

/* One address range of one function. */
struct sym_entry {
    uint64_t lo, hi; /* [lo, hi), link-time addresses */
    uint64_t entry;  /* the function's first byte (lo unless split in ranges) */
    const char *name;
    const char *file; /* "" when unknown */
    unsigned line;    /* 0 when unknown */
    uint8_t quality;  /* enum sym_quality */
    uint8_t rank;     /* among aliases at one address, the lowest rank wins */
};

struct sym_table {
    struct sym_entry *v;
    size_t n, cap;
};

/* Appends a zeroed entry and returns it (valid until the next append). */
struct sym_entry *sym_table_add(struct sym_table *t);
/* Sorts by lo, keeps one entry per start address (the best ranked) and cuts
 * each range at the next one's start, so that a lookup is one binary
 * search. */
void sym_table_finish(struct sym_table *t);
/* The entry whose range holds addr, or NULL. t must be finished. */
const struct sym_entry *sym_table_find(const struct sym_table *t, uint64_t addr);
void sym_table_free(struct sym_table *t);

/* Strings copied into large blocks, freed all at once. */
struct sym_strings {
    char **blocks;
    size_t nblocks, cap;
    char *cur;
    size_t left;
};

/* Copies the n bytes at s (plus a NUL) into the arena. */
const char *sym_strings_add(struct sym_strings *p, const char *s, size_t n);
/* Copies a source path, dropping "./" components ("/src/./a.c" -> "/src/a.c"). */
const char *sym_strings_path(struct sym_strings *p, const char *path);
void sym_strings_free(struct sym_strings *p);

/* What sym_elf_read learns about a file besides its symbols. */
struct sym_elf_info {
    char build_id[129];  /* lowercase hex, "" if none */
    int has_debug_info;  /* a non-empty .debug_info with contents */
    char debuglink[256]; /* .gnu_debuglink file name, "" if none */
};

/*
 * Reads the ELF file open at fd: its build id and debug link into *info and
 * its function symbols (.symtab and .dynsym, defined STT_FUNC and
 * STT_GNU_IFUNC) into funcs, named from pool, quality SYM_SYMTAB. Returns 0,
 * or -1 with a short reason in msg (the file is not ELF, or is damaged: then
 * whatever was read before the damage stays in funcs).
 */
int sym_elf_read(int fd, struct sym_elf_info *info, struct sym_table *funcs,
                 struct sym_strings *pool, char *msg, size_t msg_size);

/* One row of a line-number table: the file is the number in the program,
 * as written (DWARF 5 counts from 0, older versions from 1). */
struct sym_line_row {
    uint64_t addr;
    uint64_t file;
    unsigned line;
    int end_sequence; /* the row after the sequence's last byte */
};
/* Called for each row; returning non-zero stops the program. */
typedef int (*sym_line_fn)(void *arg, const struct sym_line_row *row);

/* The version of the line table at offset off of .debug_line (sec, size),
 * or -1 if its header is damaged. */
int sym_line_version(const uint8_t *sec, size_t size, uint64_t off);
/* Runs the line-number program at offset off, calling fn for each row.
 * Returns 0, or -1 if the table is damaged (rows before the damage were
 * given). */
int sym_line_program(const uint8_t *sec, size_t size, uint64_t off, sym_line_fn fn,
                     void *arg);

/* The offset of the first DIE of the unit whose header is at off of
 * .debug_info (sec, size), or 0 if the header is damaged. */
uint64_t sym_unit_die_offset(const uint8_t *sec, size_t size, uint64_t off);

/* Called for each address range [lo, hi) of .debug_aranges with the
 * offset of the unit header it names; returning non-zero stops. */
typedef int (*sym_arange_fn)(void *arg, uint64_t header_off, uint64_t lo, uint64_t hi);
/* Decodes .debug_aranges (sec, size), version 2 sets without segments
 * (others are skipped). Returns 0, or -1 if part of it was damaged or
 * skipped (the ranges before were given). */
int sym_aranges(const uint8_t *sec, size_t size, sym_arange_fn fn, void *arg);

/*
 * The sections of the ELF file open at fd, served to libdwarf through its
 * object access interface: read when first asked for, compressed ones
 * inflated then, .debug_info and .debug_line only as far as
 * sym_object_cover has asked (bytes past that read as zeros). fd stays
 * the caller's and must stay open until sym_object_close. NULL (msg says
 * why) when the section headers cannot be read.
 */
struct sym_object;
struct Dwarf_Obj_Access_Interface_s;
struct sym_object *sym_object_open(int fd, char *msg, size_t msg_size);
struct Dwarf_Obj_Access_Interface_s *sym_object_interface(struct sym_object *o);
/* The section called name (owned by o, size in *size), readable up to
 * the end of the unit that holds byte off and every unit before it (off
 * past the end: all of it), or NULL when there is none or it cannot be
 * read. */
const uint8_t *sym_object_cover(struct sym_object *o, const char *name, uint64_t off,
                                size_t *size);
void sym_object_close(struct sym_object *o);
/* Tests: how many bytes a partly inflated section is inflated by at a
 * time (abbrev: .debug_abbrev's), and compressed bytes read at a time
 * (defaults: 256 KiB, 16 KiB, 64 KiB), so that small files take the
 * paths of large ones. Not thread-safe; all greater than 0. */
void sym_object_chunks(size_t inflate, size_t abbrev, size_t in);

/*
 * The DWARF of one ELF file, read one compile unit at a time: opening it
 * lists the units and the addresses each covers (from the unit's DIE
 * alone), and a lookup reads only the units that hold its address. A unit
 * read gives every concrete subprogram in it (not inlined copies) as
 * entries, one per address range, with its name and declaration
 * file:line. Entries that end up without a line, the unit's or the
 * symbols' (finished, so sorted), get the file:line of the first
 * line-table row at their entry address and quality SYM_DWARF.
 */
struct sym_dwarf;

/* Opens the DWARF of the ELF file open at fd, which it takes over (closed
 * by sym_dwarf_close, or here when there is no DWARF). Returns 1 with *out
 * set when the file has DWARF, 0 when it has none (*out NULL), -1 when
 * listing its units failed (msg says why; *out, if set, holds the units
 * listed before the failure). */
int sym_dwarf_open(int fd, struct sym_dwarf **out, char *msg, size_t msg_size);

/* Reads the units not read yet whose addresses hold addr (when none does,
 * the units of unknown extent), appending their functions to funcs (not
 * finished: the caller sorts) and naming nameless ones from symbols.
 * Returns how many units it read, or -1 if one was damaged (msg says why;
 * what was read before the damage is kept). */
int sym_dwarf_load(struct sym_dwarf *d, uint64_t addr, struct sym_table *funcs,
                   struct sym_table *symbols, struct sym_strings *pool, char *msg,
                   size_t msg_size);
void sym_dwarf_close(struct sym_dwarf *d);

#endif
