/*
 * The cprof command: a table of subcommands (help.c), each in its own
 * cmd_<name>.c.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "help.h"
#include "util.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        help_overview(stderr);
        return CPROF_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h"))
        return cmd_help(1, argv + 1);
    if (!strcmp(name, "help"))
        return cmd_help(argc - 1, argv + 1);
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("cprof %s\n", CPROF_VERSION);
        return CPROF_EXIT_OK;
    }
    const struct cmd_entry *e = cmd_find(name);
    if (e)
        return e->run(argc - 1, argv + 1);
    const char *s = help_suggest_command(name);
    if (s)
        cprof_error("unknown command '%s'; did you mean '%s'? (cprof --help lists the "
                    "commands)",
                    name, s);
    else
        cprof_error("unknown command '%s' (cprof --help lists the commands)", name);
    return CPROF_EXIT_USAGE;
}
