/*
 * `cprof top` end to end: a program built with cprof-cc runs in two timed
 * phases (alpha's calls, then beta's); cprof top -- PROGRAM follows it
 * through the snapshots the runtime writes with CPROF_LIVE, shows the
 * function of the phase at the top of the view while it runs, the final
 * figures when it ends, and exits with the program's status. On a terminal
 * (tmux) the view is redrawn in place and q quits. Bad command lines and an
 * empty data directory get clear words.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e_scratch.h"

#define CPROF CPROF_BINARY_DIR "/bin/cprof"

TestSuite(top, .init = e2e_scratch_init, .fini = e2e_scratch_fini, .timeout = 180);

/* alpha's phase, then beta's, each argv[1] seconds (default 1); exits 3 */
static const char phases_src[] =
    "#include <stdlib.h>\n"
    "#include <time.h>\n"
    "static volatile long sink;\n"
    "__attribute__((no_instrument_function)) static double now(void) {\n"
    "    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);\n"
    "    return t.tv_sec + t.tv_nsec / 1e9; }\n"
    "__attribute__((noinline)) void alpha(long i) { sink += i; }\n"
    "__attribute__((noinline)) void beta(long i) { sink ^= i; }\n"
    "int main(int argc, char **argv) {\n"
    "    double len = argc > 1 ? atof(argv[1]) : 1, t0 = now();\n"
    "    while (now() - t0 < len) for (long i = 0; i < 10000; i++) alpha(i);\n"
    "    while (now() - t0 < 2 * len) for (long i = 0; i < 10000; i++) beta(i);\n"
    "    return 3; }\n";

/* The function named first in the table of a block of plain output, main
 * aside. */
static const char *first_function(const char *block, char *name, size_t len)
{
    const char *h = strstr(block, "function (location)");
    if (!h)
        return NULL;
    const char *line = strchr(h, '\n');
    if (!line)
        return NULL;
    line++;
    /* the name is the word before " (location)" at the end of a row; main
     * (the loops, its own time) is passed over */
    for (; *line && *line != '\n';) {
        const char *eol = strchr(line, '\n');
        size_t len_line = eol ? (size_t)(eol - line) : strlen(line);
        const char *open = NULL;
        for (const char *q = line; q + 1 < line + len_line; q++)
            if (q[0] == ' ' && q[1] == '(')
                open = q;
        if (!open)
            return NULL;
        const char *start = open;
        while (start > line && start[-1] != ' ')
            start--;
        size_t n = (size_t)(open - start);
        if (n == 0 || n >= len)
            return NULL;
        memcpy(name, start, n);
        name[n] = 0;
        if (strcmp(name, "main"))
            return name;
        if (!eol)
            break;
        line = eol + 1;
    }
    return NULL;
}

Test(top, plain_output_follows_a_running_program_and_passes_its_status)
{
    e2e_scratch_build("phases", phases_src, NULL);
    char *argv[] = {CPROF,  "top", "-d",       "0.25", "-o",
                    "data", "--",  "./phases", "1.5",  NULL};
    struct e2e_result res;
    int status = e2e_scratch_run(argv, NULL, NULL, &res);
    cr_assert_eq(status, 3, "cprof top exits with the program's status: %d\n%s\n%s",
                 status, res.out, res.err);
    /* the blocks: one per snapshot, the last one the final figures */
    int blocks = 0, alpha_first = 0, beta_first_later = 0, rates = 0;
    const char *p = res.out;
    const char *last = NULL;
    while ((p = strstr(p, "== ")) != NULL) {
        char name[64];
        const char *end = strstr(p + 3, "\n== ");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char *block = strndup(p, n);
        const char *f = first_function(block, name, sizeof name);
        if (f && !strcmp(f, "alpha") && !beta_first_later && strstr(block, "running"))
            alpha_first++;
        if (f && !strcmp(f, "beta") && alpha_first && strstr(block, "running"))
            beta_first_later++;
        if (strstr(block, "M/s now") || strstr(block, "k/s now"))
            rates++;
        free(block);
        blocks++;
        last = p;
        p += 3;
    }
    cr_assert_geq(blocks, 4, "a block per snapshot:\n%s", res.out);
    cr_assert_gt(alpha_first, 0, "alpha at the top while it runs:\n%s", res.out);
    cr_assert_gt(beta_first_later, 0, "then beta:\n%s", res.out);
    cr_assert_gt(rates, 0, "calls per second shown:\n%s", res.out);
    cr_assert(strstr(last, "ended: exit status 3"), "the final block says so:\n%s", last);
    cr_assert(strstr(last, "alpha") && strstr(last, "beta"), "%s", last);
    /* the snapshots are gone, the final file is there */
    char *dir = NULL;
    cr_assert(asprintf(&dir, "%s/data", e2e_scratch) > 0);
    cr_assert_eq(e2e_count_files(dir, ".live.cprof"), 0);
    cr_assert_eq(e2e_count_files(dir, ".cprof"), 1);
    free(dir);
    e2e_result_free(&res);
}

Test(top, under_tmux_the_view_is_redrawn_and_q_quits)
{
    if (system("command -v tmux >/dev/null 2>&1") != 0)
        cr_skip_test("tmux is not installed (.ci/install-deps installs it)");
    e2e_scratch_build("phases", phases_src, NULL);
    char session[64], cmd[4096];
    snprintf(session, sizeof session, "cprof-top-%ld", (long)getpid());
    /* the program runs for 20 s; the view must show it running, then quit on q */
    snprintf(
        cmd, sizeof cmd,
        "tmux -L %s new-session -d -s t -x 110 -y 30 "
        "'cd %s && %s top -d 0.25 -o data -- ./phases 10; echo \"status $?\" > done; "
        "sleep 30'",
        session, e2e_scratch, CPROF);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    char *screen = NULL;
    int seen = 0;
    for (int i = 0; i < 100 && !seen; i++) {
        usleep(100000);
        snprintf(cmd, sizeof cmd, "tmux -L %s capture-pane -p -t t > %s/screen", session,
                 e2e_scratch);
        if (system(cmd) != 0)
            continue;
        free(screen);
        snprintf(cmd, sizeof cmd, "%s/screen", e2e_scratch);
        screen = e2e_read_file(cmd, NULL);
        seen = screen && strstr(screen, "running") && strstr(screen, "alpha") &&
               strstr(screen, "/s now") && strstr(screen, "q quits");
    }
    cr_expect(seen, "the live view on the terminal:\n%s", screen ? screen : "(nothing)");
    /* redrawn in place: one header on the screen, not a scroll of them */
    if (screen) {
        int headers = 0;
        for (const char *p = screen; (p = strstr(p, "cprof top - ")); p++)
            headers++;
        cr_expect_eq(headers, 1, "%s", screen);
    }
    snprintf(cmd, sizeof cmd, "tmux -L %s send-keys -t t q", session);
    cr_assert_eq(system(cmd), 0);
    char *done = NULL;
    snprintf(cmd, sizeof cmd, "%s/done", e2e_scratch);
    for (int i = 0; i < 50 && !done; i++) {
        usleep(100000);
        done = e2e_read_file(cmd, NULL);
    }
    snprintf(cmd, sizeof cmd, "tmux -L %s kill-server; pkill -f '%s/phases'", session,
             e2e_scratch);
    (void)!system(cmd);
    cr_assert(done, "q quits cprof top");
    cr_expect(strstr(done, "status 0"), "%s", done);
    free(done);
    free(screen);
}

Test(top, bad_command_lines_and_no_data_get_clear_words)
{
    struct e2e_result res;
    char *zero[] = {CPROF, "top", "-d", "0", NULL};
    cr_assert_eq(e2e_scratch_run(zero, NULL, NULL, &res), 1);
    cr_assert(strstr(res.err, "--interval wants seconds"), "%s", res.err);
    e2e_result_free(&res);

    char *both[] = {CPROF, "top", "somewhere", "--", "true", NULL};
    cr_assert_eq(e2e_scratch_run(both, NULL, NULL, &res), 1);
    cr_assert(strstr(res.err, "either PATH or -- PROGRAM"), "%s", res.err);
    e2e_result_free(&res);

    char *missing[] = {CPROF, "top", "no-such-dir", NULL};
    cr_assert_eq(e2e_scratch_run(missing, NULL, NULL, &res), 2);
    cr_assert(strstr(res.err, "no-such-dir") && strstr(res.err, "CPROF_LIVE"), "%s",
              res.err);
    e2e_result_free(&res);

    char *empty_dir = NULL;
    cr_assert(asprintf(&empty_dir, "%s/empty", e2e_scratch) > 0);
    cr_assert_eq(mkdir(empty_dir, 0777), 0);
    free(empty_dir);
    char *empty[] = {CPROF, "top", "--iterations", "2", "-d", "0.1", "empty", NULL};
    cr_assert_eq(e2e_scratch_run(empty, NULL, NULL, &res), 0, "%s", res.err);
    cr_assert(strstr(res.out, "waiting for a running program") &&
                  strstr(res.out, "CPROF_LIVE=1"),
              "%s", res.out);
    e2e_result_free(&res);

    char *notcprof[] = {CPROF, "top", "--", "/bin/true", NULL};
    cr_assert_eq(e2e_scratch_run(notcprof, NULL, NULL, &res), 0, "%s", res.err);
    cr_assert(strstr(res.out, "wrote no profile"), "%s", res.out);
    e2e_result_free(&res);
}
