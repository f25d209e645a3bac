/*
 * The JSON format: {"run": {...}, "<table>": [{...}, ...], "warnings": [...]}.
 * Keys are the columns' keys; the run object describes every process the
 * data came from. docs/cprof-report.md lists the keys, which are stable.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"

/* Length of the UTF-8 sequence at s (1..4), or 0 when s does not start a
 * valid one. */
static size_t fmt_utf8_len(const unsigned char *s)
{
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4   ? 4
               : s[0] >= 0xe0 && s[0] <= 0xef ? 3
               : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
                                              : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) ||
        (n == 3 && s[0] == 0xed && s[1] > 0x9f) ||
        (n == 4 && s[0] == 0xf0 && s[1] < 0x90) ||
        (n == 4 && s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

void fmt_json_string(FILE *out, const char *s, int html)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        if (*p >= 0x80) {
            size_t n = fmt_utf8_len(p);
            if (n)
                fwrite(p, 1, n, out);
            else
                fputs("\\ufffd", out);
            p += n ? n : 1;
            continue;
        }
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7f ||
                 (html && (*p == '<' || *p == '>' || *p == '&')))
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
        p++;
    }
    fputc('"', out);
}

void fmt_json_str(FILE *out, const char *s)
{
    fmt_json_string(out, s, 0);
}

static void fmt_json_num(FILE *out, enum fmt_kind kind, double v)
{
    if (!isfinite(v))
        fputs("null", out);
    else if (kind == FMT_PCT)
        fprintf(out, "%.2f", v);
    else
        fprintf(out, "%.0f", v);
}

void fmt_json_run(FILE *out, const char *key, const struct model *m, int html)
{
    fprintf(out, "\"%s\": {\"timed\": %s, \"processes\": [", key,
            m->timed ? "true" : "false");
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct m_process *p = m->procs[i];
        fprintf(out, "%s\n    {\"file\": ", i ? "," : "");
        fmt_json_string(out, p->file, html);
        fprintf(out, ", \"pid\": %llu, \"ppid\": %llu, ", (unsigned long long)p->pid,
                (unsigned long long)p->ppid);
        if (p->fork_parent)
            fprintf(out, "\"fork_parent\": %llu, ", (unsigned long long)p->fork_parent);
        fputs("\"exe\": ", out);
        fmt_json_string(out, p->exe, html);
        fputs(", \"argv\": [", out);
        for (size_t k = 0; k < p->argc; k++) {
            fputs(k ? ", " : "", out);
            fmt_json_string(out, p->argv[k], html);
        }
        fputs("], \"mode\": ", out);
        fmt_json_string(out, p->mode, html);
        fputs(", \"clock\": ", out);
        fmt_json_string(out, p->clock, html);
        fprintf(out,
                ", \"ticks_per_sec\": %.0f, \"start_unix_ns\": %llu, \"complete\": %s",
                p->ticks_per_sec, (unsigned long long)p->start_unix_ns,
                p->complete ? "true" : "false");
        fputs(", \"end_reason\": ", out);
        fmt_json_string(out, p->end_reason, html); /* NULL: null */
        if (p->end_reason && !strcmp(p->end_reason, "signal"))
            fprintf(out, ", \"signal\": %llu", (unsigned long long)p->end_signal);
        fputs(", \"duration_ns\": ", out);
        if (p->complete && p->ns_per_tick > 0 && p->end_ticks >= p->start_ticks)
            fprintf(out, "%.0f",
                    (double)(p->end_ticks - p->start_ticks) * p->ns_per_tick);
        else
            fputs("null", out);
        fputs(", \"threads\": [", out);
        for (size_t k = 0; k < p->nthreads; k++) {
            fprintf(out, "%s{\"thread\": %u, \"tid\": %llu, \"name\": ", k ? ", " : "",
                    p->threads[k]->serial, (unsigned long long)p->threads[k]->tid);
            fmt_json_string(out, p->threads[k]->name, html);
            fputc('}', out);
        }
        fputs("]}", out);
    }
    fputs("\n  ]}", out);
}

/* One object's fields: the columns of cols that are not text-only. */
static void fmt_json_fields(FILE *out, const struct fmt_col *cols, size_t ncols,
                            const struct fmt_cell *cells)
{
    int first = 1;
    for (size_t c = 0; c < ncols; c++) {
        const struct fmt_col *col = &cols[c];
        const struct fmt_cell *cell = &cells[c];
        if (col->where == FMT_TEXT_ONLY)
            continue;
        fprintf(out, "%s\"%s\": ", first ? "" : ", ", col->key);
        first = 0;
        if (cell->null || cell->blank)
            fputs("null", out);
        else if (col->kind == FMT_STR)
            fmt_json_str(out, cell->str);
        else if (col->kind == FMT_JSON)
            fputs(cell->str, out);
        else if (col->kind == FMT_BOOL)
            fputs(cell->num != 0 ? "true" : "false", out);
        else
            fmt_json_num(out, col->kind, cell->num);
    }
}

/* Rows [first, first + count) as an array of objects, one per line. */
static void fmt_json_rows(FILE *out, const struct fmt_table *t, size_t first,
                          size_t count, const char *indent)
{
    fputc('[', out);
    for (size_t r = first; r < first + count; r++) {
        fprintf(out, "%s\n%s{", r > first ? "," : "", indent);
        fmt_json_fields(out, t->cols, t->ncols, &t->cells[r * t->ncols]);
        fputc('}', out);
    }
    if (count)
        fprintf(out, "\n%.*s", (int)strlen(indent) - 2, indent);
    fputc(']', out);
}

static void fmt_json_write(FILE *out, const struct fmt_doc *doc)
{
    const struct fmt_table *t = doc->table;
    const struct fmt_groups *g = t->groups;
    fputs("{\n  ", out);
    if (!doc->nruns)
        fmt_json_run(out, "run", doc->model, 0);
    for (size_t i = 0; i < doc->nruns; i++) {
        fputs(i ? ",\n  " : "", out);
        fmt_json_run(out, doc->runs[i].key, doc->runs[i].model, 0);
    }
    fprintf(out, ",\n  \"%s\": ", t->name);
    if (!g) {
        fmt_json_rows(out, t, 0, t->nrows, "    ");
    } else {
        fputc('[', out);
        for (size_t i = 0; i < g->ngroups; i++) {
            const struct fmt_group *group = &g->groups[i];
            fputs(i ? ",\n    {" : "\n    {", out);
            fmt_json_fields(out, g->cols, g->ncols, group->cells);
            fprintf(out, ", \"%s\": ", g->rows_key);
            fmt_json_rows(out, t, group->first, group->count, "        ");
            fputc('}', out);
        }
        fputs(g->ngroups ? "\n  ]" : "]", out);
    }
    for (size_t i = 0; i < doc->nmore; i++) {
        fprintf(out, ",\n  \"%s\": ", doc->more[i]->name);
        fmt_json_rows(out, doc->more[i], 0, doc->more[i]->nrows, "    ");
    }
    for (size_t i = 0; i < doc->nobjects; i++) {
        const struct fmt_object *o = &doc->objects[i];
        fprintf(out, ",\n  \"%s\": ", o->key);
        if (!o->cells) {
            fputs("null", out);
            continue;
        }
        fputc('{', out);
        fmt_json_fields(out, o->cols, o->ncols, o->cells);
        fputc('}', out);
    }
    fputs(",\n  \"warnings\": [", out);
    for (size_t i = 0; doc->warnings && i < doc->warnings->count; i++) {
        fputs(i ? ",\n    " : "\n    ", out);
        fmt_json_str(out, doc->warnings->text[i]);
    }
    fputs(doc->warnings && doc->warnings->count ? "\n  ]\n}\n" : "]\n}\n", out);
}

const struct fmt_ops fmt_json = {"json", fmt_json_write};
