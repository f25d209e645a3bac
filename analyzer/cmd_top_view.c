/*
 * `cprof top`'s view (see cmd_top.h): a snapshot as a table of its functions,
 * hottest in the last interval first, in lines cut to a terminal's width
 * or plain; and the terminal's mode and size. It knows nothing of the
 * files a snapshot comes from (cmd_top_snap.c) or of when to redraw
 * (cmd_top.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "fmt.h"
#include "cmd_top.h"
#include "util.h"

/* ---- showing it ------------------------------------------------------- */

static void top_count(double v, char *buf, size_t len)
{
    if (v < 10000)
        snprintf(buf, len, "%.0f", v);
    else if (v < 1e6)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else if (v < 1e9)
        snprintf(buf, len, "%.2fM", v / 1e6);
    else
        snprintf(buf, len, "%.2fG", v / 1e9);
}

static const struct top_snap *top_sort_snap;

/* hottest in the last interval first, then by total self time, then name */
static int top_cmp_fn(const void *a, const void *b)
{
    const struct top_fn *x = &top_sort_snap->fns[*(const size_t *)a];
    const struct top_fn *y = &top_sort_snap->fns[*(const size_t *)b];
    if (x->d_self_ns != y->d_self_ns)
        return x->d_self_ns > y->d_self_ns ? -1 : 1;
    if (x->d_calls != y->d_calls)
        return x->d_calls > y->d_calls ? -1 : 1;
    if (x->self_ns != y->self_ns)
        return x->self_ns > y->self_ns ? -1 : 1;
    if (x->calls != y->calls)
        return x->calls > y->calls ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Prints one line, cut to width (a terminal line must not wrap). */
void top_line(FILE *out, size_t width, int clear_eol, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (width && strlen(buf) > width)
        buf[width] = 0;
    fputs(buf, out);
    fputs(clear_eol ? "\033[K\n" : "\n", out);
}

void top_show(FILE *out, const struct top_snap *s, const struct top_view *v)
{
    int t = v->terminal;
    char rate[32] = "-", total[32], self[32] = "-";
    top_count((double)s->total_calls, total, sizeof total);
    double d_calls_all = 0;
    for (size_t i = 0; i < s->nfns; i++)
        d_calls_all += (double)s->fns[i].d_calls;
    if (v->interval_ns > 0) {
        top_count(d_calls_all / (v->interval_ns / 1e9), rate, sizeof rate);
        strcat(rate, "/s");
    }
    if (s->timed)
        fmt_human_ns(s->total_self_ns, self, sizeof self);
    char elapsed[32] = "?";
    if (s->elapsed_ns > 0)
        fmt_human_ns(s->elapsed_ns, elapsed, sizeof elapsed);
    top_line(out, v->width, t, "cprof top - %s - %s - %zu thread%s, running for %s%s",
             s->who, v->state, s->nthreads, s->nthreads == 1 ? "" : "s", elapsed,
             t ? "   (q quits)" : "");
    top_line(out, v->width, t,
             "calls: %s in all, %s now; time in instrumented functions: %s", total, rate,
             self);
    if (v->notice)
        top_line(out, v->width, t, "%s", v->notice);
    top_line(out, v->width, t, "%s", "");
    top_line(out, v->width, t, "%10s %7s %10s %10s %10s  %s", "last", "%", "calls/s",
             "self", "calls", "function (location)");

    size_t *order = cprof_xcalloc(s->nfns ? s->nfns : 1, sizeof(size_t));
    for (size_t i = 0; i < s->nfns; i++)
        order[i] = i;
    top_sort_snap = s;
    qsort(order, s->nfns, sizeof(size_t), top_cmp_fn);
    size_t rows = v->rows < s->nfns ? v->rows : s->nfns;
    for (size_t k = 0; k < rows; k++) {
        const struct top_fn *f = &s->fns[order[k]];
        char last[32] = "-", pct[32] = "-", cps[32] = "-", fself[32] = "-", fcalls[32];
        if (v->interval_ns > 0) {
            if (s->timed) {
                fmt_human_ns(f->d_self_ns, last, sizeof last);
                snprintf(pct, sizeof pct, "%.1f", 100.0 * f->d_self_ns / v->interval_ns);
            }
            top_count((double)f->d_calls / (v->interval_ns / 1e9), cps, sizeof cps);
        }
        if (s->timed)
            fmt_human_ns(f->self_ns, fself, sizeof fself);
        top_count((double)f->calls, fcalls, sizeof fcalls);
        top_line(out, v->width, t, "%10s %7s %10s %10s %10s  %s (%s)", last, pct, cps,
                 fself, fcalls, f->name, f->location);
    }
    if (!s->nfns)
        top_line(out, v->width, t, "(no function has been called yet)");
    else if (rows < s->nfns)
        top_line(out, v->width, t, "... %zu more function%s", s->nfns - rows,
                 s->nfns - rows == 1 ? "" : "s");
    free(order);
}

/* ---- the terminal ----------------------------------------------------- */

static struct termios top_saved_tio;
static int top_tio_saved;

void top_terminal_begin(void)
{
    if (tcgetattr(STDIN_FILENO, &top_saved_tio) == 0) {
        struct termios raw = top_saved_tio;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
            top_tio_saved = 1;
    }
    fputs("\033[?1049h\033[?25l", stdout); /* the alternate screen, no cursor */
    fflush(stdout);
}

void top_terminal_end(void)
{
    fputs("\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    if (top_tio_saved)
        tcsetattr(STDIN_FILENO, TCSANOW, &top_saved_tio);
    top_tio_saved = 0;
}

void top_terminal_size(size_t *rows, size_t *cols)
{
    struct winsize ws;
    *rows = 24;
    *cols = 80;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
        *rows = ws.ws_row;
        *cols = ws.ws_col;
    }
}
