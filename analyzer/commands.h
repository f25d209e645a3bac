/*
 * The cprof subcommands, one file each (cmd_<name>.c), dispatched by
 * main.c. Each takes the arguments after its name (argv[0] is the name) and
 * returns the process exit status (enum cprof_exit).
 */
#ifndef CPROF_COMMANDS_H
#define CPROF_COMMANDS_H

int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_hotspots(int argc, char **argv);
int cmd_lines(int argc, char **argv);
int cmd_heap(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
