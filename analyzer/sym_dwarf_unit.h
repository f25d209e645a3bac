/*
 * Between the two halves of the symbolizer's DWARF side: sym_dwarf.c finds
 * and reads the compile units a lookup needs, sym_dwarf_unit.c turns one
 * unit into functions. Private to them.
 */
#ifndef CPROF_SYM_DWARF_UNIT_H
#define CPROF_SYM_DWARF_UNIT_H

#include <libdwarf.h>

#include "sym_internal.h"

/* The unit being read, and where its functions and errors go. */
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

/* Remembers the first libdwarf error message (into msg, one line) and
 * frees the error; sets *failed. */
void sym_dw_error(Dwarf_Debug dbg, Dwarf_Error err, char *msg, size_t msg_size,
                  int *failed);
/* sym_dw_error into u's message. */
void sym_dw_unit_error(struct dw_unit *u, Dwarf_Error err);
/* libdwarf's handler for an error with no error pointer to go to (arg: an
 * int set to 1); setting it is what keeps libdwarf from aborting. */
void sym_dw_on_error(Dwarf_Error err, Dwarf_Ptr arg);
/* Adds die's DW_AT_ranges to u's functions as copies of proto; returns how
 * many. */
int sym_dw_ranges(struct dw_unit *u, Dwarf_Die die, struct sym_entry *proto);
/* Reads the compile unit whose DIE is cu into u's functions (symbols: the
 * module's symbol table, for functions DWARF leaves unnamed). */
void sym_dw_unit(struct dw_unit *u, Dwarf_Die cu, struct sym_table *symbols);
/* Functions DWARF found with no name take the symbol at their entry, or
 * are dropped so the symbol table answers for them. */
void sym_dw_name_unnamed(struct sym_table *funcs, const struct sym_table *symbols);

#endif
