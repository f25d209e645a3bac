/*
 * The symbolizer on real binaries: each test compiles a small C program
 * with clang-14 into a fresh temporary folder (with full DWARF 4 and 5,
 * line tables only, no debug info, stripped, PIE or not, as a shared
 * library, with a separate debug file) and resolves every function's
 * address, as nm reports it, against the names and lines the sources below
 * were written with. Damaged files must give warnings, never crashes.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sym.h"
#include "sym_internal.h"

/* Line numbers below are part of the test: keep them in step. */
static const char helper_h[] =
    "__attribute__((noinline)) int helper_twice(int x)\n" /* 1 */
    "{\n"                                                 /* 2 */
    "    return 2 * x;\n"                                 /* 3 */
    "}\n";                                                /* 4 */

static const char main_c[] =
    "#include \"helper.h\"\n"                              /* 1 */
    "static __attribute__((noinline)) int square(int x)\n" /* 2 */
    "{\n"                                                  /* 3 */
    "    return x * x;\n"                                  /* 4 */
    "}\n"                                                  /* 5 */
    "static int add3(int x) { return x + 3; }\n"           /* 6: inlined */
    "__attribute__((noinline)) int\n"                      /* 7 */
    "combine(int a, int b)\n"                              /* 8 */
    "{\n"                                                  /* 9 */
    "    return add3(square(a)) + helper_twice(b);\n"      /* 10 */
    "}\n"                                                  /* 11 */
    "\n"                                                   /* 12 */
    "int main(int argc, char **argv)\n"                    /* 13 */
    "{\n"                                                  /* 14 */
    "    (void)argv;\n"                                    /* 15 */
    "    return combine(argc, argc + 1) == 7;\n"           /* 16 */
    "}\n"                                                  /* 17 */
    "int odd_name(void) __asm__(\"_ZN3foo3barEv\");\n"     /* 18 */
    "int odd_name(void)\n"                                 /* 19 */
    "{\n"                                                  /* 20 */
    "    return 1;\n"                                      /* 21 */
    "}\n";                                                 /* 22 */

/* A function, where it is declared and where its body starts (the line
 * of the first line-table row, all -gline-tables-only has). C functions
 * are named from DWARF as written, from the symbol table by their symbol. */
struct expected_func {
    const char *name; /* the symbol */
    const char *file;
    unsigned decl_line, body_line;
    const char *source_name; /* when it differs from the symbol */
};

static const struct expected_func program_funcs[] = {
    {"helper_twice", "helper.h", 1, 2, NULL},
    {"square", "main.c", 2, 3, NULL},
    {"combine", "main.c", 8, 9, NULL},
    {"main", "main.c", 13, 14, NULL},
    {"_ZN3foo3barEv", "main.c", 19, 20, "odd_name"},
};
#define NFUNCS (sizeof(program_funcs) / sizeof(program_funcs[0]))

static char tmp[256];

static void make_tmp(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/cprof-sym-XXXXXX");
    cr_assert(mkdtemp(tmp), "mkdtemp failed");
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command in the temporary folder; its exit status. */
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "cd '%s' && ", tmp);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void remove_tmp(void)
{
    if (tmp[0])
        sh("cd / && rm -rf '%s'", tmp);
}

TestSuite(sym, .init = make_tmp, .fini = remove_tmp, .timeout = 120);

static void write_file(const char *name, const char *text, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

static char *tmp_path(const char *name)
{
    static char paths[8][1024];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", tmp, name);
    return p;
}

/* Compiles main.c (with helper.h) into out with the given flags. */
static void build_program(const char *out, const char *flags)
{
    write_file("helper.h", helper_h, strlen(helper_h));
    write_file("main.c", main_c, strlen(main_c));
    cr_assert_eq(sh("clang-14 %s main.c -o %s", flags, out), 0, "clang-14 %s failed",
                 flags);
}

struct nm_sym {
    char name[128];
    uint64_t addr, size;
};

/* The defined text symbols of path, from nm; returns how many. */
static size_t nm_read(const char *path, struct nm_sym *out, size_t max)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "nm -P --defined-only '%s'", path);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    char line[512];
    size_t n = 0;
    while (n < max && fgets(line, sizeof line, p)) {
        char name[128], type;
        unsigned long long addr, size = 0;
        int got = sscanf(line, "%127s %c %llx %llx", name, &type, &addr, &size);
        if (got < 3 || (type != 'T' && type != 't'))
            continue;
        snprintf(out[n].name, sizeof out[n].name, "%s", name);
        out[n].addr = addr;
        out[n].size = size ? size : 1;
        n++;
    }
    pclose(p);
    return n;
}

static const struct nm_sym *nm_find(const struct nm_sym *syms, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(syms[i].name, name) == 0)
            return &syms[i];
    cr_assert_fail("nm lists no %s", name);
    return NULL;
}

/* Resolves the first, a middle and the last byte of function symbol (as
 * nm locates it in addr_source) in module and checks every answer: its
 * name, file (relative to the temporary folder, NULL when none is
 * expected), line and quality. */
static void expect_named(struct sym_cache *c, const char *module, const char *addr_source,
                         const char *symbol, const char *name, const char *file,
                         unsigned line, enum sym_quality quality)
{
    static struct nm_sym syms[8192];
    size_t n = nm_read(addr_source, syms, 8192);
    const struct nm_sym *s = nm_find(syms, n, symbol);
    char want_file[512] = "";
    if (file)
        snprintf(want_file, sizeof want_file, "%s/%s", tmp, file);
    uint64_t probes[3] = {s->addr, s->addr + s->size / 2, s->addr + s->size - 1};
    for (int i = 0; i < 3; i++) {
        struct sym_func f;
        cr_assert_eq(sym_resolve(c, module, NULL, probes[i], &f), 0);
        cr_expect_str_eq(f.name, name, "%s at 0x%llx: named %s", symbol,
                         (unsigned long long)probes[i], f.name);
        cr_expect_eq(f.quality, quality, "%s: quality %d, expected %d", name, f.quality,
                     quality);
        cr_expect_eq(f.entry, s->addr, "%s: entry 0x%llx, expected 0x%llx", name,
                     (unsigned long long)f.entry, (unsigned long long)s->addr);
        cr_expect_str_eq(f.file, want_file, "%s: file %s", name, f.file);
        cr_expect_eq(f.line, line, "%s: line %u, expected %u", name, f.line, line);
    }
}

static void expect_func(struct sym_cache *c, const char *module, const char *addr_source,
                        const char *name, const char *file, unsigned line,
                        enum sym_quality quality)
{
    expect_named(c, module, addr_source, name, name, file, line, quality);
}

/* Builds the program with flags and checks every function's DWARF answer. */
static void check_build(const char *flags, int line_tables_only)
{
    build_program("prog", flags);
    struct sym_cache *c = sym_cache_new();
    for (size_t i = 0; i < NFUNCS; i++) {
        const struct expected_func *e = &program_funcs[i];
        const char *name = line_tables_only || !e->source_name ? e->name : e->source_name;
        expect_named(c, tmp_path("prog"), tmp_path("prog"), e->name, name, e->file,
                     line_tables_only ? e->body_line : e->decl_line, SYM_DWARF);
    }
    cr_expect_eq(sym_warning_count(c), 0, "warning: %s", sym_warning(c, 0));
    sym_cache_free(c);
}

Test(sym, dwarf5_O0)
{
    check_build("-O0 -g", 0);
}

Test(sym, dwarf5_O2)
{
    check_build("-O2 -g", 0);
}

Test(sym, dwarf4_O0)
{
    check_build("-O0 -gdwarf-4", 0);
}

Test(sym, dwarf4_O2)
{
    check_build("-O2 -gdwarf-4", 0);
}

/* What cprof-cc builds by default. */
Test(sym, line_tables_only_O0)
{
    check_build("-O0 -gline-tables-only", 1);
}

Test(sym, line_tables_only_O2)
{
    check_build("-O2 -gline-tables-only", 1);
}

Test(sym, line_tables_only_dwarf4)
{
    check_build("-O0 -gdwarf-4 -gline-tables-only", 1);
}

Test(sym, line_tables_only_function_sections)
{
    check_build("-O2 -gline-tables-only -ffunction-sections -Wl,--gc-sections "
                "-Wl,-u,_ZN3foo3barEv",
                1);
}

Test(sym, not_pie)
{
    check_build("-O0 -gline-tables-only -fno-pie -no-pie", 1);
}

/* An address inside a copy of add3 inlined into combine is combine's. */
Test(sym, inlined_code_belongs_to_its_caller)
{
    build_program("prog", "-O2 -g");
    struct sym_cache *c = sym_cache_new();
    struct nm_sym syms[256];
    size_t n = nm_read(tmp_path("prog"), syms, 256);
    for (size_t i = 0; i < n; i++)
        cr_expect_neq(strcmp(syms[i].name, "add3"), 0, "add3 was not inlined");
    const struct nm_sym *s = nm_find(syms, n, "combine");
    for (uint64_t a = s->addr; a < s->addr + s->size; a++) {
        struct sym_func f;
        sym_resolve(c, tmp_path("prog"), NULL, a, &f);
        cr_expect_str_eq(f.name, "combine", "0x%llx: %s", (unsigned long long)a, f.name);
    }
    sym_cache_free(c);
}

static const char lib_c[] = "int lib_one(int x)\n"                     /* 1 */
                            "{\n"                                      /* 2 */
                            "    return x + 1;\n"                      /* 3 */
                            "}\n"                                      /* 4 */
                            "static int lib_hidden(int x)\n"           /* 5 */
                            "{\n"                                      /* 6 */
                            "    return x * 7;\n"                      /* 7 */
                            "}\n"                                      /* 8 */
                            "int lib_two(int x)\n"                     /* 9 */
                            "{\n"                                      /* 10 */
                            "    return lib_hidden(x) + lib_one(x);\n" /* 11 */
                            "}\n";                                     /* 12 */

Test(sym, shared_library)
{
    write_file("lib.c", lib_c, strlen(lib_c));
    cr_assert_eq(sh("clang-14 -O0 -gline-tables-only -shared -fPIC lib.c -o libt.so"), 0);
    cr_assert_eq(sh("clang-14 -O0 -g -shared -fPIC lib.c -o libg.so"), 0);
    struct sym_cache *c = sym_cache_new();
    char lt[512], lg[512];
    snprintf(lt, sizeof lt, "%s/libt.so", tmp);
    snprintf(lg, sizeof lg, "%s/libg.so", tmp);
    expect_func(c, lt, lt, "lib_one", "lib.c", 2, SYM_DWARF);
    expect_func(c, lt, lt, "lib_hidden", "lib.c", 6, SYM_DWARF);
    expect_func(c, lt, lt, "lib_two", "lib.c", 10, SYM_DWARF);
    expect_func(c, lg, lg, "lib_one", "lib.c", 1, SYM_DWARF);
    expect_func(c, lg, lg, "lib_hidden", "lib.c", 5, SYM_DWARF);
    expect_func(c, lg, lg, "lib_two", "lib.c", 9, SYM_DWARF);
    sym_cache_free(c);
}

Test(sym, no_debug_info_uses_the_symbol_table)
{
    build_program("prog", "-O2");
    struct sym_cache *c = sym_cache_new();
    for (size_t i = 0; i < NFUNCS; i++)
        expect_func(c, tmp_path("prog"), tmp_path("prog"), program_funcs[i].name, NULL, 0,
                    SYM_SYMTAB);
    cr_expect_eq(sym_warning_count(c), 0);
    sym_cache_free(c);
}

Test(sym, stripped_uses_dynsym_then_offsets)
{
    build_program("prog", "-O0 -g -rdynamic");
    cr_assert_eq(sh("strip -s -o stripped prog"), 0);
    struct sym_cache *c = sym_cache_new();
    const char *stripped = tmp_path("stripped"), *prog = tmp_path("prog");
    /* exported by -rdynamic: in .dynsym */
    expect_func(c, stripped, prog, "combine", NULL, 0, SYM_SYMTAB);
    expect_func(c, stripped, prog, "main", NULL, 0, SYM_SYMTAB);
    /* static: nowhere */
    struct nm_sym syms[256];
    size_t n = nm_read(prog, syms, 256);
    const struct nm_sym *s = nm_find(syms, n, "square");
    struct sym_func f;
    sym_resolve(c, stripped, NULL, s->addr + 1, &f);
    char want[64];
    snprintf(want, sizeof want, "stripped+0x%llx", (unsigned long long)s->addr + 1);
    cr_expect_str_eq(f.name, want);
    cr_expect_eq(f.quality, SYM_OFFSET);
    cr_expect_str_eq(f.file, "");
    cr_expect_eq(f.line, 0);
    const char *first = f.name;
    sym_resolve(c, stripped, NULL, s->addr + 1, &f);
    cr_expect_eq(f.name, first, "one string per address");
    cr_expect_eq(sym_warning_count(c), 0);
    sym_cache_free(c);
}

/* gcc moves unlikely code to a separate "work.cold" part: DW_AT_ranges
 * (rnglists in DWARF 5) make it work's; gcc also writes decl_file as
 * DW_FORM_implicit_const. */
Test(sym, gcc_split_function_ranges)
{
    static const char src[] = "#include <stdio.h>\n"                               /* 1 */
                              "__attribute__((cold, noinline)) void fail(int x)\n" /* 2 */
                              "{\n"                                                /* 3 */
                              "    fprintf(stderr, \"%d\\n\", x);\n"               /* 4 */
                              "}\n"                                                /* 5 */
                              "__attribute__((noinline)) int work(int x)\n"        /* 6 */
                              "{\n"                                                /* 7 */
                              "    int s = 0;\n"                                   /* 8 */
                              "    for (int i = 0; i < x; i++) {\n"                /* 9 */
                              "        if (i > 1000000) {\n"      /* 10 */
                              "            fail(i);\n"            /* 11 */
                              "            s -= 3;\n"             /* 12 */
                              "            continue;\n"           /* 13 */
                              "        }\n"                       /* 14 */
                              "        s += i * x;\n"             /* 15 */
                              "    }\n"                           /* 16 */
                              "    return s;\n"                   /* 17 */
                              "}\n"                               /* 18 */
                              "int main(int argc, char **argv)\n" /* 19 */
                              "{\n"                               /* 20 */
                              "    (void)argv;\n"                 /* 21 */
                              "    return work(argc);\n"          /* 22 */
                              "}\n";                              /* 23 */
    if (sh("command -v gcc >/dev/null") != 0)
        cr_skip_test("gcc is not installed");
    write_file("cold.c", src, strlen(src));
    cr_assert_eq(
        sh("gcc -O2 -gdwarf-4 cold.c -o cold4 && gcc -O2 -gdwarf-5 cold.c -o cold5"), 0);
    const char *bins[] = {"cold4", "cold5"};
    for (int b = 0; b < 2; b++) {
        struct sym_cache *c = sym_cache_new();
        char bin[512];
        snprintf(bin, sizeof bin, "%s/%s", tmp, bins[b]);
        struct nm_sym syms[256];
        size_t n = nm_read(bin, syms, 256);
        const struct nm_sym *work = nm_find(syms, n, "work");
        const struct nm_sym *cold = nm_find(syms, n, "work.cold");
        expect_func(c, bin, bin, "work", "cold.c", 6, SYM_DWARF);
        expect_func(c, bin, bin, "fail", "cold.c", 2, SYM_DWARF);
        expect_func(c, bin, bin, "main", "cold.c", 19, SYM_DWARF);
        struct sym_func f;
        sym_resolve(c, bin, NULL, cold->addr, &f);
        cr_expect_str_eq(f.name, "work", "%s: work.cold named %s", bins[b], f.name);
        cr_expect_eq(f.entry, work->addr, "%s: work.cold's entry", bins[b]);
        cr_expect_eq(f.line, 6);
        cr_expect_eq(sym_warning_count(c), 0, "%s: %s", bins[b], sym_warning(c, 0));
        sym_cache_free(c);
    }
}

/* Other languages are named by their linkage (symbol) names, mangled. */
Test(sym, cxx_names_are_linkage_names)
{
    static const char cxx[] =
        "namespace foo {\n"                                    /* 1 */
        "struct S { __attribute__((noinline)) int get(); };\n" /* 2 */
        "int S::get()\n"                                       /* 3 */
        "{\n"                                                  /* 4 */
        "    return 5;\n"                                      /* 5 */
        "}\n"                                                  /* 6 */
        "}\n"                                                  /* 7 */
        "int main() { return foo::S().get(); }\n";             /* 8 */
    write_file("s.cc", cxx, strlen(cxx));
    cr_assert_eq(sh("clang++-14 -O0 -g s.cc -o s_g && clang++-14 -O2 -gline-tables-only "
                    "s.cc -o s_lt"),
                 0);
    struct sym_cache *c = sym_cache_new();
    expect_func(c, tmp_path("s_g"), tmp_path("s_g"), "_ZN3foo1S3getEv", "s.cc", 3,
                SYM_DWARF);
    expect_func(c, tmp_path("s_g"), tmp_path("s_g"), "main", "s.cc", 8, SYM_DWARF);
    expect_func(c, tmp_path("s_lt"), tmp_path("s_lt"), "_ZN3foo1S3getEv", "s.cc", 4,
                SYM_DWARF);
    sym_cache_free(c);
}

/* The build id recorded at run time, as readelf prints it. */
static void read_build_id(const char *name, char *id, size_t size)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "readelf -n '%s' | sed -n 's/.*Build ID: //p'",
             tmp_path(name));
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    cr_assert(fgets(id, (int)size, p), "no build id in %s", name);
    id[strcspn(id, "\n")] = 0;
    pclose(p);
    cr_assert(strlen(id) >= 16, "short build id %s", id);
}

Test(sym, build_id_matches_or_warns_once)
{
    build_program("prog", "-O0 -gline-tables-only -Wl,--build-id=sha1");
    char id[200];
    read_build_id("prog", id, sizeof id);
    struct sym_cache *c = sym_cache_new();
    struct sym_func f;
    struct nm_sym syms[256];
    size_t n = nm_read(tmp_path("prog"), syms, 256);
    uint64_t addr = nm_find(syms, n, "main")->addr;
    sym_resolve(c, tmp_path("prog"), id, addr, &f);
    cr_expect_str_eq(f.name, "main");
    cr_expect_eq(sym_warning_count(c), 0, "matching id warned: %s", sym_warning(c, 0));
    sym_resolve(c, tmp_path("prog"), "0123456789abcdef0123456789abcdef01234567", addr,
                &f);
    sym_resolve(c, tmp_path("prog"), "0123456789abcdef0123456789abcdef01234567", addr,
                &f);
    cr_expect_str_eq(f.name, "main", "still answers from the file");
    cr_expect_eq(f.quality, SYM_DWARF);
    cr_assert_eq(sym_warning_count(c), 1);
    char want[600];
    snprintf(want, sizeof want,
             "%s: rebuilt since the run (build id differs): names may be wrong",
             tmp_path("prog"));
    cr_expect_str_eq(sym_warning(c, 0), want);
    sym_cache_free(c);
}

Test(sym, missing_file_warns_once_and_names_by_offset)
{
    struct sym_cache *c = sym_cache_new();
    struct sym_func f;
    sym_resolve(c, "/nonexistent/dir/prog", "abcd", 0x1234, &f);
    cr_expect_str_eq(f.name, "prog+0x1234");
    cr_expect_eq(f.quality, SYM_OFFSET);
    cr_expect_eq(f.entry, 0x1234);
    sym_resolve(c, "/nonexistent/dir/prog", "abcd", 0x2000, &f);
    cr_expect_str_eq(f.name, "prog+0x2000");
    cr_assert_eq(sym_warning_count(c), 1);
    cr_expect_str_eq(sym_warning(c, 0),
                     "/nonexistent/dir/prog: cannot open: No such file or directory");
    sym_cache_free(c);
}

Test(sym, not_an_elf_file_warns)
{
    write_file("text", "hello, not ELF\n", 15);
    struct sym_cache *c = sym_cache_new();
    struct sym_func f;
    sym_resolve(c, tmp_path("text"), NULL, 0x10, &f);
    cr_expect_str_eq(f.name, "text+0x10");
    cr_assert_eq(sym_warning_count(c), 1);
    cr_expect(strstr(sym_warning(c, 0), "not an ELF file"), "%s", sym_warning(c, 0));
    sym_cache_free(c);
}

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    char *buf = malloc(*len);
    cr_assert_eq(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

/* Every lookup on a copy cut at many places answers without crashing. */
Test(sym, truncated_copies_never_crash)
{
    build_program("prog", "-O0 -g");
    size_t len;
    char *whole = read_whole(tmp_path("prog"), &len);
    struct nm_sym syms[256];
    size_t n = nm_read(tmp_path("prog"), syms, 256);
    for (size_t cut = 0; cut < len; cut += len / 37 + 1) {
        write_file("cut", whole, cut);
        struct sym_cache *c = sym_cache_new();
        for (size_t i = 0; i < n; i++) {
            struct sym_func f;
            cr_assert_eq(sym_resolve(c, tmp_path("cut"), NULL, syms[i].addr, &f), 0);
            cr_assert(f.name && f.file);
        }
        if (cut < len / 2)
            cr_expect_geq(sym_warning_count(c), 1, "cut at %zu: no warning", cut);
        sym_cache_free(c);
    }
    free(whole);
}

/* Garbage in .debug_info and .debug_line: one warning, names from the
 * symbol table, no crash. */
Test(sym, damaged_dwarf_falls_back_to_symbols)
{
    build_program("prog", "-O0 -g");
    size_t len;
    char *buf = read_whole(tmp_path("prog"), &len);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
    const Elf64_Shdr *sh_tab = (const Elf64_Shdr *)(buf + eh->e_shoff);
    const char *names = buf + sh_tab[eh->e_shstrndx].sh_offset;
    int damaged = 0;
    unsigned seed = 12345;
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        const char *name = names + sh_tab[i].sh_name;
        if (strcmp(name, ".debug_info") && strcmp(name, ".debug_line") &&
            strcmp(name, ".debug_abbrev"))
            continue;
        for (size_t b = 8; b < sh_tab[i].sh_size; b++) {
            seed = seed * 1103515245 + 12345;
            buf[sh_tab[i].sh_offset + b] = (char)(seed >> 16);
        }
        damaged++;
    }
    cr_assert_eq(damaged, 3);
    write_file("damaged", buf, len);
    free(buf);
    struct sym_cache *c = sym_cache_new();
    for (size_t i = 0; i < NFUNCS; i++) {
        struct nm_sym syms[256];
        size_t n = nm_read(tmp_path("prog"), syms, 256);
        const struct nm_sym *s = nm_find(syms, n, program_funcs[i].name);
        struct sym_func f;
        sym_resolve(c, tmp_path("damaged"), NULL, s->addr, &f);
        cr_expect_str_eq(f.name, program_funcs[i].name);
    }
    cr_assert_eq(sym_warning_count(c), 1);
    cr_expect(strstr(sym_warning(c, 0), "debug info cprof cannot read"), "%s",
              sym_warning(c, 0));
    sym_cache_free(c);
}

Test(sym, separate_debug_file_by_debuglink)
{
    build_program("prog", "-O0 -gline-tables-only");
    cr_assert_eq(sh("objcopy --only-keep-debug prog prog.debug && strip -s prog && "
                    "objcopy --add-gnu-debuglink=prog.debug prog"),
                 0);
    struct sym_cache *c = sym_cache_new();
    sym_cache_set_debug_root(c, "");
    for (size_t i = 0; i < NFUNCS; i++)
        expect_func(c, tmp_path("prog"), tmp_path("prog.debug"), program_funcs[i].name,
                    program_funcs[i].file, program_funcs[i].body_line, SYM_DWARF);
    sym_cache_free(c);
}

Test(sym, separate_debug_file_by_build_id)
{
    build_program("prog", "-O0 -g -Wl,--build-id=sha1");
    char id[200];
    read_build_id("prog", id, sizeof id);
    cr_assert_eq(sh("mkdir -p root/.build-id/%.2s && objcopy --only-keep-debug prog "
                    "root/.build-id/%.2s/%s.debug && strip -s prog",
                    id, id, id + 2),
                 0);
    struct sym_cache *c = sym_cache_new();
    sym_cache_set_debug_root(c, tmp_path("root"));
    char debug[300];
    snprintf(debug, sizeof debug, "root/.build-id/%.2s/%s.debug", id, id + 2);
    for (size_t i = 0; i < NFUNCS; i++)
        expect_named(c, tmp_path("prog"), tmp_path(debug), program_funcs[i].name,
                     program_funcs[i].source_name ? program_funcs[i].source_name
                                                  : program_funcs[i].name,
                     program_funcs[i].file, program_funcs[i].decl_line, SYM_DWARF);
    sym_cache_free(c);
}

/* Thousands of functions: each resolves to itself, quickly. */
Test(sym, many_functions)
{
    enum { N = 3000 };
    size_t cap = (size_t)N * 64 + 64, len = 0;
    char *src = malloc(cap);
    for (int i = 0; i < N; i++) /* function i starts at line 4i+1 */
        len += (size_t)snprintf(src + len, cap - len,
                                "int f%d(int x)\n{\n    return x + %d;\n}\n", i, i);
    len += (size_t)snprintf(src + len, cap - len, "int main(void) { return 0; }\n");
    write_file("many.c", src, len);
    free(src);
    cr_assert_eq(sh("clang-14 -O0 -gline-tables-only many.c -o many"), 0);
    static struct nm_sym syms[8192];
    size_t n = nm_read(tmp_path("many"), syms, 8192);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct sym_cache *c = sym_cache_new();
    int checked = 0;
    for (size_t i = 0; i < n; i++) {
        int k;
        char tail;
        if (sscanf(syms[i].name, "f%d%c", &k, &tail) != 1)
            continue;
        struct sym_func f;
        sym_resolve(c, tmp_path("many"), NULL, syms[i].addr + syms[i].size - 1, &f);
        cr_assert_str_eq(f.name, syms[i].name);
        cr_assert_eq(f.line, (unsigned)(4 * k + 2), "%s: line %u", f.name, f.line);
        checked++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sym_cache_free(c);
    cr_expect_eq(checked, N);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_expect_lt(s, 2.0, "%d lookups took %.3f s", N, s);
}

/* Writes units files u0.c ... with three functions each: function k of
 * unit u is "u<u>_f<k>", declared at line 4k+1. */
static void write_units(int units)
{
    for (int u = 0; u < units; u++) {
        char name[32], src[512];
        size_t len = 0;
        for (int k = 0; k < 3; k++)
            len += (size_t)snprintf(src + len, sizeof src - len,
                                    "int u%d_f%d(int x)\n{\n    return x * %d + %d;\n}\n",
                                    u, k, k + 2, u);
        snprintf(name, sizeof name, "u%d.c", u);
        write_file(name, src, len);
    }
    static const char main_only[] = "int main(void) { return 0; }\n";
    write_file("main.c", main_only, strlen(main_only));
}

/* Resolves every function of write_units(units) in bin, last unit first
 * (so units are read out of order), against its name, file and line. */
static void expect_units(const char *bin, int units)
{
    static struct nm_sym syms[8192];
    size_t n = nm_read(tmp_path(bin), syms, 8192);
    struct sym_cache *c = sym_cache_new();
    int checked = 0;
    for (int u = units - 1; u >= 0; u--)
        for (int k = 0; k < 3; k++) {
            char name[32], file[32];
            snprintf(name, sizeof name, "u%d_f%d", u, k);
            snprintf(file, sizeof file, "u%d.c", u);
            expect_func(c, tmp_path(bin), tmp_path(bin), name, file,
                        (unsigned)(4 * k + 1), SYM_DWARF);
            checked++;
        }
    cr_expect_eq(checked, 3 * units);
    cr_expect_eq(sym_warning_count(c), 0, "%s: %s", bin, sym_warning(c, 0));
    sym_cache_free(c);
    (void)n;
}

/* Compressed debug sections (as distributions ship debug files): with
 * .debug_aranges (gcc), .debug_info is inflated only as far as the units
 * looked up; without (clang's default), all of it, to list the units. A
 * binary whose .debug_aranges lists only some units (objects built with
 * and without -gdwarf-aranges) finds the others when no range holds the
 * address. */
Test(sym, compressed_units_with_and_without_aranges)
{
    enum { UNITS = 40 };
    write_units(UNITS);
    char half[2][1024] = {"", ""};
    for (int u = 0; u < UNITS; u++) {
        char f[16];
        snprintf(f, sizeof f, " u%d.c", u);
        strcat(half[u >= UNITS / 2], f);
    }
    cr_assert_eq(
        sh("clang-14 -O0 -g -c -gdwarf-aranges %s && clang-14 -O0 -g -c %s main.c && "
           "clang-14 *.o -o mixed && rm -f *.o",
           half[0], half[1]),
        0);
    cr_assert_eq(sh("clang-14 -O0 -g u*.c main.c -o clang_plain"), 0);
    /* DWARF 4 unit headers name their abbreviations elsewhere than 5's;
     * with a .debug_types section, .debug_abbrev is inflated whole */
    cr_assert_eq(
        sh("clang-14 -O0 -g -gdwarf-4 -gdwarf-aranges u*.c main.c -o clang4 && "
           "clang-14 -O0 -g -gdwarf-4 -fdebug-types-section u*.c main.c -o types"),
        0);
    const char *bins[] = {"gcc_z",   "clang_z", "mixed_z",     "clang4_z",
                          "types_z", "gcc4_z",  "clang_plain", "gcc_plain"};
    int have_gcc = sh("command -v gcc >/dev/null") == 0;
    if (have_gcc)
        cr_assert_eq(sh("gcc -O0 -g u*.c main.c -o gcc_plain && "
                        "gcc -O0 -g -gdwarf-4 u*.c main.c -o gcc4"),
                     0);
    cr_assert_eq(
        sh("for b in clang_plain mixed clang4 types; do "
           "objcopy --compress-debug-sections=zlib $b ${b%%_plain}_z || exit 1; done"),
        0);
    if (have_gcc)
        cr_assert_eq(sh("objcopy --compress-debug-sections=zlib gcc_plain gcc_z && "
                        "objcopy --compress-debug-sections=zlib gcc4 gcc4_z"),
                     0);
    for (size_t b = 0; b < sizeof bins / sizeof bins[0]; b++) {
        if (!have_gcc && bins[b][0] == 'g')
            continue;
        int compressed = strstr(bins[b], "_z") != NULL;
        cr_assert_eq(sh("readelf -SW %s | grep -q ' \\.debug_info .* C '", bins[b]),
                     compressed ? 0 : 1, "%s: .debug_info compressed is not %d", bins[b],
                     compressed);
        int aranges = bins[b][0] == 'g' || bins[b][0] == 'm' || strstr(bins[b], "clang4");
        cr_assert_eq(sh("readelf -SW %s | grep -q ' \\.debug_aranges '", bins[b]),
                     aranges ? 0 : 1, "%s: .debug_aranges present is not %d", bins[b],
                     aranges);
        expect_units(bins[b], UNITS);
        /* sections inflated a few bytes at a time, as a large file's
         * are: the first units' abbreviations, then the next ... */
        sym_object_chunks(1, 1, 7);
        expect_units(bins[b], UNITS);
        sym_object_chunks(256 * 1024, 16 * 1024, 64 * 1024);
    }
}

/* A damaged compressed .debug_info or .debug_abbrev (its header, or its
 * stream anywhere; both are inflated in part, as far as the units looked
 * up): at most one warning, names from the symbol table, no crash. */
Test(sym, damaged_compressed_dwarf_falls_back_to_symbols)
{
    enum { UNITS = 20 };
    write_units(UNITS);
    cr_assert_eq(sh("clang-14 -O0 -g -gdwarf-aranges u*.c main.c -o prog && "
                    "objcopy --compress-debug-sections=zlib prog prog_z"),
                 0);
    size_t len;
    char *whole = read_whole(tmp_path("prog_z"), &len);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)whole;
    const Elf64_Shdr *sh_tab = (const Elf64_Shdr *)(whole + eh->e_shoff);
    const char *names = whole + sh_tab[eh->e_shstrndx].sh_offset;
    static struct nm_sym syms[256];
    size_t n = nm_read(tmp_path("prog"), syms, 256);
    static const char *const damaged[] = {".debug_info", ".debug_abbrev"};
    for (int d = 0; d < 2 * 8; d++) {
        int where = d % 8;
        const Elf64_Shdr *info = NULL; /* the damaged section */
        for (unsigned i = 0; i < eh->e_shnum; i++)
            if (strcmp(names + sh_tab[i].sh_name, damaged[d / 8]) == 0)
                info = &sh_tab[i];
        cr_assert(info && (info->sh_flags & SHF_COMPRESSED), "%s", damaged[d / 8]);
        char *buf = malloc(len);
        memcpy(buf, whole, len);
        if (where == 0) /* a compression type cprof does not know */
            ((Elf64_Chdr *)(buf + info->sh_offset))->ch_type = 99;
        /* garbage over an eighth of the stream, after the header */
        size_t from =
            sizeof(Elf64_Chdr) + (info->sh_size - sizeof(Elf64_Chdr)) * where / 8;
        unsigned seed = 777u + (unsigned)where;
        for (size_t b = from; where && b < info->sh_size && b < from + info->sh_size / 8;
             b++) {
            seed = seed * 1103515245 + 12345;
            buf[info->sh_offset + b] = (char)(seed >> 16);
        }
        write_file("damaged", buf, len);
        free(buf);
        /* as a large file's: inflated in part (odd cases: whole) */
        sym_object_chunks(where & 1 ? 256 * 1024 : 1, where & 1 ? 16 * 1024 : 1,
                          where & 1 ? 64 * 1024 : 7);
        struct sym_cache *c = sym_cache_new();
        for (size_t i = 0; i < n; i++) {
            struct sym_func f;
            cr_assert_eq(sym_resolve(c, tmp_path("damaged"), NULL, syms[i].addr, &f), 0);
            cr_expect_str_eq(f.name, syms[i].name, "%s: damage at %d/8", damaged[d / 8],
                             where);
        }
        cr_expect_leq(sym_warning_count(c), 1, "%s: damage at %d/8: %s", damaged[d / 8],
                      where, sym_warning(c, 1));
        if (where == 0)
            cr_expect_eq(sym_warning_count(c), 1, "an unknown compression is not said");
        if (sym_warning_count(c))
            cr_expect(strstr(sym_warning(c, 0), "debug info cprof cannot read"), "%s",
                      sym_warning(c, 0));
        sym_cache_free(c);
    }
    sym_object_chunks(256 * 1024, 16 * 1024, 64 * 1024);
    free(whole);
}
