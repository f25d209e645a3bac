/*
 * `cprof hotspots`: a short ranked list of the places worth a developer's
 * time, each with the rule that found it, the numbers behind it and a
 * next step (hotspots.c has the rules); also the table of findings the
 * last section of `cprof report` shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_common.h"
#include "commands.h"
#include "fmt.h"
#include "hotspots.h"
#include "util.h"

#define HOTSPOTS_TEXT_LIMIT 10

static const char hotspots_usage[] =
    "usage: cprof hotspots [PATH...] [--format text|json|csv] [--limit N]\n"
    "                      [--threshold NAME=VALUE]... [--pid PID] [--tid TID]\n"
    "\n"
    "Lists the places worth a developer's time, most time at stake first: for\n"
    "each, the function, the rule that found it, the numbers behind it and\n"
    "what to do next. Rules: hot_self (a large share of self time), tiny_calls\n"
    "(very many calls that each do almost nothing), hot_alloc (allocation in a\n"
    "hot path), leak (blocks never freed), latency (p99 far above p50),\n"
    "waiting (wall time far above CPU time; needs CPROF_CPU=1 data) and\n"
    "imbalance (threads doing the same work for unequal times).\n"
    "\n"
    "  PATH            a .cprof file or a directory of them (default ./cprof.data)\n"
    "  -f, --format F  text (default), json or csv\n"
    "  -n, --limit N   show the first N findings; 0 shows all (text shows 10 by\n"
    "                  default, json and csv all)\n"
    "      --threshold NAME=VALUE\n"
    "                  change a threshold (repeatable); the thresholds and their\n"
    "                  defaults are below\n"
    "      --pid PID   only the process PID\n"
    "      --tid TID   only the thread with kernel thread id TID\n"
    "\n"
    "Examples:\n"
    "  cprof hotspots                               what to look at first\n"
    "  cprof hotspots --format json | jq '.hotspots[0]'\n"
    "  cprof hotspots --threshold self_pct=5        flag smaller shares too\n"
    "\n"
    "Exit status: 0 shown (found something or not), 1 bad command line, 2 no\n"
    "usable data, or a file damaged or cut short. See docs/cprof-hotspots.md.\n"
    "\n"
    "thresholds:\n";

enum hotspot_col {
    HC_RANK,
    HC_NAME,
    HC_NAME_TEXT,
    HC_LOCATION,
    HC_FILE,
    HC_LINE,
    HC_MODULE,
    HC_RULE,
    HC_AT_STAKE,
    HC_AT_STAKE_BYTES,
    HC_ADVICE,
    HC_EVIDENCE,
    HC_COUNT
};

static const struct fmt_col hotspot_cols[HC_COUNT] = {
    [HC_RANK] = {"rank", "#", FMT_UINT, FMT_ALL, 0},
    [HC_NAME] = {"name", "function", FMT_STR, FMT_DATA_ONLY, 0},
    [HC_NAME_TEXT] = {"name", "function", FMT_STR, FMT_TEXT_ONLY, 0},
    [HC_LOCATION] = {"location", "file:line", FMT_STR, FMT_TEXT_ONLY, 0},
    [HC_FILE] = {"file", "file", FMT_STR, FMT_DATA_ONLY, 0},
    [HC_LINE] = {"line", "line", FMT_UINT, FMT_DATA_ONLY, 0},
    [HC_MODULE] = {"module", "module", FMT_STR, FMT_DATA_ONLY, 0},
    [HC_RULE] = {"rule", "rule", FMT_STR, FMT_ALL, 0},
    [HC_AT_STAKE] = {"at_stake_ns", "at stake", FMT_NS, FMT_ALL, 0},
    [HC_AT_STAKE_BYTES] = {"at_stake_bytes", "bytes", FMT_BYTES, FMT_DATA_ONLY, 0},
    [HC_ADVICE] = {"advice", "evidence and advice", FMT_STR, FMT_ALL, FMT_WHOLE},
    [HC_EVIDENCE] = {"evidence", "evidence", FMT_JSON, FMT_DATA_ONLY, 0},
};

void cmd_hotspots_table(const struct profile *pf, const struct hs_result *r, size_t limit,
                        const char *cwd, struct cmd_hotspots_table *t)
{
    memset(t, 0, sizeof(*t));
    size_t n = limit && limit < r->count ? limit : r->count;
    t->cells = cprof_xcalloc(n * HC_COUNT, sizeof(*t->cells));
    for (size_t i = 0; i < n; i++) {
        const struct hs_finding *f = &r->items[i];
        const struct pf_row *row = &pf->rows[f->row];
        struct fmt_cell *cell = &t->cells[i * HC_COUNT];
        cell[HC_RANK].num = (double)(i + 1);
        cell[HC_NAME].str = cell[HC_NAME_TEXT].str = row->name;
        cell[HC_LOCATION].str =
            strpool_own(&t->strs, cmd_location(row->file, row->module, row->line, cwd));
        cell[HC_FILE].str = row->file;
        cell[HC_LINE].num = row->line;
        cell[HC_LINE].null = row->line == 0;
        cell[HC_MODULE].str = row->module;
        cell[HC_RULE].str = hs_rule_name(f->rule);
        cell[HC_AT_STAKE].num = f->at_stake_ns;
        cell[HC_AT_STAKE].null = f->rule == HS_LEAK;
        cell[HC_AT_STAKE_BYTES].num = f->at_stake_bytes;
        cell[HC_AT_STAKE_BYTES].null = f->rule != HS_LEAK;
        cell[HC_ADVICE].str = f->advice;
        cell[HC_EVIDENCE].str = strpool_own(&t->strs, hs_evidence_json(f));
    }
    t->table = (struct fmt_table){
        .name = "hotspots",
        .cols = hotspot_cols,
        .ncols = HC_COUNT,
        .cells = t->cells,
        .nrows = n,
        .text_rows = n,
        .empty = "nothing worth reporting: no rule's threshold was reached "
                 "(cprof hotspots --help lists them)",
        .title = "hotspots (most time at stake first; cprof hotspots shows all)",
    };
}

void cmd_hotspots_table_free(struct cmd_hotspots_table *t)
{
    free(t->cells);
    strpool_free(&t->strs);
}

/* Takes the --threshold options out of argv (before "--") into c. Returns
 * 0, or -1 after saying what was wrong. */
static int hotspots_thresholds(int *argc, char **argv, struct hs_config *c)
{
    static const char opt[] = "--threshold";
    int kept = 0, rest = 0;
    for (int i = 0; i < *argc; i++) {
        const char *value = NULL;
        if (!rest && !strcmp(argv[i], opt)) {
            if (i + 1 >= *argc) {
                cprof_error("hotspots: option '%s' needs a value NAME=VALUE", opt);
                return -1;
            }
            value = argv[++i];
        } else if (!rest && !strncmp(argv[i], opt, strlen(opt)) &&
                   argv[i][strlen(opt)] == '=') {
            value = argv[i] + strlen(opt) + 1;
        }
        if (value) {
            char msg[512];
            if (hs_config_set(c, value, msg, sizeof msg) < 0) {
                cprof_error("hotspots: %s", msg);
                return -1;
            }
            continue;
        }
        rest |= !strcmp(argv[i], "--");
        argv[kept++] = argv[i];
    }
    *argc = kept;
    return 0;
}

/* The usage with the thresholds and their defaults (allocated). */
static char *hotspots_help(void)
{
    struct strbuf sb = {0};
    sb_puts(&sb, hotspots_usage);
    for (size_t i = 0; i < HS_NTHRESHOLDS; i++)
        sb_printf(&sb, "  %-16s %-8.10g %s\n", hs_thresholds[i].name,
                  hs_thresholds[i].value, hs_thresholds[i].doc);
    return sb.s;
}

int cmd_hotspots(int argc, char **argv)
{
    struct hs_config config;
    hs_config_default(&config);
    if (hotspots_thresholds(&argc, argv, &config) < 0)
        return CPROF_EXIT_USAGE;
    char *help = hotspots_help();
    const struct cmd_view view = {"hotspots", help, NULL, 0};
    struct cmd_view_run run;
    if (!cmd_view_start(&view, argc, argv, &run)) {
        cmd_view_end(&run);
        free(help);
        return run.status;
    }
    struct model *m = &run.model;
    struct profile *pf = &run.profile;
    struct hs_result found;
    hs_find(m, pf, &config, &found);

    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    size_t limit = run.limit_given           ? (size_t)run.limit
                   : run.format == &fmt_text ? HOTSPOTS_TEXT_LIMIT
                                             : 0;
    struct cmd_hotspots_table t;
    cmd_hotspots_table(pf, &found, limit, cwd, &t);
    struct fmt_col table_cols[HC_COUNT];
    memcpy(table_cols, hotspot_cols, sizeof table_cols);
    if (run.format == &fmt_csv) /* CSV has no objects: the evidence as JSON text */
        table_cols[HC_EVIDENCE].kind = FMT_STR;
    t.table.cols = table_cols;

    /* the thresholds in use, for JSON, and the changed ones for text */
    struct fmt_col cols[HS_NTHRESHOLDS];
    struct fmt_cell cells[HS_NTHRESHOLDS];
    struct strbuf changed = {0};
    for (size_t i = 0; i < HS_NTHRESHOLDS; i++) {
        cols[i] = (struct fmt_col){hs_thresholds[i].name, "", FMT_PCT, FMT_DATA_ONLY, 0};
        cells[i] = (struct fmt_cell){.num = config.value[i]};
        if (config.value[i] != hs_thresholds[i].value)
            sb_printf(&changed, "%s%s=%.10g", changed.len ? ", " : "",
                      hs_thresholds[i].name, config.value[i]);
    }
    struct fmt_object thresholds = {"thresholds", cols, HS_NTHRESHOLDS, cells};
    char *summary[2];
    size_t nsummary = 0;
    summary[nsummary++] =
        found.count > t.table.nrows
            ? cprof_xasprintf("findings: %zu (the first %zu shown; --limit 0 shows all)",
                              found.count, t.table.nrows)
            : cprof_xasprintf("findings: %zu", found.count);
    summary[nsummary++] =
        cprof_xasprintf("thresholds: %s", changed.len ? changed.s : "the defaults");
    const char *notes[] = {"at stake: the time acting on it could save, estimated "
                           "(docs/cprof-hotspots.md)"};
    struct fmt_doc doc = {
        .title = "hotspots, most time at stake first",
        .model = m,
        .table = &t.table,
        .summary = (const char *const *)summary,
        .nsummary = nsummary,
        .notes = notes,
        .nnotes = found.count ? 1 : 0,
        .warnings = &m->warnings,
        .objects = &thresholds,
        .nobjects = 1,
    };
    run.format->write(stdout, &doc);
    int status = cmd_finish("hotspots", m, run.format, run.status);

    for (size_t i = 0; i < nsummary; i++)
        free(summary[i]);
    sb_free(&changed);
    cmd_hotspots_table_free(&t);
    hs_result_free(&found);
    cmd_view_end(&run);
    free(help);
    return status;
}

const char *const cmd_hotspots_help = hotspots_usage;
