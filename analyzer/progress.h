/*
 * The progress line: while a command reads its data (cmd_load, and the
 * second pass of `cprof export --format chrome`) and once a second has
 * passed since the command started, one line on stderr, redrawn in place:
 *
 *   cprof: reading 3/12 files, 412 MiB of 1.90 GiB, 85.0 MiB/s, 37%
 *
 * Progress is measured in bytes of the files read (their sizes are known
 * up front), which works for every recording mode. Only when stderr is a
 * terminal, or CPROF_PROGRESS=1; CPROF_PROGRESS=0 turns it off. The line
 * is erased before anything else goes to stderr (cprof_error) and when
 * the reading ends, so nothing of it is left in the output.
 */
#ifndef CPROF_PROGRESS_H
#define CPROF_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Redraws at most this often, and not before this much of the command;
 * reads the clock every so many records or bytes. */
#define PROGRESS_REDRAW_NS 100000000ull
#define PROGRESS_DELAY_NS 1000000000ull
#define PROGRESS_CHECK_CALLS 1024
#define PROGRESS_CHECK_BYTES (1u << 20)

struct progress {
    FILE *out;                  /* NULL: stderr */
    uint64_t (*clock_ns)(void); /* NULL: CLOCK_MONOTONIC; tests fake it */
    int active;                 /* between progress_begin and progress_end */
    int has_origin;             /* origin_ns is set */
    uint64_t origin_ns;         /* the first progress_begin: the command's start */
    uint64_t phase_ns;          /* this progress_begin, for the rate */
    uint64_t next_draw_ns;      /* no redraw before it */
    const char *verb;           /* "reading" */
    size_t nfiles, file;        /* files of the phase; the one read (1..) */
    uint64_t total_bytes;       /* of every file of the phase */
    uint64_t done_bytes;        /* of the files before the one read */
    uint64_t file_bytes, pos;   /* its size; how far it has been read */
    uint64_t checked_pos;       /* pos when the clock was last read */
    unsigned unchecked;         /* progress_update calls since then */
    size_t shown;               /* columns of the line on screen; 0: none */
};

/* The line of the running command, on stderr. */
extern struct progress progress_stderr;

/* Whether p's line is wanted: CPROF_PROGRESS=0 no, =1 yes, otherwise when
 * p's output is a terminal. */
int progress_wanted(const struct progress *p);

/* Starts a phase: nfiles files of total_bytes in all will be read, each
 * announced by progress_file. */
void progress_begin(struct progress *p, const char *verb, size_t nfiles,
                    uint64_t total_bytes);
/* The next file, path, is being read (its size taken by stat). */
void progress_file(struct progress *p, const char *path);
/* pos bytes of the file are read. Called per record: it reads the clock
 * only every 1024 calls or MiB, and redraws at most every 100 ms. */
void progress_update(struct progress *p, uint64_t pos);
/* Erases the line if it is shown (a message is about to be printed); the
 * next update draws it again. */
void progress_clear(struct progress *p);
/* Ends the phase: erases the line. Does nothing outside a phase. */
void progress_end(struct progress *p);

#endif
