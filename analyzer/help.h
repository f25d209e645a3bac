/*
 * The command table and what is built from the commands' help texts:
 * the overview, `cprof help`, suggestions for mistyped commands and
 * options, and man pages (help.c).
 */
#ifndef CPROF_HELP_H
#define CPROF_HELP_H

#include <stddef.h>
#include <stdio.h>

struct cmd_entry {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *const *help; /* the command's --help text */
};

extern const struct cmd_entry cmd_table[];
extern const size_t cmd_count;

/* The command called name, or NULL. */
const struct cmd_entry *cmd_find(const char *name);
/* `cprof --help`: the commands and how to start. */
void help_overview(FILE *out);
/* The command closest to a mistyped word, or NULL when none is close. */
const char *help_suggest_command(const char *word);
/* For an unknown long option arg of command cmd ("--sotr" or
 * "--sotr=self"): 1 with the closest option its help names in buf, else
 * 0. */
int help_suggest_option(const char *cmd, const char *arg, char *buf, size_t len);
/* The man page (roff) of topic: "cprof", "cprof-cc" or a command (with or
 * without "cprof-"). Returns 0, or -1 for an unknown topic. */
int help_man(FILE *out, const char *topic);

#endif
