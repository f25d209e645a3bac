/*
 * The keeper: what the runtime recorded survives kill -9, and a running
 * process's summary can be read while it runs (CPROF_LIVE).
 *
 * At start the runtime reserves one large sparse region in a memfd mapped
 * MAP_SHARED, and rt_map() serves the threads' memory (their state, trees,
 * histograms, line and heap tables, trace buffers) from it with a
 * lock-free bump allocator and a small free list. The few process-wide
 * blocks the writer needs (the thread table, the file's state, the heap
 * totals, the writing lock, periods and regions) are page-aligned statics, remapped in
 * place onto the same memfd (rt_keeper_share). Then it starts the keeper: a grandchild
 * made by two raw clones (no fork handlers run, no SIGCHLD reaches the program, which
 * never sees it in wait()), in its own session, with every signal blocked and every
 * descriptor closed but the memfd, a pidfd of the program and the data directory. Because
 * it was forked, the region sits at the same addresses in the keeper, so the runtime's
 * own writer runs there unchanged.
 *
 * When the program ends and its data was not written (kill -9, or a
 * writer that could not run), the keeper writes it, with end reason
 * "killed" and the open calls closed at its time. With CPROF_LIVE=S it
 * writes a complete summary every S seconds to <prog>.<pid>.live.cprof
 * (end reason "live", through a temporary name and a rename), removed
 * when the process ends. A forked child stops sharing its parent's region
 * (a new memfd with a copy of the used pages, mapped over the same
 * addresses) and gets its own keeper. If any of this fails the runtime
 * goes on as without a keeper, and the header says so. CPROF_KEEPER=0
 * turns it off.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <time.h>
#include <signal.h>
#include <stdio.h> /* renameat */
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt_internal.h"

#define RT_PAGE 4096u
#define RT_REGION_SIZE (1ull << 40) /* address space only: pages come on use */
#define RT_REGION_MIN (1ull << 34)  /* tried when the first does not fit */
#define RT_FREE_SLOTS 1024u
#define RT_FREE_BUSY UINT64_MAX
#define RT_MAX_BLOCKS 16

/* The region's allocator and the keeper's view of the process, at the
 * memfd's first page: shared with the keeper. */
struct rt_keeper_ctl {
    uint64_t used; /* bytes of the region handed out by the bump */
    struct {
        uint64_t size; /* 0: free slot; RT_FREE_BUSY: being changed */
        uint64_t off;
    } free[RT_FREE_SLOTS];
    int data; /* enum rt_keeper_data */
    pid_t ppid;
    int fork_copied; /* a forked child has its copy: the parent goes on */
} __attribute__((aligned(RT_PAGE)));

static struct rt_keeper_ctl rt_ctl;

static char *rt_region; /* NULL: no region, rt_map maps privately */
static uint64_t rt_region_size;
static uint64_t rt_region_off; /* of the region in the memfd */
static int rt_memfd = -1;
static dev_t rt_memfd_dev; /* to tell it from a descriptor the program reused */
static ino_t rt_memfd_ino;
static struct {
    void *addr;
    size_t size;
    uint64_t off; /* in the memfd */
} rt_blocks[RT_MAX_BLOCKS];
static int rt_nblocks;
static uint32_t rt_live_ms; /* CPROF_LIVE, in ms; 0: no live snapshots */
int rt_in_keeper;

RT_NOINST static uint64_t rt_page_up(uint64_t n)
{
    return (n + RT_PAGE - 1) & ~(uint64_t)(RT_PAGE - 1);
}

RT_NOINST void rt_keeper_share(void *block, size_t size)
{
    if (rt_nblocks < RT_MAX_BLOCKS && !((uintptr_t)block & (RT_PAGE - 1)) &&
        !(size & (RT_PAGE - 1))) {
        rt_blocks[rt_nblocks].addr = block;
        rt_blocks[rt_nblocks].size = size;
        rt_nblocks++;
    }
}

/* ---- the region ------------------------------------------------------------ */

/* Region memory of size bytes (zeroed), or NULL when there is no region or
 * it is full. Lock-free: hooks and signal handlers. */
RT_NOINST void *rt_region_map(size_t size)
{
    if (!rt_region || rt_in_keeper)
        return NULL;
    uint64_t want = rt_page_up(size);
    for (uint32_t i = 0; i < RT_FREE_SLOTS; i++) {
        uint64_t s = want;
        if (__atomic_load_n(&rt_ctl.free[i].size, __ATOMIC_RELAXED) != want ||
            !__atomic_compare_exchange_n(&rt_ctl.free[i].size, &s, RT_FREE_BUSY, 0,
                                         __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            continue;
        uint64_t off = rt_ctl.free[i].off;
        __atomic_store_n(&rt_ctl.free[i].size, 0, __ATOMIC_RELEASE);
        return rt_region + off;
    }
    uint64_t off = __atomic_fetch_add(&rt_ctl.used, want, __ATOMIC_RELAXED);
    if (off + want > rt_region_size)
        return NULL; /* the bump stays past the end: later calls fail alike */
    return rt_region + off;
}

/* Gives region memory back (its pages are freed, it reads as zeros when
 * reused); returns 0 when p is not region memory. Lock-free. */
RT_NOINST int rt_region_unmap(void *p, size_t size)
{
    char *c = p;
    if (!rt_region || c < rt_region || c >= rt_region + rt_region_size)
        return 0;
    if (rt_in_keeper)
        return 1; /* the program's: never the keeper's to free */
    uint64_t len = rt_page_up(size);
    madvise(c, len, MADV_REMOVE);
    for (uint32_t i = 0; i < RT_FREE_SLOTS; i++) {
        uint64_t s = 0;
        if (__atomic_load_n(&rt_ctl.free[i].size, __ATOMIC_RELAXED) != 0 ||
            !__atomic_compare_exchange_n(&rt_ctl.free[i].size, &s, RT_FREE_BUSY, 0,
                                         __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            continue;
        rt_ctl.free[i].off = (uint64_t)(c - rt_region);
        __atomic_store_n(&rt_ctl.free[i].size, len, __ATOMIC_RELEASE);
        return 1;
    }
    return 1; /* no free slot: the address space is not reused */
}

/* Maps [off, off + size) of fd over addr. */
RT_NOINST static int rt_map_over(void *addr, size_t size, int fd, uint64_t off)
{
    void *p = mmap(addr, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd, (off_t)off);
    return p == addr ? 0 : -1;
}

RT_NOINST static int rt_pwrite_all(int fd, const char *p, uint64_t n, uint64_t off)
{
    for (uint64_t done = 0; done < n;) {
        ssize_t w = pwrite(fd, p + done, n - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += (uint64_t)w;
    }
    return 0;
}

/* Copies the data extents of [addr, addr + size), which maps the memfd
 * from (when it is still ours) at from_off, to fd at off: the memfd's
 * holes (pages never used, or given back) are skipped. Returns 1 when
 * from cannot tell (the caller then asks mincore), 0, or -1. */
RT_NOINST static int rt_copy_extents(const char *addr, uint64_t size, int from,
                                     uint64_t from_off, int fd, uint64_t off)
{
    struct stat st;
    if (from < 0 || fstat(from, &st) != 0 || st.st_dev != rt_memfd_dev ||
        st.st_ino != rt_memfd_ino)
        return 1;
    for (uint64_t at = 0; at < size;) {
        off_t data = lseek(from, (off_t)(from_off + at), SEEK_DATA);
        if (data < 0 || (uint64_t)data >= from_off + size)
            return data < 0 && errno != ENXIO ? 1 : 0;
        off_t hole = lseek(from, data, SEEK_HOLE);
        if (hole < 0)
            return 1;
        uint64_t a = (uint64_t)data - from_off, b = (uint64_t)hole - from_off;
        if (b > size)
            b = size;
        if (rt_pwrite_all(fd, addr + a, b - a, off + a) != 0)
            return -1;
        at = b;
    }
    return 0;
}

/* Copies the pages of [addr, addr + size) that hold data (resident or
 * swapped in the memfd the address maps) to fd at off. */
RT_NOINST static int rt_copy_pages(const char *addr, uint64_t size, int fd, uint64_t off)
{
    int rc = rt_copy_extents(addr, size, rt_memfd,
                             (uint64_t)(addr - rt_region) + rt_region_off, fd, off);
    if (rc <= 0)
        return rc;
    static unsigned char vec[4096];
    for (uint64_t at = 0; at < size; at += sizeof vec * (uint64_t)RT_PAGE) {
        uint64_t len = size - at;
        if (len > sizeof vec * (uint64_t)RT_PAGE)
            len = sizeof vec * (uint64_t)RT_PAGE;
        if (mincore((void *)(addr + at), len, vec) != 0)
            return -1;
        for (uint64_t p = 0; p < len / RT_PAGE;) {
            if (!(vec[p] & 1)) {
                p++;
                continue;
            }
            uint64_t q = p;
            while (q < len / RT_PAGE && (vec[q] & 1))
                q++;
            uint64_t from = at + p * RT_PAGE;
            if (rt_pwrite_all(fd, addr + from, (q - p) * RT_PAGE, off + from) != 0)
                return -1;
            p = q;
        }
    }
    return 0;
}

/* Tells a parent waiting in fork() that this child has its copy (at
 * start-up it changes nothing). */
RT_NOINST static void rt_fork_copied(void)
{
    __atomic_store_n(&rt_ctl.fork_copied, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &rt_ctl.fork_copied, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* A new memfd holding the blocks and the region as they are now (copied
 * when copy is set), mapped over them; the old memfd is closed. */
RT_NOINST static int rt_memfd_new(int copy)
{
    int fd = (int)syscall(SYS_memfd_create, "cprof", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 700);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    uint64_t total = rt_region_off + rt_region_size;
    struct stat st;
    if (ftruncate(fd, (off_t)total) != 0 || fstat(fd, &st) != 0)
        goto fail;
    if (copy) {
        for (int i = 0; i < rt_nblocks; i++)
            if (rt_pwrite_all(fd, rt_blocks[i].addr, rt_blocks[i].size,
                              rt_blocks[i].off) != 0)
                goto fail;
        uint64_t used = __atomic_load_n(&rt_ctl.used, __ATOMIC_RELAXED);
        if (used > rt_region_size)
            used = rt_region_size;
        if (rt_copy_pages(rt_region, used, fd, rt_region_off) != 0)
            goto fail;
    }
    rt_fork_copied();
    for (int i = 0; i < rt_nblocks; i++)
        if (rt_map_over(rt_blocks[i].addr, rt_blocks[i].size, fd, rt_blocks[i].off) != 0)
            goto fail;
    if (rt_map_over(rt_region, rt_region_size, fd, rt_region_off) != 0)
        goto fail;
    rt_memfd = fd; /* the caller closes the old one */
    rt_memfd_dev = st.st_dev;
    rt_memfd_ino = st.st_ino;
    return 0;
fail:
    close(fd);
    return -1;
}

/* At start: the region reserved, the blocks moved into the memfd. */
RT_NOINST static int rt_region_init(void)
{
    rt_keeper_share(&rt_ctl, sizeof rt_ctl);
    uint64_t off = 0;
    for (int i = 0; i < rt_nblocks; i++) {
        rt_blocks[i].off = off;
        off += rt_blocks[i].size;
    }
    rt_region_off = rt_page_up(off);
    for (uint64_t size = RT_REGION_SIZE; size >= RT_REGION_MIN && !rt_region; size /= 4) {
        void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
        if (p == MAP_FAILED)
            continue;
        rt_region = p;
        rt_region_size = size;
    }
    if (!rt_region)
        return -1;
    madvise(rt_region, rt_region_size, MADV_DONTDUMP); /* core files stay small */
    if (rt_memfd_new(1) != 0) {
        munmap(rt_region, rt_region_size);
        rt_region = NULL;
        return -1;
    }
    return 0;
}

/* ---- the keeper ------------------------------------------------------------ */

RT_NOINST static pid_t rt_clone_plain(int exit_signal)
{
    /* a raw clone: no fork handlers (neither ours nor the program's) */
    return (pid_t)syscall(SYS_clone, (unsigned long)exit_signal, NULL, NULL, NULL, 0);
}

RT_NOINST static void rt_keep_fd(int *keep, int *n, int fd)
{
    if (fd < 0)
        return;
    int i = (*n)++;
    for (; i > 0 && keep[i - 1] > fd; i--)
        keep[i] = keep[i - 1];
    keep[i] = fd;
}

/* Closes every descriptor but keep[0..n) (sorted); 0-2 become /dev/null. */
RT_NOINST static void rt_close_all_but(const int *keep, int n)
{
    unsigned lo = 0;
    for (int i = 0; i <= n; i++) {
        unsigned hi = i < n ? (unsigned)keep[i] : ~0u;
        if (hi > lo && syscall(SYS_close_range, lo, hi - 1, 0) != 0)
            for (unsigned fd = lo; fd < hi && fd < 65536; fd++)
                close((int)fd);
        lo = hi + 1;
    }
    int null = open("/dev/null", O_RDWR);
    for (int fd = 0; null >= 0 && fd < 3; fd++)
        if (fd != null)
            dup2(null, fd);
    if (null > 2)
        close(null);
}

/* <prog>.<pid>.live.cprof (with ".tmp" when tmp is set). */
RT_NOINST static void rt_live_name(char *out, size_t len, int tmp)
{
    char pid[24];
    rt_strlcpy(out, rt_config.prog, len);
    rt_strlcat(out, ".", len);
    rt_strlcat(out, rt_utoa((uint64_t)rt_pid, pid), len);
    rt_strlcat(out, ".live" CPROF_FILE_SUFFIX, len);
    if (tmp)
        rt_strlcat(out, ".tmp", len);
}

RT_NOINST static void rt_keeper_live(int dir)
{
    char tmp[320], name[320];
    rt_live_name(tmp, sizeof tmp, 1);
    rt_live_name(name, sizeof name, 0);
    int fd =
        openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0)
        return;
    int ok = rt_process_live(fd) == 0;
    ok &= close(fd) == 0;
    if (!ok || renameat(dir, tmp, dir, name) != 0)
        unlinkat(dir, tmp, 0);
}

RT_NOINST static _Noreturn void rt_keeper_main(int pidfd)
{
    rt_in_keeper = 1;
    rt_self = NULL;
    rt_ready = 1;
    setsid();
    /* cprofk<pid>: cprof record waits for the keepers of processes gone */
    char name[16] = "cprofk", num[24];
    rt_strlcat(name, rt_utoa((uint64_t)rt_pid, num), sizeof name);
    prctl(PR_SET_NAME, name);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    int keep[4], n = 0, dir = rt_writer_dir_fd();
    rt_keep_fd(keep, &n, rt_memfd);
    rt_keep_fd(keep, &n, pidfd);
    rt_keep_fd(keep, &n, dir);
    rt_close_all_but(keep, n);
    rt_writer_adopt();
    if (chdir("/") != 0) {
        /* the data directory is reached by its descriptor */
    }
    struct pollfd pfd = {pidfd, POLLIN, 0};
    int timeout = rt_live_ms ? (int)rt_live_ms : -1;
    for (;;) {
        int r = poll(&pfd, 1, timeout);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            if (__atomic_load_n(&rt_ctl.data, __ATOMIC_ACQUIRE) == RT_KEEPER_PENDING)
                rt_keeper_live(dir);
            continue;
        }
        break; /* the program ended (or poll failed: do as if) */
    }
    if (__atomic_load_n(&rt_ctl.data, __ATOMIC_ACQUIRE) == RT_KEEPER_PENDING)
        rt_process_killed();
    if (rt_live_ms) {
        char name[320];
        rt_live_name(name, sizeof name, 0);
        unlinkat(dir, name, 0);
        rt_live_name(name, sizeof name, 1);
        unlinkat(dir, name, 0);
    }
    for (;;)
        syscall(SYS_exit_group, 0);
}

/* Starts this process's keeper. Returns 0, or -1 (nothing started). A
 * process that reaps orphans (pid 1, a subreaper) would have its keeper
 * as a child, which its wait() could wait for forever: none there. */
RT_NOINST static int rt_keeper_spawn(void)
{
    int subreaper = 0;
    if (getpid() == 1 || (prctl(PR_GET_CHILD_SUBREAPER, &subreaper) == 0 && subreaper))
        return -1;
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pidfd < 0)
        return -1;
    rt_ctl.ppid = getppid();
    pid_t mid = rt_clone_plain(0);
    if (mid == 0) {
        pid_t keeper = rt_clone_plain(SIGCHLD);
        if (keeper == 0)
            rt_keeper_main(pidfd);
        for (;;)
            syscall(SYS_exit_group, keeper < 0 ? 1 : 0);
    }
    close(pidfd);
    if (mid < 0)
        return -1;
    int status = 0;
    while (waitpid(mid, &status, __WCLONE) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Replaces [addr, addr + size) by a private copy of its pages that hold
 * data. */
RT_NOINST static void rt_privatize(char *addr, uint64_t size)
{
    char *tmp = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (tmp == MAP_FAILED)
        return;
    static unsigned char vec[4096];
    for (uint64_t at = 0; at < size; at += sizeof vec * (uint64_t)RT_PAGE) {
        uint64_t len = size - at;
        if (len > sizeof vec * (uint64_t)RT_PAGE)
            len = sizeof vec * (uint64_t)RT_PAGE;
        int known = mincore(addr + at, len, vec) == 0;
        for (uint64_t p = 0; p < len / RT_PAGE; p++)
            if (!known || (vec[p] & 1))
                memcpy(tmp + at + p * RT_PAGE, addr + at + p * RT_PAGE, RT_PAGE);
    }
    mremap(tmp, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, addr);
}

/* Stops sharing: the blocks and the region's used part back to private
 * memory (a copy), so that a forked child that could not get its own
 * memfd does not write into its parent's. */
RT_NOINST static void rt_region_unshare(void)
{
    uint64_t used = __atomic_load_n(&rt_ctl.used, __ATOMIC_RELAXED);
    rt_privatize(rt_region, used < rt_region_size ? rt_page_up(used) : rt_region_size);
    for (int i = 0; i < rt_nblocks; i++)
        if (rt_blocks[i].addr != (void *)&rt_ctl)
            rt_privatize(rt_blocks[i].addr, rt_blocks[i].size);
    rt_fork_copied();
    rt_privatize((char *)&rt_ctl, sizeof rt_ctl);
}

RT_NOINST void rt_keeper_start(void)
{
    const char *k = getenv("CPROF_KEEPER");
    if (k && rt_streq(k, "0"))
        return;
    const char *live = getenv("CPROF_LIVE");
    if (live && *live) {
        /* seconds, with up to three decimals: 0.1 to 86400 */
        uint64_t ms = 0;
        int frac = -1;
        const char *p = live;
        for (; ((*p >= '0' && *p <= '9') || (*p == '.' && frac < 0)) && ms < 1000000000;
             p++) {
            if (*p == '.') {
                frac = 0;
                continue;
            }
            if (frac >= 3)
                break;
            ms = ms * 10 + (uint64_t)(*p - '0');
            frac += frac >= 0;
        }
        for (int k = frac < 0 ? 0 : frac; k < 3; k++)
            ms *= 10;
        if (*p || p == live || ms < 100 || ms > 86400000u ||
            rt_config.mode != RT_MODE_SUMMARY)
            rt_config_warn("CPROF_LIVE is not a number of seconds from 0.1 to 86400 "
                           "in summary mode: no live snapshots");
        else
            rt_live_ms = (uint32_t)ms;
    }
    if (rt_region_init() != 0) {
        rt_config_warn("keeper: no shared memory: a killed process leaves no data");
        return;
    }
    if (rt_keeper_spawn() != 0)
        rt_config_warn("keeper: could not start: a killed process leaves no data");
}

/* Fork handlers. The parent waits in fork() until the child has its
 * copy (a second at most), so that the forking thread's state, which the
 * child inherits, does not change while the child copies it: the child
 * says so in the shared rt_ctl between copying and mapping its copy. */
RT_NOINST void rt_keeper_before_fork(void)
{
    if (rt_region)
        __atomic_store_n(&rt_ctl.fork_copied, 0, __ATOMIC_RELEASE);
}

RT_NOINST void rt_keeper_parent_after_fork(void)
{
    if (!rt_region)
        return;
    /* a shared futex: the child wakes it through the memory it shares */
    uint64_t until = rt_mono_ns() + 1000000000ull;
    for (uint64_t now; !__atomic_load_n(&rt_ctl.fork_copied, __ATOMIC_ACQUIRE) &&
                       (now = rt_mono_ns()) < until;) {
        struct timespec left = {
            0, (long)(until - now > 100000000u ? 100000000u : until - now)};
        syscall(SYS_futex, &rt_ctl.fork_copied, FUTEX_WAIT, 0, &left, NULL, 0);
    }
}

/* In a forked child (fork handler, first thing): its own copy of the
 * region and blocks, or a private one when that fails; then the parent
 * is told, through the old memfd (no longer mapped here). */
RT_NOINST void rt_keeper_after_fork(void)
{
    if (!rt_region)
        return;
    int old = rt_memfd;
    if (rt_memfd_new(1) != 0) {
        rt_region_unshare();
        rt_region = NULL; /* rt_map maps privately from now on */
        rt_config_warn("keeper: no shared memory: a killed process leaves no data");
    }
    if (old >= 0 && old != rt_memfd)
        close(old);
    __atomic_store_n(&rt_ctl.data, RT_KEEPER_PENDING, __ATOMIC_RELAXED);
}

/* In a forked child (fork handler, last): its own keeper. */
RT_NOINST void rt_keeper_spawn_child(void)
{
    if (rt_region && rt_keeper_spawn() != 0)
        rt_config_warn("keeper: could not start: a killed process leaves no data");
}

RT_NOINST int rt_region_holds(const void *p)
{
    const char *c = p;
    return rt_region && c >= rt_region && c < rt_region + rt_region_size;
}

RT_NOINST void rt_keeper_data(enum rt_keeper_data state)
{
    __atomic_store_n(&rt_ctl.data, state, __ATOMIC_RELEASE);
}

RT_NOINST pid_t rt_process_ppid(void)
{
    return rt_in_keeper ? rt_ctl.ppid : getppid();
}
