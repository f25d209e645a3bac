/*
 * The installed tree: `cmake --install` into a scratch prefix gives
 * P/bin/cprof-cc and P/bin/cprof, and the installed cprof-cc builds a
 * program that finds the installed runtime with no environment set, whose
 * report has the sample's exact counts. The build tree is not used after
 * the install (the prefix is then moved, to prove nothing points back).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "e2e_util.h"

static void run_ok(const char *cwd, char *const argv[], char *const env[],
                   struct e2e_result *res)
{
    char status[64];
    cr_assert_eq(e2e_run(cwd, argv, env, (char *const[]){"CPROF_DIR", "CPROF_MODE", NULL},
                         300, res),
                 0, "cannot run %s", argv[0]);
    cr_assert(WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0,
              "%s: %s\nstdout: %s\nstderr: %s", argv[0],
              e2e_status_str(res, status, sizeof status), res->out, res->err);
}

Test(install, installed_tools_work_from_anywhere, .timeout = 600)
{
    char *tmp = e2e_make_temp_dir(NULL, "cprof-install");
    cr_assert(tmp);
    char prefix[4096], moved[4096], cc[4200], cprof[4200], prog[4200], data[4200];
    snprintf(prefix, sizeof prefix, "%s/prefix", tmp);
    snprintf(moved, sizeof moved, "%s/moved", tmp);
    struct e2e_result res;

    run_ok(
        NULL,
        (char *const[]){"cmake", "--install", CPROF_BINARY_DIR, "--prefix", prefix, NULL},
        NULL, &res);
    e2e_result_free(&res);
    cr_assert_eq(rename(prefix, moved), 0);

    snprintf(cc, sizeof cc, "%s/bin/cprof-cc", moved);
    snprintf(cprof, sizeof cprof, "%s/bin/cprof", moved);
    snprintf(prog, sizeof prog, "%s/fib", tmp);
    snprintf(data, sizeof data, "%s/cprof.data", tmp);
    run_ok(tmp,
           (char *const[]){cc, "-O2", "-o", prog, CPROF_SOURCE_DIR "/samples/fib/main.c",
                           NULL},
           NULL, &res);
    e2e_result_free(&res);
    run_ok(tmp, (char *const[]){prog, NULL}, NULL, &res);
    e2e_result_free(&res);
    cr_assert_eq(e2e_count_files(data, ".cprof"), 1, "the program wrote no profile");

    run_ok(tmp, (char *const[]){cprof, "report", "--format", "csv", NULL}, NULL, &res);
    cr_expect_eq(e2e_report_calls(res.out, "fib"), 242785, "fib calls:\n%s", res.out);
    e2e_result_free(&res);

    /* man pages for cprof, cprof-cc and each command; bash completion */
    static const char *const pages[] = {"cprof",        "cprof-cc",    "cprof-record",
                                        "cprof-report", "cprof-lines", "cprof-heap",
                                        "cprof-graph",  "cprof-audit", "cprof-diff",
                                        "cprof-export", "cprof-top",   "cprof-hotspots"};
    for (size_t i = 0; i < sizeof pages / sizeof *pages; i++) {
        char page[4400];
        snprintf(page, sizeof page, "%s/share/man/man1/%s.1", moved, pages[i]);
        char *text = e2e_read_file(page, NULL);
        cr_expect(text && strstr(text, ".TH ") && strstr(text, ".SH SYNOPSIS"),
                  "man page %s", page);
        free(text);
    }
    for (size_t i = 0; i < 2; i++) {
        char comp[4400];
        snprintf(comp, sizeof comp, "%s/share/bash-completion/completions/%s", moved,
                 i ? "cprof-cc" : "cprof");
        char *text = e2e_read_file(comp, NULL);
        cr_expect(text && strstr(text, "complete -o filenames -F _cprof cprof"), "%s",
                  comp);
        free(text);
    }
    e2e_remove_tree(tmp);
    free(tmp);
}
