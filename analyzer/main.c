/*
 * The cprof command: a table of subcommands, each in its own cmd_<name>.c.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "util.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"record", cmd_record, "run a program built with cprof-cc and keep its profile"},
    {"report", cmd_report,
     "exact per-function table: calls, self and total time, min, max"},
    {"hotspots", cmd_hotspots,
     "the places worth your time, ranked, with the numbers and what to do"},
    {"lines", cmd_lines,
     "hits and time per source line (functions built with --cprof-lines)"},
    {"heap", cmd_heap, "heap per function: allocations, frees, net change, peak, leaks"},
    {"graph", cmd_graph, "callers and callees with calls and time per edge; --tree"},
    {"audit", cmd_audit,
     "how exact the data is (losses, repairs, clock); --expect counts"},
    {"diff", cmd_diff, "two runs side by side: call count changes, time beyond noise"},
    {"export", cmd_export,
     "for other tools: chrome trace, callgrind, folded stacks, html, json, csv"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: cprof COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`cprof COMMAND --help` describes one. Build programs with cprof-cc;\n"
                 "they write ./cprof.data/<program>.<pid>.cprof when they run.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CPROF_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            char *help_argv[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
                if (!strcmp(commands[i].name, argv[2]))
                    return commands[i].run(2, help_argv);
        }
        usage(stdout);
        return CPROF_EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("cprof %s\n", CPROF_VERSION);
        return CPROF_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(commands[i].name, name))
            return commands[i].run(argc - 1, argv + 1);
    cprof_error("unknown command '%s'", name);
    usage(stderr);
    return CPROF_EXIT_USAGE;
}
