/*
 * The command table and everything built from the commands' help texts:
 * `cprof --help`, `cprof help [CMD]`, suggestions for a mistyped command
 * or option, and the man pages (`cprof help --man TOPIC`, which the build
 * runs to make share/man/man1/cprof*.1). Each command's help text stays in
 * its own cmd_<name>.c, so the page, the --help output and the options the
 * suggestions know cannot drift apart.
 */
#define _GNU_SOURCE
#include "help.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "util.h"

const struct cmd_entry cmd_table[] = {
    {"record", cmd_record, "run a program built with cprof-cc and keep its profile",
     &cmd_record_help},
    {"report", cmd_report,
     "exact per-function table: calls, self and total time, min, max", &cmd_report_help},
    {"hotspots", cmd_hotspots,
     "the places worth your time, ranked, with the numbers and what to do",
     &cmd_hotspots_help},
    {"lines", cmd_lines,
     "hits and time per source line (functions built with --cprof-lines)",
     &cmd_lines_help},
    {"heap", cmd_heap, "heap per function: allocations, frees, net change, peak, leaks",
     &cmd_heap_help},
    {"graph", cmd_graph, "callers and callees with calls and time per edge; --tree",
     &cmd_graph_help},
    {"audit", cmd_audit,
     "how exact the data is (losses, repairs, clock); --expect counts", &cmd_audit_help},
    {"diff", cmd_diff, "two runs side by side: call count changes, time beyond noise",
     &cmd_diff_help},
    {"export", cmd_export,
     "for other tools: chrome trace, callgrind, folded stacks, html, json, csv",
     &cmd_export_help},
    {"top", cmd_top, "live view of running programs: hottest functions now and overall",
     &cmd_top_help},
};
const size_t cmd_count = sizeof cmd_table / sizeof *cmd_table;

const struct cmd_entry *cmd_find(const char *name)
{
    for (size_t i = 0; i < cmd_count; i++)
        if (!strcmp(cmd_table[i].name, name))
            return &cmd_table[i];
    return NULL;
}

void help_overview(FILE *out)
{
    fprintf(out, "usage: cprof COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < cmd_count; i++)
        fprintf(out, "  %-9s %s\n", cmd_table[i].name, cmd_table[i].summary);
    fprintf(
        out,
        "  help      cprof help COMMAND: a command's options and examples\n"
        "\n"
        "Build a program with cprof-cc (make CC=cprof-cc, cmake\n"
        "-DCMAKE_C_COMPILER=cprof-cc, ./configure CC=cprof-cc) and run it: it writes\n"
        "./cprof.data/<program>.<pid>.cprof. Then:\n"
        "\n"
        "  cprof report                  the exact per-function table\n"
        "  cprof report --format json    the same for scripts\n"
        "  cprof record -- ./prog args   run a program, keep its profile in cprof.data\n"
        "  cprof top -- ./server         watch a running program\n"
        "\n"
        "`cprof help COMMAND` or `cprof COMMAND --help` describes one; `man "
        "cprof-report`\n"
        "and so on when installed. Environment: NO_COLOR=1 or CPROF_COLOR=never turns\n"
        "colour off, CPROF_COLOR=always keeps it in pipes.\n");
}

/* ---- suggestions ------------------------------------------------------- */

/* Edit distance with transpositions (optimal string alignment), capped:
 * anything above cap counts as cap + 1. */
static size_t help_distance(const char *a, const char *b, size_t cap)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64)
        return cap + 1;
    size_t d[65][65];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m] > cap ? cap + 1 : d[n][m];
}

/* The candidate closest to word: within a third of its length (at least
 * 1, at most 3 edits), or the only candidate word is a prefix of. */
static const char *help_closest(const char *word, const char *const *cands, size_t n)
{
    size_t len = strlen(word), cap = len / 3 ? (len / 3 < 3 ? len / 3 : 3) : 1;
    const char *best = NULL, *prefix = NULL;
    size_t best_d = cap + 1, nprefix = 0;
    for (size_t i = 0; i < n; i++) {
        size_t d = help_distance(word, cands[i], cap);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
        if (len >= 2 && !strncmp(cands[i], word, len)) {
            prefix = cands[i];
            nprefix++;
        }
    }
    if (best)
        return best;
    return nprefix == 1 ? prefix : NULL;
}

const char *help_suggest_command(const char *word)
{
    const char *names[sizeof cmd_table / sizeof *cmd_table + 1];
    for (size_t i = 0; i < cmd_count; i++)
        names[i] = cmd_table[i].name;
    names[cmd_count] = "help";
    return help_closest(word, names, cmd_count + 1);
}

/* The long options a help text names ("--format", ...), in out (each
 * allocated), at most max. */
static size_t help_options(const char *text, char **out, size_t max)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, "--")) && n < max; p += 2) {
        if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '-'))
            continue;
        size_t k = 2;
        while (isalnum((unsigned char)p[k]) || p[k] == '-')
            k++;
        if (k < 4 || p[k - 1] == '-')
            continue;
        int seen = 0;
        for (size_t i = 0; i < n && !seen; i++)
            seen = strlen(out[i]) == k && !strncmp(out[i], p, k);
        if (!seen)
            out[n++] = cprof_xstrndup(p, k);
    }
    return n;
}

int help_suggest_option(const char *cmd, const char *arg, char *buf, size_t len)
{
    const struct cmd_entry *e = cmd_find(cmd);
    if (!e || !arg || strncmp(arg, "--", 2))
        return 0;
    char word[128];
    snprintf(word, sizeof word, "%.*s", (int)strcspn(arg, "="), arg);
    char *opts[128];
    size_t n = help_options(*e->help, opts, 128);
    const char *best = help_closest(word, (const char *const *)opts, n);
    if (best)
        snprintf(buf, len, "%s", best);
    for (size_t i = 0; i < n; i++)
        free(opts[i]);
    return best != NULL;
}

/* ---- man pages --------------------------------------------------------- */

/* Writes s escaped for roff: backslashes, and a leading . or '. */
static void man_text(FILE *out, const char *s, size_t n)
{
    if (n && (s[0] == '.' || s[0] == '\''))
        fputs("\\&", out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\')
            fputs("\\e", out);
        else if (s[i] == '-')
            fputs("\\-", out);
        else
            fputc(s[i], out);
    }
}

static int man_blank(const char *line, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)line[i]))
            return 0;
    return 1;
}

/* A paragraph that heads a section: "Exit status: ...", "Examples:". */
static const char *man_section(const char *line, size_t n, size_t *skip)
{
    static const struct {
        const char *prefix, *section;
    } heads[] = {
        {"Exit status:", "EXIT STATUS"},
        {"Examples:", "EXAMPLES"},
        {"Environment:", "ENVIRONMENT"},
    };
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        size_t k = strlen(heads[i].prefix);
        if (n >= k && !strncmp(line, heads[i].prefix, k)) {
            *skip = k;
            while (*skip < n && line[*skip] == ' ')
                (*skip)++;
            return heads[i].section;
        }
    }
    return NULL;
}

/* The page of a help text: its "usage:" lines are the synopsis, the rest
 * the description, indented lines (options, examples) kept as they are. */
static void man_page(FILE *out, const char *page, const char *summary, const char *text,
                     const char *see_also)
{
    char upper[64];
    size_t k = 0;
    for (; page[k] && k < sizeof upper - 1; k++)
        upper[k] = (char)toupper((unsigned char)page[k]);
    upper[k] = 0;
    fprintf(out, ".TH %s 1 \"\" \"cprof %s\" \"cprof manual\"\n.SH NAME\n", upper,
            CPROF_VERSION);
    man_text(out, page, strlen(page));
    fputs(" \\- ", out);
    man_text(out, summary, strlen(summary));
    fputs("\n.SH SYNOPSIS\n.nf\n", out);
    const char *p = text;
    /* the usage lines: up to the first blank line */
    while (*p) {
        size_t n = strcspn(p, "\n");
        if (man_blank(p, n))
            break;
        const char *l = p;
        size_t m = n;
        if (!strncmp(l, "usage: ", 7)) {
            l += 7;
            m -= 7;
        }
        while (m && *l == ' ' && l == p) {
            l++;
            m--;
        }
        man_text(out, l, m);
        fputc('\n', out);
        p += n + (p[n] == '\n');
    }
    fputs(".fi\n.SH DESCRIPTION\n", out);
    int pre = 0; /* inside a .nf block */
    int para = 1;
    while (*p) {
        size_t n = strcspn(p, "\n");
        size_t skip = 0;
        const char *section = NULL;
        if (man_blank(p, n)) {
            if (pre) {
                fputs(".fi\n", out);
                pre = 0;
            }
            para = 1;
        } else if (p[0] == ' ') {
            if (!pre) {
                fputs(para ? ".PP\n.nf\n" : ".nf\n", out);
                pre = 1;
            }
            man_text(out, p, n);
            fputc('\n', out);
            para = 0;
        } else {
            if (pre) {
                fputs(".fi\n", out);
                pre = 0;
            }
            if (para && (section = man_section(p, n, &skip)) != NULL) {
                fprintf(out, ".SH %s\n", section);
            } else if (para) {
                fputs(".PP\n", out);
            }
            if (n > skip) {
                man_text(out, p + skip, n - skip);
                fputc('\n', out);
            }
            para = 0;
        }
        p += n + (p[n] == '\n');
    }
    if (pre)
        fputs(".fi\n", out);
    fprintf(out, ".SH SEE ALSO\n%s\n", see_also);
}

/* Appends what is left to read of f to sb. */
static void help_slurp(FILE *f, struct strbuf *sb)
{
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        sb_add(sb, buf, got);
}

/* cprof-cc's own help (`cprof-cc --cprof-help`), from the cprof-cc beside
 * this executable; NULL when it cannot be run. */
static char *help_cc_text(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return NULL;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash)
        return NULL;
    *slash = 0;
    char *cmd = cprof_xasprintf("'%s/cprof-cc' --cprof-help", self);
    FILE *f = popen(cmd, "r");
    free(cmd);
    if (!f)
        return NULL;
    struct strbuf sb = {0};
    help_slurp(f, &sb);
    int status = pclose(f);
    if (status != 0 || !sb.len) {
        sb_free(&sb);
        return NULL;
    }
    return sb.s;
}

/* What `cprof CMD --help` prints (some commands add to their help text,
 * as hotspots its thresholds), captured; NULL when it cannot be. */
static char *help_of(const struct cmd_entry *e)
{
    FILE *tmp = tmpfile();
    if (!tmp)
        return NULL;
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    if (saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
        if (saved >= 0)
            close(saved);
        fclose(tmp);
        return NULL;
    }
    char *argv[] = {(char *)e->name, "--help", NULL};
    int status = e->run(2, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    struct strbuf sb = {0};
    rewind(tmp);
    help_slurp(tmp, &sb);
    fclose(tmp);
    if (status != 0 || !sb.len) {
        sb_free(&sb);
        return NULL;
    }
    return sb.s;
}

int help_man(FILE *out, const char *topic)
{
    static const char see_cmds[] = ".BR cprof (1),\n.BR cprof\\-cc (1);\n"
                                   "the documentation in docs/ of the cprof sources.";
    if (!strcmp(topic, "cprof")) {
        struct strbuf sb = {0};
        FILE *mem = open_memstream(&sb.s, &sb.len);
        if (!mem)
            return -1;
        help_overview(mem);
        fclose(mem);
        struct strbuf also = {0};
        sb_puts(&also, ".BR cprof\\-cc (1)");
        for (size_t i = 0; i < cmd_count; i++)
            sb_printf(&also, ",\n.BR cprof\\-%s (1)", cmd_table[i].name);
        man_page(out, "cprof", "read and show what programs built with cprof-cc recorded",
                 sb.s, also.s);
        free(sb.s);
        sb_free(&also);
        return 0;
    }
    if (!strcmp(topic, "cprof-cc")) {
        char *text = help_cc_text();
        if (!text)
            return -1;
        man_page(out, "cprof-cc",
                 "a drop-in for cc that builds programs profiled by cprof", text,
                 ".BR cprof (1),\n.BR clang (1)");
        free(text);
        return 0;
    }
    const char *name = !strncmp(topic, "cprof-", 6) ? topic + 6 : topic;
    const struct cmd_entry *e = cmd_find(name);
    if (!e)
        return -1;
    char *text = help_of(e);
    char page[64];
    snprintf(page, sizeof page, "cprof-%s", e->name);
    man_page(out, page, e->summary, text ? text : *e->help, see_cmds);
    free(text);
    return 0;
}

/* ---- cprof help -------------------------------------------------------- */

int cmd_help(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--man")) {
        if (argc != 3) {
            cprof_error("help: --man wants one topic: cprof, cprof-cc or a command");
            return CPROF_EXIT_USAGE;
        }
        if (help_man(stdout, argv[2]) < 0) {
            cprof_error("help: no manual page for '%s' (cprof, cprof-cc or a command)",
                        argv[2]);
            return CPROF_EXIT_USAGE;
        }
        return fflush(stdout) == 0 ? CPROF_EXIT_OK : CPROF_EXIT_DATA;
    }
    if (argc >= 2 && !strcmp(argv[1], "--commands")) { /* for shell completion */
        for (size_t i = 0; i < cmd_count; i++)
            printf("%s\n", cmd_table[i].name);
        printf("help\n");
        return CPROF_EXIT_OK;
    }
    if (argc < 2) {
        help_overview(stdout);
        return CPROF_EXIT_OK;
    }
    const struct cmd_entry *e = cmd_find(argv[1]);
    if (!e) {
        const char *s = help_suggest_command(argv[1]);
        if (s)
            cprof_error("help: no command '%s'; did you mean '%s'?", argv[1], s);
        else
            cprof_error("help: no command '%s' (cprof --help lists them)", argv[1]);
        return CPROF_EXIT_USAGE;
    }
    char *argv1[] = {(char *)e->name, "--help", NULL};
    return e->run(2, argv1);
}
