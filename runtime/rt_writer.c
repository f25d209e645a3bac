/*
 * The writer: creates the process's .cprof file safely, and encodes the
 * header, module map, per-thread trees and end record into it (the format
 * is in cprof_format.h).
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
 * All of it is signal-safe except rt_modules_refresh(), which takes the
 * dynamic loader's lock and is never called from a signal handler.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <sched.h>
#include <stdio.h> /* renameat */
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rt_internal.h"

#define RT_MAX_MODULES 512
#define RT_MODULE_PATHS (64 * 1024)
#define RT_OUT_SIZE (1u << 20)
#define RT_OUT_FLUSH (RT_OUT_SIZE - 64 * 1024) /* any one record fits after */

struct rt_module {
    uint64_t bias, lo, hi;
    const char *path;
    char build_id[41];
};

static struct rt_module rt_modules[RT_MAX_MODULES];
static int rt_nmodules;
static char rt_module_paths[RT_MODULE_PATHS];
static size_t rt_module_paths_used;

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

/* ---- the module map ----------------------------------------------------- */

RT_NOINST static void rt_hex(char *out, const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
}

RT_NOINST static void rt_build_id(struct dl_phdr_info *info, char *out)
{
    out[0] = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            size_t name = (nh->n_namesz + 3u) & ~3u;
            size_t desc = (nh->n_descsz + 3u) & ~3u;
            const uint8_t *d = p + sizeof *nh + name;
            if (d + nh->n_descsz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(p + sizeof *nh, "GNU", 4) == 0 && nh->n_descsz <= 20) {
                rt_hex(out, d, nh->n_descsz);
                return;
            }
            p = d + desc;
        }
    }
}

/* The absolute path of the file mapped at addr, from /proc/self/maps, into
 * out (of size len). For objects the loader found through a relative path
 * (LD_LIBRARY_PATH=. is common in test suites): dlpi_name is then relative
 * to a directory the program may since have left. Returns 0 or -1. */
RT_NOINST static int rt_maps_path(uint64_t addr, char *out, size_t len)
{
    static char buf[8192];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t have = 0;
    int found = -1;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
            *nl = 0;
            unsigned long long lo = 0, hi = 0;
            const char *c = line;
            while (*c && *c != '-')
                lo = lo * 16 + (uint64_t)(*c <= '9' ? *c - '0' : (*c | 32) - 'a' + 10),
                c++;
            for (c += *c == '-'; *c && *c != ' '; c++)
                hi = hi * 16 + (uint64_t)(*c <= '9' ? *c - '0' : (*c | 32) - 'a' + 10);
            const char *path = strchr(line, '/');
            if (addr >= lo && addr < hi && path && strlen(path) < len) {
                memcpy(out, path, strlen(path) + 1);
                found = 0;
                break;
            }
            line = nl + 1;
        }
        if (found == 0)
            break;
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
        if (have == sizeof buf - 1)
            have = 0; /* a line longer than the buffer: skip it */
    }
    close(fd);
    return found;
}

RT_NOINST static int rt_module_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    int *first = arg;
    const char *path = info->dlpi_name;
    if (*first) {
        path = rt_config.exe;
        *first = 0;
    }
    if (!path || !path[0] || rt_nmodules >= RT_MAX_MODULES)
        return 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uint64_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo)
            lo = a;
        if (a + ph->p_memsz > hi)
            hi = a + ph->p_memsz;
    }
    if (lo >= hi)
        return 0;
    static char resolved[4096];
    if (path[0] != '/') {
        if (rt_maps_path(lo, resolved, sizeof resolved) != 0)
            return 0;
        path = resolved;
    }
    size_t len = strlen(path) + 1;
    if (rt_module_paths_used + len > RT_MODULE_PATHS)
        return 0;
    struct rt_module *m = &rt_modules[rt_nmodules++];
    m->bias = info->dlpi_addr;
    m->lo = lo;
    m->hi = hi;
    memcpy(rt_module_paths + rt_module_paths_used, path, len);
    m->path = rt_module_paths + rt_module_paths_used;
    rt_module_paths_used += len;
    rt_build_id(info, m->build_id);
    return 0;
}

/* Re-reads the loaded modules (dlopen may have added some). Not signal-safe. */
RT_NOINST void rt_modules_refresh(void)
{
    rt_nmodules = 0;
    rt_module_paths_used = 0;
    int first = 1;
    dl_iterate_phdr(rt_module_cb, &first);
}

RT_NOINST static void rt_put_modules(struct mp_out *o)
{
    for (int i = 0; i < rt_nmodules; i++) {
        const struct rt_module *m = &rt_modules[i];
        mp_array(o, 6);
        mp_uint(o, CPROF_REC_MODULE);
        mp_uint(o, m->bias);
        mp_uint(o, m->lo);
        mp_uint(o, m->hi);
        mp_cstr(o, m->path);
        mp_cstr(o, m->build_id);
    }
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

/* ---- records --------------------------------------------------------------- */

struct rt_out {
    uint8_t *buf;
    struct mp_out o;
};

RT_NOINST static void rt_out_begin(struct rt_out *out, uint8_t *buf)
{
    out->buf = buf;
    out->o.pos = buf;
    out->o.end = buf + RT_OUT_SIZE;
    out->o.overflow = 0;
}

/* Writes what is buffered once it passes the threshold, or when forced.
 * Called between records only. */
RT_NOINST static void rt_out_flush(struct rt_out *out, int force)
{
    size_t len = (size_t)(out->o.pos - out->buf);
    if (!len || (!force && len < RT_OUT_FLUSH))
        return;
    rt_writer_write(out->buf, len);
    out->o.pos = out->buf;
}

/* Pending histogram updates of one thread, sorted by node id, so that the
 * tree can be written with them merged in and without applying them (the
 * thread may be running). */
struct rt_pending_view {
    struct rt_pending items[RT_PENDING];
    uint32_t count, next;
};

RT_NOINST static void rt_pending_view(struct rt_pending_view *v, struct rt_thread *t)
{
    uint32_t n = __atomic_load_n(&t->npending, __ATOMIC_ACQUIRE);
    v->count = n < RT_PENDING ? n : RT_PENDING;
    v->next = 0;
    for (uint32_t i = 0; i < v->count; i++)
        v->items[i] = t->pending[i];
    for (uint32_t i = 1; i < v->count; i++) { /* insertion sort: 256 at most */
        struct rt_pending x = v->items[i];
        uint32_t j = i;
        for (; j > 0 && v->items[j - 1].node->id > x.node->id; j--)
            v->items[j] = v->items[j - 1];
        v->items[j] = x;
    }
}

/* CPU time of node n's calls in ns (CPROF_CPU=1): wall less off-CPU
 * time, open calls included, at ns_per_tick. */
RT_NOINST static uint64_t rt_node_cpu_ns(const struct rt_node *n, double ns_per_tick)
{
    double wall = (double)(n->incl + n->open_extra) * ns_per_tick;
    double off = (double)(n->off_cpu + n->open_off_cpu);
    return wall > off ? (uint64_t)(wall - off) : 0;
}

RT_NOINST static void rt_put_node(struct mp_out *o, struct rt_thread *t,
                                  struct rt_node *n, struct rt_pending_view *pending,
                                  double ns_per_tick)
{
    uint16_t buckets[RT_PENDING]; /* n's pending updates, sorted */
    uint32_t npending = 0;
    while (pending->next < pending->count &&
           pending->items[pending->next].node->id < n->id)
        pending->next++;
    for (; pending->next < pending->count && pending->items[pending->next].node == n;
         pending->next++) {
        uint16_t b = (uint16_t)rt_hist_bucket(pending->items[pending->next].ticks);
        uint32_t j = npending++;
        for (; j > 0 && buckets[j - 1] > b; j--) /* insertion sort: 256 at most */
            buckets[j] = buckets[j - 1];
        buckets[j] = b;
    }
    int done = n->max != 0 || n->min != UINT64_MAX;
    mp_array(o, rt_config.cpu ? 16 : 15);
    mp_uint(o, CPROF_REC_NODE);
    mp_uint(o, t->serial);
    mp_uint(o, n->id);
    mp_uint(o, n->parent);
    mp_uint(o, n->fn);
    mp_uint(o, n->calls);
    mp_uint(o, n->incl + n->open_extra);
    mp_uint(o, done ? n->min : 0);
    mp_uint(o, done ? n->max : 0);
    rt_hist_put(o, n, buckets, npending);
    mp_uint(o, n->alloc_calls);
    mp_uint(o, n->alloc_bytes);
    mp_uint(o, n->free_calls);
    mp_uint(o, n->freed_bytes);
    mp_uint(o, n->peak_out);
    if (rt_config.cpu)
        mp_uint(o, rt_node_cpu_ns(n, ns_per_tick));
}

RT_NOINST static void rt_put_stat(struct mp_out *o, const char *key, uint64_t v)
{
    mp_cstr(o, key);
    mp_uint(o, v);
}

/* [6, thread, stats]. enters and dropped_nodes (summary and count modes)
 * are summed over the tree by the caller; a trace counts its own events. */
RT_NOINST static void rt_put_thread_end(struct mp_out *o, struct rt_thread *t,
                                        uint32_t open_frames, uint64_t enters,
                                        uint64_t dropped_nodes)
{
    const struct rt_thread_stats *s = &t->stats;
    int tree = rt_config.mode != RT_MODE_TRACE;
    /* trace mode: enters holds the calls of the events left unwritten at
     * the end because the trace had stopped */
    uint64_t stopped = tree ? 0 : s->trace_stopped_calls + enters;
    mp_array(o, 3);
    mp_uint(o, CPROF_REC_THREAD_END);
    mp_uint(o, t->serial);
    mp_map(o, (tree ? 9u : 8u) + (s->lines_dropped != 0) + (s->hist_dropped != 0) +
                  (stopped != 0) + (s->folded_threads != 0));
    if (tree)
        rt_put_stat(o, CPROF_STAT_ENTERS, enters);
    rt_put_stat(o, CPROF_STAT_DROPPED_REENTRANT, s->dropped_reentrant);
    rt_put_stat(o, CPROF_STAT_DROPPED_DEPTH, s->dropped_depth);
    rt_put_stat(o, CPROF_STAT_DROPPED_NODES, dropped_nodes);
    rt_put_stat(o, CPROF_STAT_REPAIRED_LONGJMP, s->repaired_longjmp);
    rt_put_stat(o, CPROF_STAT_CLOSED_AT_END, open_frames + s->folded_closed);
    rt_put_stat(o, CPROF_STAT_UNMATCHED_EXITS, s->unmatched_exits);
    rt_put_stat(o, CPROF_STAT_TRACE_BYTES, s->trace_bytes);
    rt_put_stat(o, CPROF_STAT_LINES_UNMATCHED, s->lines_unmatched);
    if (s->lines_dropped)
        rt_put_stat(o, CPROF_STAT_LINES_DROPPED, s->lines_dropped);
    if (s->hist_dropped)
        rt_put_stat(o, CPROF_STAT_HIST_DROPPED, s->hist_dropped);
    if (stopped)
        rt_put_stat(o, CPROF_STAT_TRACE_STOPPED_CALLS, stopped);
    if (s->folded_threads)
        rt_put_stat(o, CPROF_STAT_FOLDED_THREADS, s->folded_threads);
}

/* The thread's heap record [10, thread, stats] and its frees by owner
 * [11, thread, owner_thread, owner, free_calls, freed_bytes], when the
 * process's heap is tracked. The thread may be running: counts are read
 * as they are. */
RT_NOINST static void rt_put_heap(struct rt_out *out, struct rt_thread *t)
{
    if (!rt_heap_active())
        return;
    struct mp_out *o = &out->o;
    /* frees of blocks of threads folded since (rt_fold.c): summed by
     * their owners in the folded thread, or owners lost */
    const struct rt_freed_table *ft = __atomic_load_n(&t->freed, __ATOMIC_ACQUIRE);
    struct rt_fold_freed fold = {0};
    struct rt_freed *folded = rt_fold_freed(ft, &fold);
    uint64_t gone_calls = fold.gone_calls, gone_bytes = fold.gone_bytes;
    int lost = t->freed_lost_calls + gone_calls != 0;
    mp_array(o, 3);
    mp_uint(o, CPROF_REC_HEAP);
    mp_uint(o, t->serial);
    mp_map(o, 8u + (lost ? 2u : 0u));
    rt_put_stat(o, "alloc_calls", t->heap_all.alloc_calls);
    rt_put_stat(o, "alloc_bytes", t->heap_all.alloc_bytes);
    rt_put_stat(o, "free_calls", t->heap_all.free_calls);
    rt_put_stat(o, "freed_bytes", t->heap_all.freed_bytes);
    rt_put_stat(o, "outside_alloc_calls", t->heap_outside.alloc_calls);
    rt_put_stat(o, "outside_alloc_bytes", t->heap_outside.alloc_bytes);
    rt_put_stat(o, "outside_free_calls", t->heap_outside.free_calls);
    rt_put_stat(o, "outside_freed_bytes", t->heap_outside.freed_bytes);
    if (lost) {
        rt_put_stat(o, "owners_lost_calls", t->freed_lost_calls + gone_calls);
        rt_put_stat(o, "owners_lost_bytes", t->freed_lost_bytes + gone_bytes);
    }
    rt_out_flush(out, 0);
    for (uint32_t i = 0; ft && i <= ft->mask + fold.count; i++) {
        const struct rt_freed *s =
            i <= ft->mask ? &ft->slots[i] : &folded[i - ft->mask - 1];
        uint64_t calls = __atomic_load_n(&s->calls, __ATOMIC_ACQUIRE), key = s->key;
        int how = i <= ft->mask && calls ? rt_fold_owner(&key) : 0;
        if (!calls || how < 0 || (how > 0 && folded))
            continue;
        mp_array(o, 6);
        mp_uint(o, CPROF_REC_FREED);
        mp_uint(o, t->serial);
        mp_uint(o, key >> 32);
        mp_uint(o, key & 0xffffffffu);
        mp_uint(o, calls);
        mp_uint(o, s->bytes);
        rt_out_flush(out, 0);
    }
    rt_unmap(folded, fold.size);
}

/* [8, thread, fn, func, file, line, hits, time_ticks, self_ticks]. */
RT_NOINST static void rt_put_line(struct mp_out *o, struct rt_thread *t,
                                  const struct rt_line *l)
{
    struct rt_line_names n;
    rt_line_describe(l, &n);
    int timed = rt_config.mode != RT_MODE_COUNT;
    mp_array(o, 9);
    mp_uint(o, CPROF_REC_LINE);
    mp_uint(o, t->serial);
    mp_uint(o, n.fn);
    mp_str(o, n.func, n.func_len);
    mp_str(o, n.file, n.file_len);
    mp_uint(o, n.line);
    mp_uint(o, l->hits);
    mp_uint(o, timed ? l->time + l->open_time : 0);
    mp_uint(o, timed ? l->self + l->open_self : 0);
}

/* The thread's line records, with the lines still open closed at now in
 * what is written only. Sites with nothing to show (a forked child's
 * inherited table) are left out. */
RT_NOINST static void rt_put_lines(struct rt_out *out, struct rt_thread *t, uint64_t now)
{
    struct rt_line *lines = __atomic_load_n(&t->lines, __ATOMIC_ACQUIRE);
    if (!lines)
        return;
    rt_lines_open_extra(t, now);
    for (uint32_t i = 0; i <= RT_LINE_SLOTS; i++) {
        const struct rt_line *l = &lines[i];
        if (!__atomic_load_n(&l->site, __ATOMIC_ACQUIRE))
            continue;
        if (!l->hits && !l->time && !l->open_time)
            continue;
        rt_put_line(&out->o, t, l);
        rt_out_flush(out, 0);
    }
}

RT_NOINST void rt_writer_put_thread(struct mp_out *o, struct rt_thread *t)
{
    /* by pid: the keeper writes it too (names are gone once the process is) */
    char path[80] = "/proc/", num[24], name[32] = "[folded threads]";
    rt_strlcat(path, rt_utoa((uint64_t)rt_pid, num), sizeof path);
    rt_strlcat(path, "/task/", sizeof path);
    rt_strlcat(path, rt_utoa((uint64_t)t->tid, num), sizeof path);
    rt_strlcat(path, "/comm", sizeof path);
    int folded = t->serial == CPROF_THREAD_FOLDED;
    int fd = folded ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = folded    ? (ssize_t)strlen(name)
                : fd >= 0 ? read(fd, name, sizeof name - 1)
                          : 0;
    if (fd >= 0)
        close(fd);
    while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == 0))
        n--;
    mp_array(o, 4);
    mp_uint(o, CPROF_REC_THREAD);
    mp_uint(o, t->serial);
    mp_uint(o, (uint64_t)t->tid);
    mp_str(o, name, n > 0 ? (size_t)n : 0);
}

/* Summary and count modes: the thread's tree. Calls still open are closed
 * at time now in what is written only (their node's inclusive time gains
 * now - entry), so writing never changes the thread's state. Nodes whose
 * whole subtree recorded nothing (a forked child's inherited shape) are
 * left out. */
RT_NOINST static void rt_write_tree(struct rt_thread *t, uint64_t now)
{
    uint8_t *buf = rt_map(RT_OUT_SIZE);
    if (!buf)
        return;
    struct rt_out out;
    rt_out_begin(&out, buf);
    rt_writer_put_thread(&out.o, t);

    uint32_t nnodes = __atomic_load_n(&t->nnodes, __ATOMIC_ACQUIRE);
    uint32_t depth = t->depth;
    for (uint32_t id = 1; id < nnodes; id++) {
        struct rt_node *n = rt_tree_node(t, id);
        n->keep = 0;
        n->open_extra = 0;
        n->open_off_cpu = 0;
        n->peak_out = n->peak;
    }
    uint64_t off_cpu = rt_config.cpu && depth ? rt_cpu_off_now(t) : 0;
    if (rt_config.mode == RT_MODE_SUMMARY) {
        for (uint32_t i = 0; i < depth; i++) {
            const struct rt_frame *f = &t->stack[i];
            /* a call folded into its caller's node is timed by the caller */
            if (f->node && now > f->ts && !(i > 0 && t->stack[i - 1].node == f->node)) {
                f->node->open_extra += now - f->ts;
                if (rt_config.cpu && off_cpu > t->cpu_stack[i])
                    f->node->open_off_cpu += off_cpu - t->cpu_stack[i];
            }
        }
    }
    for (uint32_t id = nnodes; id-- > 1;) {
        struct rt_node *n = rt_tree_node(t, id);
        if (n->calls || n->incl || n->open_extra || n->keep || n->alloc_calls ||
            n->free_calls) {
            n->keep = 1;
            if (n->parent)
                rt_tree_node(t, n->parent)->keep = 1;
        }
        /* a call's peak covers its callees' (parents have smaller ids) */
        if (n->parent) {
            struct rt_node *up = rt_tree_node(t, n->parent);
            if (n->peak_out > up->peak_out)
                up->peak_out = n->peak_out;
        }
    }
    double ns_per_tick = rt_config.cpu ? 1e9 / rt_ticks_per_sec() : 0;
    static struct rt_pending_view pending; /* one writer at a time per thread */
    rt_pending_view(&pending, t);
    /* calls that found no node at all (no memory) were counted on the root */
    uint64_t enters = t->root->calls, dropped_nodes = t->root->calls;
    for (uint32_t id = 1; id < nnodes; id++) {
        struct rt_node *n = rt_tree_node(t, id);
        if (!n->keep)
            continue;
        enters += n->calls;
        if (n->fn == RT_FN_NODE_LIMIT)
            dropped_nodes += n->calls;
        rt_put_node(&out.o, t, n, &pending, ns_per_tick);
        rt_out_flush(&out, 0);
    }
    rt_put_lines(&out, t, now);
    rt_put_heap(&out, t);
    rt_put_thread_end(&out.o, t, rt_frames_recorded(t, depth), enters, dropped_nodes);
    rt_out_flush(&out, 1);
    rt_unmap(buf, RT_OUT_SIZE);
}

/* Trace mode: what of the thread's trace is not in the file yet (a copy:
 * another thread may be appending to it right now), with the open frames
 * closed at time now, then its line records, heap record and statistics.
 * The thread's own buffer is left as it is. */
RT_NOINST static void rt_write_trace(struct rt_thread *t, uint64_t now)
{
    if (!t->tbuf || !__atomic_load_n(&t->tpos, __ATOMIC_ACQUIRE))
        return;
    size_t size = rt_trace_copy_size(t);
    uint8_t *copy = rt_map(size);
    if (!copy)
        return;
    /* the owner may be writing its chunk (a process ending with threads
     * running): a short wait, then on regardless, as the end must */
    int locked = rt_trace_lock(t, 2000);
    struct rt_trace_copy c = {.buf = copy};
    rt_trace_copy(t, &c);
    if (locked)
        rt_trace_unlock(t);
    struct mp_out *o = &c.o;
    uint32_t depth = rt_frames_recorded(t, t->depth);
    uint64_t stopped = 0; /* calls of events past CPROF_TRACE_MAX */
    if ((c.tokens || depth) &&
        !rt_trace_reserve((size_t)(o->pos - copy) - c.head + 16, now)) {
        /* the trace stopped (the events since this thread's last chunk
         * written may be gone): its frames stay open where it ends */
        stopped = rt_trace_count_enters(c.count_at + 5, o->pos);
        o->pos = copy + c.head;
        depth = 0;
    } else if (depth) {
        uint64_t delta = now > c.last_ts ? now - c.last_ts : 0;
        mp_uint(o, (delta << CPROF_EV_KIND_BITS) | CPROF_EV_EXT);
        mp_uint(o, CPROF_EXT_UNWIND);
        mp_uint(o, CPROF_UNWIND_END);
        mp_uint(o, depth);
        mp_patch_array32(c.count_at, c.tokens + 4);
    }
    uint8_t *buf = rt_map(RT_OUT_SIZE);
    if (buf) {
        rt_writer_write(copy, (size_t)(o->pos - copy));
        struct rt_out out;
        rt_out_begin(&out, buf);
        rt_put_lines(&out, t, now);
        rt_put_heap(&out, t);
        rt_put_thread_end(&out.o, t, depth, stopped, 0);
        rt_out_flush(&out, 1);
        rt_unmap(buf, RT_OUT_SIZE);
    } else {
        rt_put_thread_end(o, t, depth, stopped, 0);
        rt_writer_write(copy, (size_t)(o->pos - copy));
    }
    rt_unmap(copy, size);
}

/* Writes one thread's data as of time now, without changing its state: the
 * thread may still be running (exit() with other threads alive, a fatal
 * signal), or the process may go on (a failed exec rolls the file back). */
RT_NOINST void rt_writer_thread(struct rt_thread *t, uint64_t now)
{
    if (rt_config.mode == RT_MODE_TRACE)
        rt_write_trace(t, now);
    else
        rt_write_tree(t, now);
}

RT_NOINST void rt_writer_end(enum rt_end_reason why, int sig)
{
    static const char *const reasons[] = {"exit",  "signal", "exec",
                                          "flush", "killed", "live"};
    static uint8_t end[64 * 1024];
    struct mp_out o = {end, end + sizeof end, 0};
    rt_put_modules(&o);
    rt_control_put_periods(&o);
    mp_array(&o, 2);
    mp_uint(&o, CPROF_REC_END);
    struct rt_heap_process heap;
    int with_heap = rt_heap_active();
    rt_heap_process(&heap);
    int capped = rt_config.mode == RT_MODE_TRACE && rt_config.trace_max;
    uint64_t stop = capped ? rt_trace_stop_ticks() : 0;
    mp_map(&o, (why == RT_END_SIGNAL ? 7u : 6u) + (with_heap ? 6u : 0u) + (capped != 0) +
                   (stop != 0));
    mp_cstr(&o, "reason");
    mp_cstr(&o, reasons[why]);
    if (why == RT_END_SIGNAL) {
        mp_cstr(&o, "signal");
        mp_uint(&o, (uint64_t)sig);
    }
    rt_put_stat(&o, "end_ticks", rt_config.clock == RT_CLOCK_NONE ? 0 : rt_ticks());
    rt_put_stat(&o, "end_unix_ns", rt_unix_ns());
    mp_cstr(&o, "ticks_per_sec");
    mp_f64(&o, rt_ticks_per_sec());
    rt_put_stat(&o, "threads", rt_threads_seen());
    rt_put_stat(&o, "threads_lost", rt_threads_lost());
    if (with_heap) {
        struct rusage ru;
        uint64_t rss =
            getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss * 1024 : 0;
        rt_put_stat(&o, "heap_in_use", heap.in_use);
        rt_put_stat(&o, "heap_peak", heap.peak);
        rt_put_stat(&o, "heap_blocks", heap.blocks);
        rt_put_stat(&o, "peak_rss", rss);
        rt_put_stat(&o, "foreign_frees", heap.foreign_frees);
        rt_put_stat(&o, "heap_dropped", heap.dropped);
    }
    if (capped)
        rt_put_stat(&o, "trace_max", rt_config.trace_max);
    if (stop)
        rt_put_stat(&o, "trace_stop_ticks", stop);
    rt_writer_write(end, (size_t)(o.pos - end));
}
