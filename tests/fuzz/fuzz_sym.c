/*
 * libFuzzer target for the symbolizer: the input is an ELF file (seeds are
 * real small programs, with and without DWARF), written to a file of its own
 * in a private folder, and a few addresses in it are resolved as
 * `cprof report` does for a module of that path. Whatever the bytes, the
 * answer must be a name (possibly "module+0xoffset") and maybe a warning,
 * never a crash, a leak, a hang or undefined behaviour.
 * The separate debug file search is off (no /usr/lib/debug), and the folder
 * holds nothing but the input, so a debug link can name nothing else.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sym.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char module_dir[4000], module_path[4096];

/* the folder goes when the fuzzer exits normally (run.sh also points
 * TMPDIR into its own work directory, removed after the run) */
static void remove_module(void)
{
    unlink(module_path);
    rmdir(module_dir);
}

static int write_module(const uint8_t *data, size_t size)
{
    if (!module_path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(module_dir, sizeof module_dir, "%s/cprof-fuzz-sym.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(module_dir))
            abort();
        snprintf(module_path, sizeof module_path, "%s/module", module_dir);
        atexit(remove_module);
    }
    FILE *f = fopen(module_path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    if (fclose(f) != 0)
        abort();
    return 0;
}

static uint64_t read_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_module(data, size);
    /* the entry point (e_entry of an ELF64 header) and around it, the
     * bottom of the usual link address ranges, and an address from the
     * input's last bytes */
    uint64_t addrs[8] = {0, 0x1000, 0x400000, UINT64_MAX};
    size_t n = 4;
    if (size >= 32) {
        uint64_t entry = read_u64(data + 24);
        addrs[n++] = entry;
        addrs[n++] = entry + 0x40;
    }
    if (size >= 8)
        addrs[n++] = read_u64(data + size - 8) & 0xffffff;
    struct sym_cache *cache = sym_cache_new();
    sym_cache_set_debug_root(cache, "");
    for (size_t i = 0; i < n; i++) {
        struct sym_func fn;
        /* the second lookup asks with a build id that cannot match */
        sym_resolve(cache, module_path, i == 1 ? "00ff" : "", addrs[i], &fn);
        if (!fn.name || !fn.file)
            abort();
        (void)strlen(fn.name);
        (void)strlen(fn.file);
    }
    for (size_t i = 0; i < sym_warning_count(cache); i++)
        (void)strlen(sym_warning(cache, i));
    sym_cache_free(cache);
    return 0;
}
