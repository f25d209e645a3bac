/*
 * What a compiler command line asks for, as far as cprof-cc needs to know:
 * does it compile sources (then instrumentation is added), does it link an
 * executable or shared library (then the runtime is linked), did the user
 * choose debug info, is the link static. The arguments themselves are never
 * changed; this only reads them (response files included).
 */
#ifndef CPROF_CC_ARGS_H
#define CPROF_CC_ARGS_H

#include <stddef.h>

struct cc_plan {
    int compiles;  /* some input is compiled from source (C, C++, ...) */
    int links;     /* the command ends in a link (no -c, -S, -E, -M, -r, ...) */
    int has_g;     /* the user chose debug info (-g, -g0, -gdwarf-4, ...) */
    int is_static; /* -static or -static-pie */
    int inputs;    /* input files named (stdin "-" included) */
    int assembles; /* some input is assembler source (.s, .S, -x assembler...) */
    int version;   /* --version */
    int help;      /* --help */
    int lang_set;  /* a -x other than -x none is in force after the last argument */
    const char *bad_response_file; /* an @file that cannot be read, or NULL */
};

/* Classifies argv[0..argc) (the user's arguments, program name excluded). */
void cc_classify(int argc, char **argv, struct cc_plan *plan);

#endif
