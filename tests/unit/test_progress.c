/*
 * The progress line (progress.c) with a fake clock and its output in
 * memory: nothing in the first second, then a line redrawn at most every
 * 100 ms, erased at the end and before messages; nothing when it is turned
 * off. Then `cprof report` with CPROF_PROGRESS=1 and a slow clock: the line
 * and its erasing reach stderr, before anything else the command says.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "progress.h"
#include "stream.h"
#include "util.h"

#define MS 1000000ull
#define MIB (1024ull * 1024)

static uint64_t fake_now;
static unsigned fake_reads;

static uint64_t fake_clock(void)
{
    fake_reads++;
    return fake_now;
}

static struct progress bar;
static char *text;
static size_t text_len;

static void bar_init(void)
{
    memset(&bar, 0, sizeof bar);
    bar.out = open_memstream(&text, &text_len);
    bar.clock_ns = fake_clock;
    fake_now = 5000 * MS;
    fake_reads = 0;
    unsetenv("CPROF_PROGRESS");
}

static void bar_fini(void)
{
    fclose(bar.out);
    free(text);
}

/* What was written so far. */
static const char *written(void)
{
    fflush(bar.out);
    return text;
}

static size_t count_cr(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\r';
    return n;
}

/* Two files of 4 MiB, the first started at the command's start. */
static void bar_start(void)
{
    progress_begin(&bar, "reading", 2, 8 * MIB);
    progress_file(&bar, "/nonexistent/a.cprof"); /* no size: counts 0 when done */
}

TestSuite(progress, .init = bar_init, .fini = bar_fini);

Test(progress, nothing_in_the_first_second)
{
    bar_start();
    fake_now += 900 * MS;
    progress_update(&bar, 2 * MIB); /* a MiB read: the clock is read */
    cr_expect_eq(fake_reads, 3);
    cr_expect_str_eq(written(), "");
    progress_end(&bar);
    cr_expect_str_eq(written(), "");
}

Test(progress, a_line_after_a_second)
{
    bar_start();
    fake_now += 2000 * MS;
    progress_update(&bar, 2 * MIB);
    cr_expect_str_eq(written(), "\rcprof: reading 1/2 files, 2.00 MiB of 8.00 MiB, "
                                "1.00 MiB/s, 25%");
}

Test(progress, one_file_leaves_out_the_count)
{
    progress_begin(&bar, "exporting", 1, 1000);
    progress_file(&bar, "/nonexistent/a.cprof");
    fake_now += 1000 * MS;
    progress_update(&bar, 1 * MIB);
    cr_expect_str_eq(written(),
                     "\rcprof: exporting 1.00 MiB of 1000 B, 1.00 MiB/s, 100%");
}

Test(progress, the_clock_is_read_rarely)
{
    bar_start();
    unsigned before = fake_reads;
    for (uint64_t pos = 1; pos < PROGRESS_CHECK_CALLS; pos++)
        progress_update(&bar, pos * 100);
    cr_expect_eq(fake_reads, before, "every record read the clock");
    progress_update(&bar, PROGRESS_CHECK_CALLS * 100);
    cr_expect_eq(fake_reads, before + 1);
}

Test(progress, redrawn_at_most_every_100ms)
{
    bar_start();
    fake_now += 1500 * MS;
    progress_update(&bar, 1 * MIB);
    cr_expect_eq(count_cr(written()), 1);
    fake_now += 50 * MS;
    progress_update(&bar, 2 * MIB);
    cr_expect_eq(count_cr(written()), 1, "redrawn after 50 ms: %s", written());
    fake_now += 60 * MS;
    progress_update(&bar, 3 * MIB);
    cr_expect_eq(count_cr(written()), 2);
    cr_expect(strstr(written(), "3.00 MiB of 8.00 MiB"), "%s", written());
}

Test(progress, a_shorter_line_covers_the_longer_one)
{
    bar_start();
    fake_now += 1000 * MS;
    progress_update(&bar, 3 * MIB + 1);
    size_t first = strlen(written()) - 1;
    fake_now += 1000 * MS;
    progress_file(&bar, "/nonexistent/b.cprof");
    const char *second = written() + first + 1;
    cr_expect_eq(strlen(second) - 1, first, "%s", second);
    cr_expect(strstr(second, "2/2 files, 0 B of 8.00 MiB"), "%s", second);
}

Test(progress, erased_at_the_end)
{
    bar_start();
    fake_now += 1000 * MS;
    progress_update(&bar, 1 * MIB);
    size_t len = strlen(written()) - 1;
    progress_end(&bar);
    const char *erase = written() + len + 1;
    cr_expect_eq(strlen(erase), len + 2);
    cr_expect_eq(erase[0], '\r');
    cr_expect_eq(strspn(erase + 1, " "), len);
    cr_expect_eq(erase[len + 1], '\r');
    /* nothing more after the phase */
    progress_update(&bar, 4 * MIB);
    fake_now += 1000 * MS;
    progress_file(&bar, "/nonexistent/b.cprof");
    cr_expect_eq(strlen(written()), 2 * len + 3);
}

Test(progress, cleared_for_a_message_then_drawn_again)
{
    bar_start();
    fake_now += 1000 * MS;
    progress_update(&bar, 1 * MIB);
    progress_clear(&bar);
    cr_expect_eq(count_cr(written()), 3);
    progress_clear(&bar); /* nothing shown: nothing to erase */
    cr_expect_eq(count_cr(written()), 3);
    progress_update(&bar, 2 * MIB); /* redrawn at once: nothing is shown */
    cr_expect_eq(count_cr(written()), 4);
}

Test(progress, wanted_as_cprof_progress_says)
{
    cr_expect_not(progress_wanted(&bar), "an in-memory stream is not a terminal");
    setenv("CPROF_PROGRESS", "1", 1);
    cr_expect(progress_wanted(&bar));
    setenv("CPROF_PROGRESS", "0", 1);
    cr_expect_not(progress_wanted(&bar));
    setenv("CPROF_PROGRESS", "yes", 1);
    cr_expect_not(progress_wanted(&bar), "anything else: only on a terminal");
}

Test(progress, nothing_outside_a_phase)
{
    fake_now += 5000 * MS;
    progress_file(&bar, "/nonexistent/a.cprof");
    progress_update(&bar, 8 * MIB);
    progress_clear(&bar);
    progress_end(&bar);
    cr_expect_str_eq(written(), "");
}

/* ---- through cprof report ------------------------------------------------ */

/* Each reading of the clock two seconds after the last. */
static uint64_t slow_clock(void)
{
    return fake_now += 2000 * MS;
}

static char *write_sample(void)
{
    struct tstream s;
    ts_begin(&s, "summary", 7);
    ts_module(&s, 0, 0x1000, 0x2000, "/nonexistent/prog");
    ts_thread(&s, 1, 7);
    ts_node(&s, 1, 1, 0, 0x1100, 1, 100, 100, 100, 1);
    ts_thread_end(&s, 1, "");
    ts_end(&s, 1e9, 100);
    return ts_write_temp(&s, "progress");
}

Test(progress, report_draws_and_erases_on_stderr)
{
    char *path = write_sample();
    char *argv[] = {"report", path, NULL};
    char *out, *err;
    setenv("CPROF_PROGRESS", "1", 1);
    progress_stderr.clock_ns = slow_clock;
    cr_assert_eq(ts_run_cmd(cmd_report, argv, &out, &err), 0, "%s", err);
    cr_assert(!strncmp(err, "\rcprof: reading ", 16), "%s", err);
    const char *line = err + 1;
    size_t len = strcspn(line, "\r");
    /* drawn as the file started: nothing of it read yet */
    cr_expect(strstr(line, " B, 0 B/s, 0%"), "%s", err);
    /* the erase: spaces over the line, back to its start */
    cr_assert_eq(line[len], '\r');
    cr_expect_eq(strspn(line + len + 1, " "), len, "%s", err);
    cr_expect_eq(line[2 * len + 1], '\r', "%s", err);
    /* what the command says after it, as without the line */
    cr_expect_null(strchr(line + 2 * len + 2, '\r'), "%s", err);
    cr_expect_gt(strlen(out), 0);
    unlink(path);
    free(path);
    free(out);
    free(err);
}

Test(progress, report_says_nothing_when_off)
{
    char *path = write_sample();
    char *argv[] = {"report", path, NULL};
    char *out, *err;
    setenv("CPROF_PROGRESS", "0", 1);
    progress_stderr.clock_ns = slow_clock;
    cr_assert_eq(ts_run_cmd(cmd_report, argv, &out, &err), 0, "%s", err);
    cr_expect_null(strchr(err, '\r'), "%s", err);
    unlink(path);
    free(path);
    free(out);
    free(err);
}
