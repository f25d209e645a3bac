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
int cmd_top(int argc, char **argv);
int cmd_help(int argc, char **argv);

/* Each command's --help text (help.c builds the overview, suggestions and
 * man pages from them). */
extern const char *const cmd_record_help;
extern const char *const cmd_report_help;
extern const char *const cmd_hotspots_help;
extern const char *const cmd_lines_help;
extern const char *const cmd_heap_help;
extern const char *const cmd_graph_help;
extern const char *const cmd_audit_help;
extern const char *const cmd_diff_help;
extern const char *const cmd_export_help;
extern const char *const cmd_top_help;

#endif
