/*
 * Implementation of the end-to-end test helpers declared in e2e_util.h:
 * process running with captured output and a time limit, file and
 * directory chores, and a small CSV reader. Plain POSIX; no project code.
 */
#define _GNU_SOURCE
#include "e2e_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A growing byte buffer, always NUL-terminated once anything was added. */
struct e2e_buf {
    char *data;
    size_t len, cap;
};

static int e2e_buf_add(struct e2e_buf *b, const char *src, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (!data)
            return -1;
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Takes the buffer's bytes (an empty string when none) out of b. */
static char *e2e_buf_take(struct e2e_buf *b, size_t *len)
{
    if (!b->data && e2e_buf_add(b, "", 0) != 0)
        return NULL;
    *len = b->len;
    char *data = b->data;
    memset(b, 0, sizeof *b);
    return data;
}

static double e2e_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* In the child between fork and exec: set up and exec, or _exit(127). */
static void e2e_exec_child(const char *cwd, char *const argv[], char *const env_set[],
                           char *const env_unset[], int out_fd, int err_fd)
{
    /* Own process group, so a timeout kills the command's children too. */
    setpgid(0, 0);
    if (cwd && chdir(cwd) != 0)
        _exit(127);
    for (size_t i = 0; env_unset && env_unset[i]; i++)
        unsetenv(env_unset[i]);
    for (size_t i = 0; env_set && env_set[i]; i++) {
        const char *eq = strchr(env_set[i], '=');
        if (!eq)
            _exit(127);
        char name[256];
        size_t n = (size_t)(eq - env_set[i]);
        if (n >= sizeof name)
            _exit(127);
        memcpy(name, env_set[i], n);
        name[n] = '\0';
        setenv(name, eq + 1, 1);
    }
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        _exit(127);
    execvp(argv[0], argv);
    dprintf(2, "e2e: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

int e2e_run(const char *cwd, char *const argv[], char *const env_set[],
            char *const env_unset[], int timeout_s, struct e2e_result *res)
{
    memset(res, 0, sizeof *res);
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(out_pipe[0]);
        close(out_pipe[1]);
        close(err_pipe[0]);
        close(err_pipe[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0)
        e2e_exec_child(cwd, argv, env_set, env_unset, out_pipe[1], err_pipe[1]);
    close(out_pipe[1]);
    close(err_pipe[1]);

    struct e2e_buf bufs[2] = {{0}};
    struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    double deadline = e2e_now() + timeout_s;
    while (open_fds > 0) {
        int wait_ms = (int)((deadline - e2e_now()) * 1000);
        if (wait_ms <= 0) {
            res->timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            break;
        }
        int n = poll(fds, 2, wait_ms);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2 && n > 0; i++) {
            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            char chunk[8192];
            ssize_t got = read(fds[i].fd, chunk, sizeof chunk);
            if (got > 0) {
                e2e_buf_add(&bufs[i], chunk, (size_t)got);
            } else if (got == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    while (waitpid(pid, &res->status, 0) < 0 && errno == EINTR)
        ;
    res->out = e2e_buf_take(&bufs[0], &res->out_len);
    res->err = e2e_buf_take(&bufs[1], &res->err_len);
    return 0;
}

void e2e_result_free(struct e2e_result *res)
{
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof *res);
}

const char *e2e_status_str(const struct e2e_result *res, char *buf, size_t size)
{
    if (res->timed_out)
        snprintf(buf, size, "timed out");
    else if (WIFEXITED(res->status))
        snprintf(buf, size, "exit %d", WEXITSTATUS(res->status));
    else if (WIFSIGNALED(res->status))
        snprintf(buf, size, "signal %d (%s)", WTERMSIG(res->status),
                 strsignal(WTERMSIG(res->status)));
    else
        snprintf(buf, size, "wait status 0x%x", (unsigned)res->status);
    return buf;
}

char *e2e_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct e2e_buf b = {0};
    char chunk[8192];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof chunk)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 || e2e_buf_add(&b, chunk, (size_t)got) != 0) {
            free(b.data);
            close(fd);
            return NULL;
        }
    }
    close(fd);
    size_t n = 0;
    char *data = e2e_buf_take(&b, &n);
    if (len)
        *len = n;
    return data;
}

int e2e_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

char *e2e_make_temp_dir(const char *parent, const char *tag)
{
    if (!parent)
        parent = getenv("TMPDIR");
    if (!parent || !*parent)
        parent = "/tmp";
    char *path;
    if (asprintf(&path, "%s/%s.XXXXXX", parent, tag) < 0)
        return NULL;
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

static int e2e_remove_entry(const char *path, const struct stat *st, int type,
                            struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (type == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT;
}

int e2e_remove_tree(const char *path)
{
    return nftw(path, e2e_remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

int e2e_count_files(const char *dir, const char *suffix)
{
    return e2e_each_file(dir, suffix, NULL, NULL);
}

int e2e_each_file(const char *dir, const char *suffix,
                  void (*fn)(const char *path, void *ctx), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int count = 0;
    size_t slen = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n <= slen || strcmp(e->d_name + n - slen, suffix) != 0)
            continue;
        count++;
        char *path;
        if (!fn)
            continue;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) {
            count = -1;
            break;
        }
        fn(path, ctx);
        free(path);
    }
    closedir(d);
    return count;
}

/* Appends a row to csv; takes ownership of cells. */
static int e2e_csv_add_row(struct e2e_csv *csv, char **cells, size_t n)
{
    char ***rows = realloc(csv->rows, (csv->n_rows + 1) * sizeof *rows);
    if (!rows)
        return -1;
    csv->rows = rows;
    size_t *lens = realloc(csv->row_len, (csv->n_rows + 1) * sizeof *lens);
    if (!lens)
        return -1;
    csv->row_len = lens;
    csv->rows[csv->n_rows] = cells;
    csv->row_len[csv->n_rows] = n;
    if (csv->n_rows == 0)
        csv->n_cols = n;
    csv->n_rows++;
    return 0;
}

/* Reads one cell at *pp (quoted or not) into a malloc'd string in *out and
 * moves *pp to the comma or line end after it. -1 on an unterminated quote
 * or no memory. */
static int e2e_csv_read_cell(const char **pp, char **out)
{
    const char *p = *pp;
    struct e2e_buf cell = {0};
    int ok = 1;
    if (*p == '"') {
        for (p++;; p++) {
            if (!*p) {
                ok = 0;
                break;
            }
            if (*p == '"' && p[1] != '"') {
                p++;
                break;
            }
            if (*p == '"')
                p++; /* "" stands for one quote */
            ok &= e2e_buf_add(&cell, p, 1) == 0;
        }
    }
    size_t plain = strcspn(p, ",\r\n");
    ok &= e2e_buf_add(&cell, p, plain) == 0;
    size_t len;
    *out = ok ? e2e_buf_take(&cell, &len) : NULL;
    free(cell.data);
    *pp = p + plain;
    return *out ? 0 : -1;
}

static void e2e_free_cells(char **cells, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(cells[i]);
    free(cells);
}

int e2e_csv_parse(const char *text, struct e2e_csv *csv)
{
    memset(csv, 0, sizeof *csv);
    const char *p = text;
    while (*p) {
        if (*p == '\n' || (*p == '\r' && p[1] == '\n')) { /* blank line: no row */
            p += *p == '\r' ? 2 : 1;
            continue;
        }
        char **cells = NULL;
        size_t n = 0;
        for (;;) {
            char *value;
            char **grown = realloc(cells, (n + 1) * sizeof *cells);
            if (!grown || e2e_csv_read_cell(&p, &value) != 0) {
                e2e_free_cells(grown ? grown : cells, n);
                e2e_csv_free(csv);
                return -1;
            }
            cells = grown;
            cells[n++] = value;
            if (*p != ',')
                break;
            p++;
        }
        if (*p == '\r')
            p++;
        if (*p == '\n')
            p++;
        if (e2e_csv_add_row(csv, cells, n) != 0) {
            e2e_free_cells(cells, n);
            e2e_csv_free(csv);
            return -1;
        }
    }
    return 0;
}

int e2e_csv_column(const struct e2e_csv *csv, const char *name)
{
    if (csv->n_rows == 0)
        return -1;
    for (size_t i = 0; i < csv->row_len[0]; i++)
        if (strcmp(csv->rows[0][i], name) == 0)
            return (int)i;
    return -1;
}

const char *e2e_csv_cell(const struct e2e_csv *csv, size_t row, int col)
{
    if (row >= csv->n_rows || col < 0 || (size_t)col >= csv->row_len[row])
        return NULL;
    return csv->rows[row][col];
}

const char *e2e_csv_named(const struct e2e_csv *csv, const char *name, const char *column)
{
    int n = e2e_csv_column(csv, "name"), c = e2e_csv_column(csv, column);
    for (size_t r = 1; n >= 0 && c >= 0 && r < csv->n_rows; r++) {
        const char *cell = e2e_csv_cell(csv, r, n);
        if (cell && !strcmp(cell, name))
            return e2e_csv_cell(csv, r, c);
    }
    return NULL;
}

size_t e2e_csv_edge(const struct e2e_csv *csv, const char *caller, const char *callee)
{
    int from = e2e_csv_column(csv, "caller"), to = e2e_csv_column(csv, "callee");
    for (size_t r = 1; from >= 0 && to >= 0 && r < csv->n_rows; r++) {
        const char *a = e2e_csv_cell(csv, r, from), *b = e2e_csv_cell(csv, r, to);
        if (a && b && !strcmp(a, caller) && !strcmp(b, callee))
            return r;
    }
    return 0;
}

void e2e_csv_free(struct e2e_csv *csv)
{
    for (size_t r = 0; r < csv->n_rows; r++) {
        for (size_t i = 0; i < csv->row_len[r]; i++)
            free(csv->rows[r][i]);
        free(csv->rows[r]);
    }
    free(csv->rows);
    free(csv->row_len);
    memset(csv, 0, sizeof *csv);
}

long long e2e_report_calls(const char *csv_text, const char *name)
{
    struct e2e_csv csv;
    if (e2e_csv_parse(csv_text, &csv) != 0)
        return -2;
    int n = e2e_csv_column(&csv, "name"), c = e2e_csv_column(&csv, "calls");
    long long calls = n >= 0 && c >= 0 ? -1 : -2;
    for (size_t r = 1; r < csv.n_rows && calls != -2; r++) {
        const char *cell = e2e_csv_cell(&csv, r, n), *count = e2e_csv_cell(&csv, r, c);
        if (cell && count && !strcmp(cell, name))
            calls = (calls < 0 ? 0 : calls) + atoll(count);
    }
    e2e_csv_free(&csv);
    return calls;
}

void e2e_adopt_keepers(void)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1);
}

int e2e_wait_keepers(int timeout_s)
{
    for (long i = 0; i < timeout_s * 100L; i++) {
        pid_t pid = waitpid(-1, NULL, WNOHANG);
        if (pid < 0 && errno == ECHILD)
            return 0;
        if (pid <= 0)
            usleep(10000);
    }
    return -1;
}
