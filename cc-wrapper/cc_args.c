/*
 * Reading a compiler command line the way the clang driver does, for the
 * few facts cprof-cc acts on (cc_args.h): which arguments are inputs and of
 * what kind (by -x or by extension), and which options stop the driver
 * before compiling or before linking. Options that take their value as the
 * next argument are listed, so that the value is not mistaken for an input.
 */
#include "cc_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Options whose value is the next argument (when not joined). */
static const char *const cc_with_value[] = {
    "-o",
    "-x",
    "-I",
    "-D",
    "-U",
    "-L",
    "-l",
    "-include",
    "-imacros",
    "-idirafter",
    "-iquote",
    "-isystem",
    "-isysroot",
    "-iprefix",
    "-iwithprefix",
    "-iwithprefixbefore",
    "-MF",
    "-MT",
    "-MQ",
    "-MJ",
    "-Xlinker",
    "-Xassembler",
    "-Xpreprocessor",
    "-Xclang",
    "-Xanalyzer",
    "-target",
    "-arch",
    "-u",
    "-z",
    "-T",
    "-e",
    "-aux-info",
    "-dumpbase",
    "-dumpdir",
    "-ivfsoverlay",
    "-working-directory",
    "-serialize-diagnostics",
    "--param",
    "-Xopenmp-target",
    "-mllvm",
    "-F",
    "-framework",
    "-B",
    "-G",
    "-Tbss",
    "-Tdata",
    "-Ttext",
    "--sysroot",
    "-gcc-toolchain",
    "-imultilib",
    "-isystem-after",
    "-cxx-isystem",
    "-index-header-map",
    "-fmodules-user-build-path",
};

enum cc_lang {
    CC_LANG_AUTO,   /* by extension */
    CC_LANG_SOURCE, /* compiled: C, C++, Objective-C, preprocessed, headers */
    CC_LANG_ASM,    /* assembled only */
    CC_LANG_OTHER,  /* passed to the linker */
};

static enum cc_lang cc_lang_of_x(const char *x)
{
    if (!strcmp(x, "none"))
        return CC_LANG_AUTO;
    if (!strncmp(x, "assembler", 9))
        return CC_LANG_ASM;
    if (!strcmp(x, "ir") || !strcmp(x, "lto-ir") || !strcmp(x, "ast"))
        return CC_LANG_OTHER;
    return CC_LANG_SOURCE;
}

static enum cc_lang cc_lang_of_file(const char *path)
{
    static const char *const sources[] = {
        ".c",  ".i",  ".h",   ".cc",  ".cp", ".cxx", ".cpp", ".c++", ".C", ".CPP",
        ".ii", ".hh", ".hpp", ".hxx", ".H",  ".m",   ".mi",  ".mm",  ".M", ".mii",
    };
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return CC_LANG_OTHER;
    for (size_t i = 0; i < sizeof sources / sizeof *sources; i++)
        if (!strcmp(dot, sources[i]))
            return CC_LANG_SOURCE;
    if (!strcmp(dot, ".s") || !strcmp(dot, ".S") || !strcmp(dot, ".sx"))
        return CC_LANG_ASM;
    return CC_LANG_OTHER;
}

static int cc_takes_value(const char *arg)
{
    for (size_t i = 0; i < sizeof cc_with_value / sizeof *cc_with_value; i++)
        if (!strcmp(arg, cc_with_value[i]))
            return 1;
    return 0;
}

/* Is arg a -g option that turns debug info on or off (as opposed to one
 * that only tunes it, like -gz or -gcolumn-info)? */
static int cc_is_debug_choice(const char *arg)
{
    static const char *const tuning[] = {
        "-gz",
        "-gno-",
        "-gcolumn-info",
        "-gsplit-dwarf",
        "-gpubnames",
        "-ggnu-pubnames",
        "-gstrict-dwarf",
        "-grecord-",
        "-gembed-source",
        "-gsimple-template-names",
        "-gdwarf64",
        "-gdwarf32",
        "-ginline-line-tables",
    };
    if (strncmp(arg, "-g", 2) != 0)
        return 0;
    for (size_t i = 0; i < sizeof tuning / sizeof *tuning; i++)
        if (!strncmp(arg, tuning[i], strlen(tuning[i])))
            return 0;
    return 1;
}

struct cc_state {
    struct cc_plan *plan;
    enum cc_lang lang;
    int stop_before_link; /* -c, -S, -E, -fsyntax-only, -r */
    int preprocess_only;  /* -E, or -M / -MM without -MD / -MMD */
    int dep_only;         /* -M or -MM seen */
    int dep_with_compile; /* -MD or -MMD seen */
    int sources;
    int depth; /* response-file nesting */
};

static void cc_scan(struct cc_state *st, int argc, char **argv);

/* Splits a response file's text like the driver: whitespace separates,
 * quotes and backslashes escape. */
static void cc_response_file(struct cc_state *st, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        st->plan->bad_response_file = path;
        return;
    }
    size_t cap = 64, argc = 0, len = 0, lcap = 256;
    char **argv = malloc(cap * sizeof(*argv));
    char *word = malloc(lcap);
    int c, quote = 0, in_word = 0;
    if (!argv || !word) {
        fclose(f);
        free(argv);
        free(word);
        return;
    }
    for (;;) {
        c = fgetc(f);
        int end_word =
            c == EOF || (!quote && (c == ' ' || c == '\t' || c == '\n' || c == '\r'));
        if (end_word) {
            if (in_word) {
                word[len] = 0;
                if (argc == cap) {
                    char **grown = realloc(argv, (cap *= 2) * sizeof(*argv));
                    if (!grown)
                        break;
                    argv = grown;
                }
                argv[argc++] = strdup(word);
                len = 0;
                in_word = 0;
            }
            if (c == EOF)
                break;
            continue;
        }
        if (c == '\\') {
            int next = fgetc(f);
            if (next != EOF)
                c = next;
        } else if (quote && c == quote) {
            quote = 0;
            in_word = 1;
            continue;
        } else if (!quote && (c == '"' || c == '\'')) {
            quote = c;
            in_word = 1;
            continue;
        }
        if (len + 2 > lcap) {
            char *grown = realloc(word, lcap *= 2);
            if (!grown)
                break;
            word = grown;
        }
        word[len++] = (char)c;
        in_word = 1;
    }
    fclose(f);
    free(word);
    st->depth++;
    if (st->depth < 16)
        cc_scan(st, (int)argc, argv);
    st->depth--;
    for (size_t i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
}

static void cc_input(struct cc_state *st, const char *path)
{
    enum cc_lang lang = st->lang != CC_LANG_AUTO ? st->lang : cc_lang_of_file(path);
    st->plan->inputs++;
    if (lang == CC_LANG_SOURCE)
        st->sources++;
    else if (lang == CC_LANG_ASM)
        st->plan->assembles = 1;
}

static void cc_scan(struct cc_state *st, int argc, char **argv)
{
    struct cc_plan *plan = st->plan;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '@' && a[1]) {
            cc_response_file(st, a + 1);
            continue;
        }
        if (a[0] != '-' || !strcmp(a, "-")) {
            cc_input(st, a);
            continue;
        }
        if (!strcmp(a, "-x") && i + 1 < argc) {
            st->lang = cc_lang_of_x(argv[++i]);
            continue;
        }
        if (!strncmp(a, "-x", 2)) {
            st->lang = cc_lang_of_x(a + 2);
            continue;
        }
        if (cc_takes_value(a)) {
            i++;
            continue;
        }
        if (!strcmp(a, "-c") || !strcmp(a, "-S") || !strcmp(a, "-fsyntax-only") ||
            !strcmp(a, "-r"))
            st->stop_before_link = 1;
        else if (!strcmp(a, "-E"))
            st->preprocess_only = 1;
        else if (!strcmp(a, "-M") || !strcmp(a, "-MM"))
            st->dep_only = 1;
        else if (!strcmp(a, "-MD") || !strcmp(a, "-MMD"))
            st->dep_with_compile = 1;
        else if (!strcmp(a, "-static") || !strcmp(a, "-static-pie"))
            plan->is_static = 1;
        else if (!strcmp(a, "--version"))
            plan->version = 1;
        else if (!strcmp(a, "--help"))
            plan->help = 1;
        else if (cc_is_debug_choice(a))
            plan->has_g = 1;
        if (!strcmp(a, "-fsyntax-only"))
            st->preprocess_only = 1; /* nothing is generated: add nothing */
    }
}

void cc_classify(int argc, char **argv, struct cc_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    struct cc_state st = {.plan = plan};
    cc_scan(&st, argc, argv);
    int stops_early = st.preprocess_only || (st.dep_only && !st.dep_with_compile);
    plan->lang_set = st.lang != CC_LANG_AUTO;
    plan->compiles = st.sources > 0 && !stops_early && !plan->version && !plan->help;
    plan->links = plan->inputs > 0 && !stops_early && !st.stop_before_link &&
                  !plan->version && !plan->help;
}
