/*
 * The writer: creates the process's .cprof file safely and writes into it
 * (the format is in cprof_format.h): the file's head (header, module map,
 * regions), the records handed to it, snapshots for cprof_flush, and the
 * keeper's way into the same file. The module map is kept in rt_modules.c;
 * the threads' records and the end record are encoded in rt_records.c.
 *
 * The file is created with O_EXCL|O_NOFOLLOW under the user's umask, named
 * <prog>.<pid>.cprof in the data directory, with .N inserted when the name
 * is taken. The directory is created and opened at start and every file in
 * it is reached relative to that descriptor, so a chdir or chroot later
 * does not move or lose it; the descriptor sits at a high number (programs
 * expecting low ones are not disturbed). Every write() holds whole records,
 * so threads appending at once never interleave inside one. If the program
 * closes or reuses our descriptors, the next use notices (device and inode
 * differ) and reopens them: the file by name in the directory, the
 * directory by its path.
 *
 * All of it is signal-safe except rt_writer_init(), which runs once at
 * start.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h> /* renameat */
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rt_internal.h"

static int rt_fd = -1;
/* The file's state, shared with the keeper (rt_keeper.c), which writes
 * into the same file when the process could not. */
static struct RT_SHARED_BLOCK rt_file_state {
    int open_state; /* 0 closed, 1 opening, 2 open, 3 failed */
    int snapshot;   /* cprof_flush's, see rt_base_fd */
    dev_t dev;
    ino_t ino;
    off_t head_size;       /* of the file's head, written at open */
    char name[300];        /* in the data directory */
    char path[4096 + 300]; /* for messages */
} rt_file;
static int rt_sink_fd = -1; /* the keeper's snapshot: every write goes there */
static int rt_dir_fd = -1;
static dev_t rt_dir_dev;
static ino_t rt_dir_ino;
static int rt_dir_min_fd = 768; /* below FD_SETSIZE, for select() users */
/* Snapshots (cprof_flush), rt_file.snapshot: 0 none yet; 1 the file was
 * written whole by a flush, and thread data written since (threads that
 * ended) goes to the base file <file>.base, which every later snapshot
 * copies in; 2 a snapshot is being written, to <file>.tmp (rt_fd). */
static int rt_base_fd = -1;

RT_NOINST static int rt_base_create(int copy);

RT_NOINST void rt_log(const char *msg, const char *arg)
{
    if (!rt_config.verbose)
        return;
    char line[4600] = "cprof: ";
    rt_strlcat(line, msg, sizeof line);
    if (arg) {
        rt_strlcat(line, " ", sizeof line);
        rt_strlcat(line, arg, sizeof line);
    }
    rt_strlcat(line, "\n", sizeof line);
    ssize_t r = write(2, line, strlen(line));
    (void)r;
}

/* ---- the file ------------------------------------------------------------ */

RT_NOINST static int rt_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

RT_NOINST static void rt_put_argv(struct mp_out *o)
{
    static char cmdline[8192];
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, cmdline, sizeof cmdline - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n < 0)
        n = 0;
    cmdline[n] = 0;
    uint32_t count = 0;
    for (ssize_t i = 0; i < n; i++)
        count += cmdline[i] == 0;
    if (n > 0 && cmdline[n - 1] != 0)
        count++;
    mp_array(o, count);
    for (ssize_t i = 0; i < n;) {
        size_t len = strnlen(cmdline + i, (size_t)(n - i));
        mp_str(o, cmdline + i, len);
        i += (ssize_t)len + 1;
    }
}

RT_NOINST static void rt_put_header(struct mp_out *o)
{
    static const char *const modes[] = {"summary", "trace", "count"};
    static const char *const clocks[] = {"tsc", "monotonic", "none"};
    int nkeys = 13 + (rt_fork_parent != 0) + (rt_config.nwarnings > 0) +
                (rt_config.cpu != 0) + 3 * rt_probe_cost.measured;
    mp_map(o, (uint32_t)nkeys);
    mp_cstr(o, "magic");
    mp_cstr(o, CPROF_MAGIC);
    mp_cstr(o, "version");
    mp_array(o, 2);
    mp_uint(o, CPROF_FORMAT_MAJOR);
    mp_uint(o, CPROF_FORMAT_MINOR);
    mp_cstr(o, "mode");
    mp_cstr(o, modes[rt_config.mode]);
    mp_cstr(o, "clock");
    mp_cstr(o, clocks[rt_config.clock]);
    mp_cstr(o, "ticks_per_sec");
    mp_f64(o, rt_ticks_per_sec_estimate());
    mp_cstr(o, "start_ticks");
    mp_uint(o, rt_start_ticks);
    mp_cstr(o, "start_mono_ns");
    mp_uint(o, rt_start_mono);
    mp_cstr(o, "start_unix_ns");
    mp_uint(o, rt_start_unix);
    mp_cstr(o, "pid");
    mp_uint(o, (uint64_t)rt_pid);
    mp_cstr(o, "ppid");
    mp_uint(o, (uint64_t)rt_process_ppid());
    mp_cstr(o, "exe");
    mp_cstr(o, rt_config.exe);
    mp_cstr(o, "argv");
    rt_put_argv(o);
    mp_cstr(o, "hist_sub_bits");
    mp_uint(o, RT_HIST_SUB_BITS);
    if (rt_fork_parent) {
        mp_cstr(o, "fork_parent");
        mp_uint(o, (uint64_t)rt_fork_parent);
    }
    if (rt_config.cpu) {
        mp_cstr(o, "cpu_time");
        mp_cstr(o, rt_cpu_method());
    }
    if (rt_probe_cost.measured) {
        mp_cstr(o, "probe_call_ns");
        mp_f64(o, rt_probe_cost.call_ns);
        mp_cstr(o, "probe_call_inner_ns");
        mp_f64(o, rt_probe_cost.inner_ns);
        mp_cstr(o, "probe_line_ns");
        mp_f64(o, rt_probe_cost.line_ns);
    }
    if (rt_config.nwarnings > 0) {
        mp_cstr(o, "config_warnings");
        mp_array(o, (uint32_t)rt_config.nwarnings);
        for (int i = 0; i < rt_config.nwarnings; i++)
            mp_cstr(o, rt_config.warnings[i]);
    }
}

/* Opens the data directory by its path at a high descriptor number. */
RT_NOINST static int rt_dir_open(void)
{
    int fd = open(rt_config.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return -1;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, rt_dir_min_fd);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -1;
    }
    rt_dir_fd = fd;
    rt_dir_dev = st.st_dev;
    rt_dir_ino = st.st_ino;
    return fd;
}

/* Creates (if need be) and opens the data directory, at start: before the
 * program can chdir, chroot or run out of descriptors. Not signal-safe. */
RT_NOINST void rt_writer_init(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < 1024)
        rt_dir_min_fd = (int)lim.rlim_cur * 3 / 4;
    if (rt_dir_min_fd < 3)
        rt_dir_min_fd = 3;
    mkdir(rt_config.dir, 0777);
    rt_dir_open();
    rt_keeper_share(&rt_file, sizeof rt_file);
}

/* The data directory's descriptor, reopened by path if the program closed
 * or reused ours (F_GETFD fails, or it names another file); -1 if that
 * fails too. Signal-safe. */
RT_NOINST static int rt_dir(void)
{
    struct stat st;
    if (rt_dir_fd >= 0 && fcntl(rt_dir_fd, F_GETFD) >= 0 && fstat(rt_dir_fd, &st) == 0 &&
        st.st_dev == rt_dir_dev && st.st_ino == rt_dir_ino)
        return rt_dir_fd;
    rt_dir_fd = -1; /* the number is the program's now: not ours to close */
    mkdir(rt_config.dir, 0777);
    return rt_dir_open();
}

/* Opens the data file's name plus suffix ("", ".tmp" or ".base") in the
 * data directory. Signal-safe. */
RT_NOINST static int rt_open_in_dir(const char *suffix, int flags)
{
    char name[sizeof rt_file.name + 8];
    rt_strlcpy(name, rt_file.name, sizeof name);
    rt_strlcat(name, suffix, sizeof name);
    int dir = rt_dir();
    if (dir < 0) {
        errno = ENOENT;
        return -1;
    }
    return openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC, 0666);
}

RT_NOINST static int rt_create(void)
{
    char pid[24];
    rt_utoa((uint64_t)rt_pid, pid);
    for (unsigned n = 0; n < 1000; n++) {
        rt_strlcpy(rt_file.name, rt_config.prog, sizeof rt_file.name);
        rt_strlcat(rt_file.name, ".", sizeof rt_file.name);
        rt_strlcat(rt_file.name, pid, sizeof rt_file.name);
        if (n) {
            char suffix[24];
            rt_strlcat(rt_file.name, ".", sizeof rt_file.name);
            rt_strlcat(rt_file.name, rt_utoa(n, suffix), sizeof rt_file.name);
        }
        rt_strlcat(rt_file.name, CPROF_FILE_SUFFIX, sizeof rt_file.name);
        rt_strlcpy(rt_file.path, rt_config.dir, sizeof rt_file.path);
        rt_strlcat(rt_file.path, "/", sizeof rt_file.path);
        rt_strlcat(rt_file.path, rt_file.name, sizeof rt_file.path);
        int fd = rt_open_in_dir("", O_WRONLY | O_CREAT | O_EXCL | O_APPEND);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            break;
    }
    rt_log("cannot create a data file in", rt_config.dir);
    return -1;
}

static uint8_t rt_head[64 * 1024];
static int rt_head_fd;

RT_NOINST static void rt_head_put(struct mp_out *o)
{
    if (o->pos - rt_head < 48 * 1024)
        return;
    rt_write_all(rt_head_fd, rt_head, (size_t)(o->pos - rt_head));
    o->pos = rt_head;
}

/* The header, the start's clock record, the module map and the regions
 * defined so far. One writer at a time. */
RT_NOINST static void rt_write_head(int fd)
{
    struct mp_out o = {rt_head, rt_head + sizeof rt_head, 0};
    rt_put_header(&o);
    mp_array(&o, 3);
    mp_uint(&o, CPROF_REC_CLOCK);
    mp_uint(&o, rt_start_ticks);
    mp_uint(&o, rt_start_mono);
    rt_put_modules(&o);
    rt_head_fd = fd;
    rt_regions_put(&o, rt_head_put);
    rt_write_all(fd, rt_head, (size_t)(o.pos - rt_head));
}

/* Opens the file and writes the header and module map, once per process;
 * concurrent callers wait for the first. */
RT_NOINST int rt_writer_open(void)
{
    int state = __atomic_load_n(&rt_file.open_state, __ATOMIC_ACQUIRE);
    if (state == 2)
        return 0;
    if (state == 3)
        return -1;
    int expected = 0;
    if (!__atomic_compare_exchange_n(&rt_file.open_state, &expected, 1, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        for (int spins = 0; spins < 1000000; spins++) {
            state = __atomic_load_n(&rt_file.open_state, __ATOMIC_ACQUIRE);
            if (state >= 2)
                return state == 2 ? 0 : -1;
            sched_yield();
        }
        return -1;
    }
    int fd = rt_create();
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        __atomic_store_n(&rt_file.open_state, 3, __ATOMIC_RELEASE);
        return -1;
    }
    rt_fd = fd;
    rt_file.dev = st.st_dev;
    rt_file.ino = st.st_ino;
    rt_write_head(fd);
    rt_file.head_size = lseek(fd, 0, SEEK_END);
    __atomic_store_n(&rt_file.open_state, 2, __ATOMIC_RELEASE);
    rt_log("writing", rt_file.path);
    return 0;
}

/* Our descriptor, or a fresh one if the program closed or reused it. */
RT_NOINST static int rt_checked_fd(void)
{
    struct stat st;
    if (rt_fd >= 0 && fstat(rt_fd, &st) == 0 && st.st_dev == rt_file.dev &&
        st.st_ino == rt_file.ino)
        return rt_fd;
    int fd = rt_open_in_dir("", O_WRONLY | O_APPEND);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || st.st_dev != rt_file.dev || st.st_ino != rt_file.ino) {
        close(fd);
        return -1;
    }
    rt_fd = fd;
    return fd;
}

RT_NOINST int rt_writer_write(const void *buf, size_t len)
{
    if (rt_sink_fd >= 0)
        return rt_write_all(rt_sink_fd, buf, len);
    if (rt_writer_open() != 0)
        return -1;
    if (rt_file.snapshot == 1) {
        if (rt_base_fd < 0 && rt_base_create(0) != 0)
            return -1;
        return rt_write_all(rt_base_fd, buf, len);
    }
    int fd = rt_checked_fd();
    return fd < 0 ? -1 : rt_write_all(fd, buf, len);
}

RT_NOINST int rt_writer_write2(const void *a, size_t alen, const void *b, size_t blen)
{
    if (rt_sink_fd < 0 && rt_writer_open() != 0)
        return -1;
    int fd = rt_sink_fd >= 0         ? rt_sink_fd
             : rt_file.snapshot == 1 ? rt_base_fd
                                     : rt_checked_fd();
    if (rt_sink_fd < 0 && rt_file.snapshot == 1 && fd < 0 && rt_base_create(0) == 0)
        fd = rt_base_fd;
    if (fd < 0)
        return -1;
    /* one writev: with O_APPEND the two parts land together, so another
     * thread's records never come between them */
    struct iovec iov[2] = {{(void *)a, alen}, {(void *)b, blen}};
    int i = 0;
    while (i < 2) {
        ssize_t n = writev(fd, iov + i, 2 - i);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        size_t left = (size_t)n;
        for (; i < 2 && left >= iov[i].iov_len; i++)
            left -= iov[i].iov_len;
        if (i < 2) {
            iov[i].iov_base = (char *)iov[i].iov_base + left;
            iov[i].iov_len -= left;
        }
    }
    return 0;
}

RT_NOINST off_t rt_writer_offset(void)
{
    if (rt_writer_open() != 0)
        return -1;
    int fd = rt_checked_fd();
    return fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
}

RT_NOINST void rt_writer_truncate(off_t at)
{
    int fd = rt_checked_fd();
    if (fd >= 0 && at >= 0) {
        int r = ftruncate(fd, at);
        (void)r;
    }
}

/* Appends [from, end of file) of the data file <file><suffix> to fd. */
RT_NOINST static int rt_copy_from(const char *suffix, off_t from, int fd)
{
    int in = rt_open_in_dir(suffix, O_RDONLY);
    if (in < 0)
        return -1;
    static uint8_t buf[64 * 1024];
    int rc = 0;
    for (off_t at = from;;) {
        ssize_t n = pread(in, buf, sizeof buf, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = -1;
        if (n <= 0)
            break;
        if (rt_write_all(fd, buf, (size_t)n) != 0) {
            rc = -1;
            break;
        }
        at += n;
    }
    close(in);
    return rc;
}

/* The base file. At the first snapshot (copy) the thread data the file
 * holds past its head (threads that ended) moves to it; after a final
 * write that a failed exec took back, it starts empty. */
RT_NOINST static int rt_base_create(int copy)
{
    int fd = rt_open_in_dir(".base", O_RDWR | O_CREAT | O_TRUNC | O_APPEND);
    if (fd < 0 || (copy && rt_copy_from("", rt_file.head_size, fd) != 0)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    rt_base_fd = fd;
    return 0;
}

RT_NOINST int rt_writer_snapshot_begin(void)
{
    if (rt_writer_open() != 0)
        return -1; /* also reserves the file's name */
    if (rt_base_fd < 0 && rt_base_create(rt_file.snapshot == 0) != 0)
        return -1;
    int fd = rt_open_in_dir(".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (rt_fd >= 0)
        close(rt_fd);
    rt_fd = fd;
    rt_file.dev = st.st_dev;
    rt_file.ino = st.st_ino;
    rt_file.snapshot = 2;
    rt_write_head(fd);
    rt_copy_from(".base", 0, fd);
    return 0;
}

RT_NOINST void rt_writer_snapshot_commit(int last)
{
    char tmp[sizeof rt_file.name + 8], base[sizeof rt_file.name + 8];
    rt_strlcpy(tmp, rt_file.name, sizeof tmp);
    rt_strlcat(tmp, ".tmp", sizeof tmp);
    rt_strlcpy(base, rt_file.name, sizeof base);
    rt_strlcat(base, ".base", sizeof base);
    int dir = rt_dir();
    if (dir < 0 || renameat(dir, tmp, dir, rt_file.name) != 0)
        rt_log("cannot replace", rt_file.path);
    rt_file.snapshot = 1;
    if (last && rt_base_fd >= 0) {
        close(rt_base_fd);
        rt_base_fd = -1;
        if (dir >= 0)
            unlinkat(dir, base, 0);
    }
}

RT_NOINST int rt_writer_snapshotting(void)
{
    return rt_file.snapshot != 0;
}

RT_NOINST void rt_writer_after_fork(void)
{
    rt_file.snapshot = 0;
    if (rt_base_fd >= 0)
        close(rt_base_fd);
    rt_base_fd = -1;
    if (rt_fd >= 0)
        close(rt_fd);
    rt_fd = -1;
    rt_file.open_state = 0;
}

/* ---- the keeper (rt_keeper.c) --------------------------------------------- */

RT_NOINST int rt_writer_dir_fd(void)
{
    return rt_dir();
}

RT_NOINST void rt_writer_redirect(int fd)
{
    rt_sink_fd = fd;
}

/* The head, then the records of the threads that ended (in the file past
 * its head, or in the base file after a flush). The caller holds the
 * writing lock, so no thread's end is being written meanwhile. */
RT_NOINST int rt_writer_live_begin(int fd)
{
    rt_write_head(fd);
    if (__atomic_load_n(&rt_file.open_state, __ATOMIC_ACQUIRE) != 2)
        return 0;
    if (rt_file.snapshot)
        return rt_copy_from(".base", 0, fd) == 0 || errno == ENOENT ? 0 : -1;
    return rt_copy_from("", rt_file.head_size, fd);
}

/* The keeper's descriptors are not the program's: the file and the base
 * file are opened again by name when needed. */
RT_NOINST void rt_writer_adopt(void)
{
    rt_fd = -1;
    rt_base_fd = -1;
    if (rt_file.snapshot == 1)
        rt_base_fd = rt_open_in_dir(".base", O_RDWR | O_APPEND);
}
