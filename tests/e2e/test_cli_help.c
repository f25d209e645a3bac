/*
 * The command line as a user meets it: every command's help has examples
 * and its exit statuses, `cprof help CMD` is the same text, mistyped
 * commands and options get a suggestion, no data gets directions, colour
 * follows the terminal, NO_COLOR and CPROF_COLOR, the man pages render,
 * and the bash completion completes commands, options and formats.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"

TestSuite(cli_help, .init = e2e_scratch_init, .fini = e2e_scratch_fini, .timeout = 120);

static const char *const commands[] = {"record", "report", "hotspots", "lines",  "heap",
                                       "graph",  "audit",  "diff",     "export", "top"};
#define NCOMMANDS (sizeof commands / sizeof *commands)

Test(cli_help, every_command_has_help_with_examples_and_exit_status)
{
    struct e2e_result res;
    char *list[] = {CPROF, "help", "--commands", NULL};
    cr_assert_eq(e2e_scratch_run(list, NULL, NULL, &res), 0);
    for (size_t i = 0; i < NCOMMANDS; i++)
        cr_expect(strstr(res.out, commands[i]), "%s not listed:\n%s", commands[i],
                  res.out);
    e2e_result_free(&res);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char *own[] = {CPROF, (char *)commands[i], "--help", NULL};
        char *via[] = {CPROF, "help", (char *)commands[i], NULL};
        struct e2e_result a, b;
        cr_assert_eq(e2e_scratch_run(own, NULL, NULL, &a), 0, "%s --help", commands[i]);
        cr_assert_eq(e2e_scratch_run(via, NULL, NULL, &b), 0, "help %s", commands[i]);
        cr_expect_str_eq(a.out, b.out, "cprof help %s is cprof %s --help", commands[i],
                         commands[i]);
        cr_expect(!strncmp(a.out, "usage: cprof ", 13), "%s", a.out);
        cr_expect(strstr(a.out, "\nExamples:\n  cprof"), "%s: no examples:\n%s",
                  commands[i], a.out);
        cr_expect(strstr(a.out, "\nExit status:"), "%s: no exit status:\n%s", commands[i],
                  a.out);
        e2e_result_free(&a);
        e2e_result_free(&b);
    }
    char *top[] = {CPROF, "--help", NULL};
    cr_assert_eq(e2e_scratch_run(top, NULL, NULL, &res), 0);
    cr_expect(strstr(res.out, "make CC=cprof-cc") &&
                  strstr(res.out, "cprof help COMMAND"),
              "%s", res.out);
    e2e_result_free(&res);
}

/* Runs argv, expects exit status 1 and want in its stderr. */
static void expect_usage_error(char *argv[], const char *want)
{
    struct e2e_result res;
    int st = e2e_scratch_run(argv, NULL, NULL, &res);
    cr_expect_eq(st, 1, "%s %s: status %d", argv[1], argv[2] ? argv[2] : "", st);
    cr_expect(strstr(res.err, want), "want '%s' in:\n%s", want, res.err);
    e2e_result_free(&res);
}

Test(cli_help, mistyped_commands_and_options_get_a_suggestion)
{
    expect_usage_error((char *[]){CPROF, "reprot", NULL}, "did you mean 'report'?");
    expect_usage_error((char *[]){CPROF, "grpah", NULL}, "did you mean 'graph'?");
    expect_usage_error((char *[]){CPROF, "exp", NULL}, "did you mean 'export'?");
    expect_usage_error((char *[]){CPROF, "report", "--sotr", "self", NULL},
                       "unknown option '--sotr'; did you mean '--sort'?");
    expect_usage_error((char *[]){CPROF, "graph", "--tre", NULL},
                       "did you mean '--tree'?");
    expect_usage_error((char *[]){CPROF, "audit", "--expcet=x", NULL},
                       "did you mean '--expect'?");
    expect_usage_error((char *[]){CPROF, "record", "--toggle-signal", NULL},
                       "option '--toggle-signal' needs a value");
    expect_usage_error((char *[]){CPROF, "help", "lnes", NULL}, "did you mean 'lines'?");
    /* nothing close: no made-up suggestion */
    struct e2e_result res;
    cr_expect_eq(e2e_scratch_run((char *[]){CPROF, "frobnicate", NULL}, NULL, NULL, &res),
                 1);
    cr_expect(strstr(res.err, "unknown command 'frobnicate'") && !strstr(res.err, "mean"),
              "%s", res.err);
    e2e_result_free(&res);
    cr_expect_eq(
        e2e_scratch_run((char *[]){CPROF, "report", "--zzzzzz", NULL}, NULL, NULL, &res),
        1);
    cr_expect(strstr(res.err, "unknown option '--zzzzzz'") && !strstr(res.err, "mean"),
              "%s", res.err);
    e2e_result_free(&res);
}

Test(cli_help, no_data_says_how_to_get_some)
{
    static const char *const views[] = {"report", "lines", "heap", "graph", "audit"};
    for (size_t i = 0; i < sizeof views / sizeof *views; i++) {
        struct e2e_result res;
        int st =
            e2e_scratch_run((char *[]){CPROF, (char *)views[i], NULL}, NULL, NULL, &res);
        cr_expect_eq(st, 2, "%s: %d", views[i], st);
        cr_expect(strstr(res.err, "no profile here") &&
                      strstr(res.err, "make CC=cprof-cc") &&
                      strstr(res.err, "cprof record --"),
                  "%s:\n%s", views[i], res.err);
        e2e_result_free(&res);
    }
}

/* A sample profile in the scratch directory's cprof.data. */
static void make_profile(void)
{
    e2e_scratch_build(
        "p",
        "__attribute__((noinline)) int f(int x) { return x + 1; }\n"
        "int main(void) { int s = 0; for (int i = 0; i < 100; i++) s = f(s);\n"
        "    return s == 100 ? 0 : 1; }\n",
        NULL);
    e2e_scratch_record("p", "summary", "cprof.data");
}

Test(cli_help, colour_on_terminals_only_and_never_with_no_color)
{
    make_profile();
    struct e2e_result res;
    /* a pipe: no colour unless asked for */
    cr_assert_eq(e2e_scratch_run((char *[]){CPROF, "report", NULL}, NULL, NULL, &res), 0);
    cr_expect(!strchr(res.out, '\033'), "%s", res.out);
    e2e_result_free(&res);
    cr_assert_eq(e2e_scratch_run((char *[]){CPROF, "report", NULL},
                                 (char *[]){"CPROF_COLOR=always", NULL}, NULL, &res),
                 0);
    cr_expect(strstr(res.out, "\033[1m"), "%s", res.out);
    e2e_result_free(&res);
    if (system("command -v script >/dev/null 2>&1") != 0)
        cr_skip_test("script(1) is not installed: the terminal half is not tested");
    /* a terminal (script(1) gives one): colour, and none with NO_COLOR */
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "script -qec '%s report' /dev/null", CPROF) > 0);
    cr_assert_eq(e2e_scratch_run((char *[]){"sh", "-c", cmd, NULL},
                                 (char *[]){"TERM=xterm", NULL},
                                 (char *[]){"NO_COLOR", NULL}, &res),
                 0);
    cr_expect(strstr(res.out, "\033[1m"), "on a terminal:\n%s", res.out);
    e2e_result_free(&res);
    cr_assert_eq(e2e_scratch_run((char *[]){"sh", "-c", cmd, NULL},
                                 (char *[]){"TERM=xterm", "NO_COLOR=1", NULL}, NULL,
                                 &res),
                 0);
    cr_expect(!strstr(res.out, "\033[1m"), "NO_COLOR:\n%s", res.out);
    e2e_result_free(&res);
    free(cmd);
}

Test(cli_help, man_pages_render)
{
    static const char *const pages[] = {"cprof", "cprof-cc", "cprof-report", "cprof-top",
                                        "cprof-export"};
    int have_man = system("command -v man >/dev/null 2>&1") == 0;
    for (size_t i = 0; i < sizeof pages / sizeof *pages; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/man/man1/%s.1", CPROF_BINARY_DIR, pages[i]);
        char *text = e2e_read_file(path, NULL);
        cr_assert(text, "%s was not made", path);
        cr_expect(strstr(text, ".SH NAME") && strstr(text, ".SH SYNOPSIS") &&
                      strstr(text, ".SH DESCRIPTION"),
                  "%s", text);
        free(text);
        if (!have_man)
            continue;
        struct e2e_result res;
        cr_assert_eq(e2e_scratch_run((char *[]){"man", "-l", path, NULL},
                                     (char *[]){"MANWIDTH=80", "MANPAGER=cat", NULL},
                                     NULL, &res),
                     0, "%s", res.err);
        cr_expect(strstr(res.out, "SYNOPSIS"), "%s", res.out);
        if (i >= 2)
            cr_expect(strstr(res.out, "EXAMPLES") && strstr(res.out, "EXIT STATUS"), "%s",
                      res.out);
        e2e_result_free(&res);
    }
    /* a bad topic is a usage error */
    struct e2e_result res;
    cr_expect_eq(e2e_scratch_run((char *[]){CPROF, "help", "--man", "nope", NULL}, NULL,
                                 NULL, &res),
                 1);
    e2e_result_free(&res);
}

/* What the completion offers for the words of a command line (the last
 * one being completed). */
static char *complete(const char *words)
{
    char *script = NULL;
    cr_assert(asprintf(&script,
                       "source '%s/analyzer/cprof.bash-completion'\n"
                       "COMP_WORDS=(%s); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
                       "[ \"${words: -1}\" = ' ' ] && COMP_CWORD=${#COMP_WORDS[@]}\n"
                       "if [ \"${COMP_WORDS[0]}\" = cprof-cc ]; then _cprof_cc; else "
                       "COMP_WORDS[0]='%s'; _cprof; fi\n"
                       "printf '%%s\\n' \"${COMPREPLY[@]}\" | sort\n",
                       CPROF_SOURCE_DIR, words, CPROF) > 0);
    struct e2e_result res;
    int st = e2e_scratch_run((char *[]){"bash", "-c", script, NULL}, NULL, NULL, &res);
    cr_assert_eq(st, 0, "%s\n%s", script, res.err);
    char *out = strdup(res.out);
    e2e_result_free(&res);
    free(script);
    return out;
}

Test(cli_help, bash_completion_completes_commands_options_and_formats)
{
    char *c = complete("cprof rep");
    cr_expect_str_eq(c, "report\n");
    free(c);
    c = complete("cprof t");
    cr_expect_str_eq(c, "top\n");
    free(c);
    c = complete("cprof report --so");
    cr_expect_str_eq(c, "--sort\n");
    free(c);
    c = complete("cprof graph --tr");
    cr_expect_str_eq(c, "--tree\n");
    free(c);
    c = complete("cprof report --format j");
    cr_expect_str_eq(c, "json\n");
    free(c);
    c = complete("cprof help au");
    cr_expect_str_eq(c, "audit\n");
    free(c);
    c = complete("cprof-cc --cprof-li");
    cr_expect_str_eq(c, "--cprof-lines=\n");
    free(c);
}
