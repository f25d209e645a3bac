/*
 * The module map: the executable and the shared objects loaded, each with
 * its load bias, executable address range, absolute path and GNU build id,
 * so that the analyzer finds the right file and symbols for an address.
 * The file's head and the end record carry it (rt_writer.c, rt_records.c);
 * rt_modules_refresh() re-reads it, as dlopen may have added modules.
 * Tables are static: no malloc.
 *
 * rt_modules_refresh() takes the dynamic loader's lock (dl_iterate_phdr)
 * and is never called from a signal handler; rt_put_modules() only reads
 * the table and is signal-safe.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"

#define RT_MAX_MODULES 512
#define RT_MODULE_PATHS (64 * 1024)

struct rt_module {
    uint64_t bias, lo, hi;
    const char *path;
    char build_id[41];
};

static struct rt_module rt_modules[RT_MAX_MODULES];
static int rt_nmodules;
static char rt_module_paths[RT_MODULE_PATHS];
static size_t rt_module_paths_used;

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

RT_NOINST void rt_put_modules(struct mp_out *o)
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
