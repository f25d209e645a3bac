/*
 * The progress line on stderr while data is read; see progress.h. Cost on
 * the reading path: a counter and a comparison per record; the clock is
 * read every 1024 records or MiB, the line written at most ten times a
 * second.
 */
#include "progress.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fmt.h"

struct progress progress_stderr;

static FILE *progress_out(const struct progress *p)
{
    return p->out ? p->out : stderr;
}

static uint64_t progress_now(const struct progress *p)
{
    if (p->clock_ns)
        return p->clock_ns();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int progress_wanted(const struct progress *p)
{
    const char *env = getenv("CPROF_PROGRESS");
    if (env && !strcmp(env, "0"))
        return 0;
    if (env && !strcmp(env, "1"))
        return 1;
    int fd = fileno(progress_out(p));
    return fd >= 0 && isatty(fd);
}

void progress_begin(struct progress *p, const char *verb, size_t nfiles,
                    uint64_t total_bytes)
{
    uint64_t now = progress_now(p);
    if (!p->has_origin) {
        p->origin_ns = now;
        p->has_origin = 1;
    }
    p->active = 1;
    p->phase_ns = now;
    p->verb = verb;
    p->nfiles = nfiles;
    p->file = 0;
    p->total_bytes = total_bytes;
    p->done_bytes = p->file_bytes = p->pos = p->checked_pos = 0;
    p->unchecked = 0;
}

/* Writes the line as things stand at now, over the one shown. */
static void progress_draw(struct progress *p, uint64_t now)
{
    uint64_t read = p->done_bytes + p->pos;
    char line[160], done[32], total[32], rate[32];
    fmt_human_bytes((double)read, 0, done, sizeof done);
    fmt_human_bytes((double)p->total_bytes, 0, total, sizeof total);
    int n = snprintf(line, sizeof line, "cprof: %s ", p->verb);
    if (p->nfiles > 1)
        n += snprintf(line + n, sizeof line - (size_t)n, "%zu/%zu files, ",
                      p->file ? p->file : 1, p->nfiles);
    n += snprintf(line + n, sizeof line - (size_t)n, "%s of %s", done, total);
    if (now > p->phase_ns) {
        fmt_human_bytes((double)read * 1e9 / (double)(now - p->phase_ns), 0, rate,
                        sizeof rate);
        n += snprintf(line + n, sizeof line - (size_t)n, ", %s/s", rate);
    }
    if (p->total_bytes) {
        uint64_t pct = read >= p->total_bytes ? 100 : read * 100 / p->total_bytes;
        n += snprintf(line + n, sizeof line - (size_t)n, ", %llu%%",
                      (unsigned long long)pct);
    }
    size_t len = strlen(line);
    FILE *out = progress_out(p);
    /* spaces over what is left of a longer line shown before */
    fprintf(out, "\r%s%*s", line, p->shown > len ? (int)(p->shown - len) : 0, "");
    fflush(out);
    p->shown = len;
    p->next_draw_ns = now + PROGRESS_REDRAW_NS;
}

/* Reads the clock and redraws when it is time. */
static void progress_check(struct progress *p)
{
    p->unchecked = 0;
    p->checked_pos = p->pos;
    uint64_t now = progress_now(p);
    if (now - p->origin_ns < PROGRESS_DELAY_NS || (p->shown && now < p->next_draw_ns))
        return;
    progress_draw(p, now);
}

void progress_file(struct progress *p, const char *path)
{
    if (!p->active)
        return;
    struct stat st;
    p->done_bytes += p->file_bytes;
    p->file_bytes = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    p->file++;
    p->pos = 0;
    progress_check(p);
}

void progress_update(struct progress *p, uint64_t pos)
{
    if (!p->active)
        return;
    p->pos = pos;
    if (++p->unchecked >= PROGRESS_CHECK_CALLS ||
        pos - p->checked_pos >= PROGRESS_CHECK_BYTES)
        progress_check(p);
}

void progress_clear(struct progress *p)
{
    if (!p->shown)
        return;
    FILE *out = progress_out(p);
    fprintf(out, "\r%*s\r", (int)p->shown, "");
    fflush(out);
    p->shown = 0;
}

void progress_end(struct progress *p)
{
    progress_clear(p);
    p->active = 0;
}
