/*
 * The line-instrumentation pass (LLVM-C API), for `cprof-cc --cprof-lines`.
 * In each defined function whose name matches one of the globs cprof-cc
 * passes in $CPROF_LINES_PASS_PATTERNS, it inserts __cprof_line(&site)
 * before the first instruction of every basic block that has a source line,
 * and again wherever the (file, line) changes inside the block, so that a
 * line's hits are the times control entered its code from elsewhere (a jump
 * at the end of a block, such as a loop's back edge, is not an entry: the
 * block it jumps to counts). Each distinct (function, file, line) gets one
 * private constant struct cprof_line_site (common/cprof_lines.h).
 *
 * It runs at the start of the pipeline, before inlining and before clang's
 * EntryExitInstrumenter adds the enter/exit hooks (which then land before
 * the first and after the last line call). The calls are opaque side
 * effects, so the optimiser keeps how often each one runs: hits are exact
 * and the same at every -O level. Instructions that clang emits only when
 * optimising (lifetime markers, llvm.expect, ...) are not taken as line
 * starts, for the same reason.
 */
#include "cprof_lines_pass.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/DebugInfo.h>

#include "cprof_lines.h"

/* The globs, split out of a copy of the environment variable. */
struct lp_patterns {
    char *text;
    char **glob;
    size_t n;
};

/* A file name string already in the module, by its DIFile. */
struct lp_file {
    LLVMMetadataRef md;
    LLVMValueRef str;
};

/* A site of the function being instrumented. */
struct lp_site {
    LLVMMetadataRef file;
    unsigned line;
    LLVMValueRef global;
};

struct lp_module {
    LLVMModuleRef m;
    LLVMContextRef ctx;
    LLVMBuilderRef builder;
    LLVMTypeRef i8p, i32;
    LLVMTypeRef hook_type; /* of __cprof_line as declared in the module */
    LLVMValueRef hook;
    LLVMTypeRef site_arg; /* the hook's parameter type */
    struct lp_file *files;
    size_t n_files;
    struct lp_site *sites; /* of the current function */
    size_t n_sites;
    LLVMValueRef fn, fn_ptr, fn_name;
};

static int lp_parse_patterns(struct lp_patterns *p)
{
    const char *env = getenv(CPROF_LINES_PASS_ENV);
    memset(p, 0, sizeof(*p));
    if (!env || !*env)
        return 0;
    p->text = strdup(env);
    p->glob = calloc(strlen(env) / 2 + 2, sizeof(*p->glob));
    if (!p->text || !p->glob)
        return 0;
    for (char *save = NULL, *tok = strtok_r(p->text, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
        p->glob[p->n++] = tok;
    return p->n > 0;
}

static int lp_selected(const struct lp_patterns *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (fnmatch(p->glob[i], name, 0) == 0)
            return 1;
    return 0;
}

/* Makes room for item n of array (n items in it now): the capacity is 8,
 * then doubles at each power of two. */
static void *lp_grow(void *array, size_t n, size_t size)
{
    if (n != 0 && (n < 8 || (n & (n - 1))))
        return array;
    void *grown = realloc(array, (n ? n * 2 : 8) * size);
    if (!grown) {
        fputs("cprof-cc: --cprof-lines: out of memory\n", stderr);
        exit(1);
    }
    return grown;
}

/* A private constant NUL-terminated string; returns an i8* to its start. */
static LLVMValueRef lp_string(struct lp_module *lm, const char *s, size_t len)
{
    LLVMValueRef init = LLVMConstStringInContext(lm->ctx, s, (unsigned)len, 0);
    LLVMValueRef g = LLVMAddGlobal(lm->m, LLVMTypeOf(init), "__cprof_line_str");
    LLVMSetInitializer(g, init);
    LLVMSetLinkage(g, LLVMPrivateLinkage);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
    LLVMSetAlignment(g, 1);
    LLVMValueRef zero = LLVMConstInt(lm->i32, 0, 0);
    LLVMValueRef index[2] = {zero, zero};
    return LLVMConstInBoundsGEP2(LLVMTypeOf(init), g, index, 2);
}

/* The path of a DIFile, joined to its directory when relative. */
static LLVMValueRef lp_file_string(struct lp_module *lm, LLVMMetadataRef file)
{
    for (size_t i = 0; i < lm->n_files; i++)
        if (lm->files[i].md == file)
            return lm->files[i].str;
    unsigned name_len = 0, dir_len = 0;
    const char *name = LLVMDIFileGetFilename(file, &name_len);
    const char *dir = LLVMDIFileGetDirectory(file, &dir_len);
    if (!name)
        name = "", name_len = 0;
    char *path = malloc((size_t)name_len + dir_len + 2);
    if (!path) {
        fputs("cprof-cc: --cprof-lines: out of memory\n", stderr);
        exit(1);
    }
    size_t len = 0;
    if (name[0] != '/' && dir && dir_len > 0) {
        memcpy(path, dir, dir_len);
        len = dir_len;
        if (path[len - 1] != '/')
            path[len++] = '/';
    }
    memcpy(path + len, name, name_len);
    len += name_len;
    lm->files = lp_grow(lm->files, lm->n_files, sizeof(*lm->files));
    lm->files[lm->n_files].md = file;
    lm->files[lm->n_files].str = lp_string(lm, path, len);
    free(path);
    return lm->files[lm->n_files++].str;
}

/* The site of (current function, file, line), made on first use; returns
 * it cast to the hook's parameter type. */
static LLVMValueRef lp_site(struct lp_module *lm, LLVMMetadataRef file, unsigned line)
{
    for (size_t i = 0; i < lm->n_sites; i++)
        if (lm->sites[i].file == file && lm->sites[i].line == line)
            return LLVMConstBitCast(lm->sites[i].global, lm->site_arg);
    if (!lm->fn_name) {
        size_t len = 0;
        const char *name = LLVMGetValueName2(lm->fn, &len);
        lm->fn_name = lp_string(lm, name, len);
    }
    LLVMValueRef field[5] = {
        lm->fn_ptr,
        lm->fn_name,
        lp_file_string(lm, file),
        LLVMConstInt(lm->i32, line, 0),
        LLVMConstInt(lm->i32, 0, 0),
    };
    LLVMValueRef init = LLVMConstStructInContext(lm->ctx, field, 5, 0);
    LLVMValueRef g = LLVMAddGlobal(lm->m, LLVMTypeOf(init), "__cprof_line_site");
    LLVMSetInitializer(g, init);
    LLVMSetLinkage(g, LLVMPrivateLinkage);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetAlignment(g, 8);
    lm->sites = lp_grow(lm->sites, lm->n_sites, sizeof(*lm->sites));
    lm->sites[lm->n_sites++] = (struct lp_site){file, line, g};
    return LLVMConstBitCast(g, lm->site_arg);
}

/* The name of the function a call instruction calls directly, or NULL. */
static const char *lp_callee_name(LLVMValueRef inst)
{
    if (!LLVMIsACallInst(inst))
        return NULL;
    LLVMValueRef callee = LLVMGetCalledValue(inst);
    if (!callee || !LLVMIsAFunction(callee))
        return NULL;
    size_t len;
    return LLVMGetValueName2(callee, &len);
}

static int lp_is_enter_hook(LLVMValueRef inst)
{
    const char *name = lp_callee_name(inst);
    return name && (!strcmp(name, "__cyg_profile_func_enter") ||
                    !strcmp(name, "__cyg_profile_func_enter_bare"));
}

static int lp_is_exit_hook(LLVMValueRef inst)
{
    const char *name = lp_callee_name(inst);
    return name && !strcmp(name, "__cyg_profile_func_exit");
}

/* Where line calls may start in the entry block: after the enter hook when
 * it is already there (it is not in clang 14, whose EntryExitInstrumenter
 * runs after this pass, but other pipelines may differ). */
static LLVMValueRef lp_entry_start(LLVMBasicBlockRef entry)
{
    for (LLVMValueRef inst = LLVMGetFirstInstruction(entry); inst;
         inst = LLVMGetNextInstruction(inst))
        if (lp_is_enter_hook(inst))
            return LLVMGetNextInstruction(inst);
    return LLVMGetFirstInstruction(entry);
}

/* Instructions that never start a line: a call cannot go before them (PHIs,
 * exception pads), or they do not exist at every -O level (lifetime
 * markers and the pointer casts that feed them, llvm.expect, ...) or
 * produce no code (debug intrinsics, casts). */
static int lp_not_a_line_start(LLVMValueRef inst)
{
    static const char *const skipped[] = {
        "llvm.dbg.",        "llvm.lifetime.",  "llvm.expect",
        "llvm.assume",      "llvm.invariant.", "llvm.experimental.noalias.scope.decl",
        "llvm.pseudoprobe",
    };
    switch (LLVMGetInstructionOpcode(inst)) {
    case LLVMPHI:
    case LLVMLandingPad:
    case LLVMCatchPad:
    case LLVMCleanupPad:
    case LLVMCatchSwitch:
    case LLVMBitCast:
        return 1;
    default:
        break;
    }
    const char *name = lp_callee_name(inst);
    if (!name || strncmp(name, "llvm.", 5) != 0)
        return 0;
    for (size_t i = 0; i < sizeof skipped / sizeof *skipped; i++)
        if (!strncmp(name, skipped[i], strlen(skipped[i])))
            return 1;
    return 0;
}

static void lp_insert(struct lp_module *lm, LLVMValueRef before, LLVMMetadataRef loc,
                      LLVMMetadataRef file, unsigned line)
{
    LLVMValueRef arg = lp_site(lm, file, line);
    LLVMPositionBuilderBefore(lm->builder, before);
    LLVMValueRef call = LLVMBuildCall2(lm->builder, lm->hook_type, lm->hook, &arg, 1, "");
    LLVMInstructionSetDebugLoc(call, loc);
}

/* Instruments one function: a call at the first line of every block and at
 * every change of line. Entry-block allocas (and an enter hook already
 * there) stay first; nothing goes after a tail call, so that a musttail
 * call stays right before its ret, nor after an exit hook already there. */
static void lp_function(struct lp_module *lm, LLVMValueRef fn)
{
    lm->fn = fn;
    lm->fn_ptr = LLVMConstBitCast(fn, lm->i8p);
    lm->fn_name = NULL;
    lm->n_sites = 0;
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(fn);
    for (LLVMBasicBlockRef bb = entry; bb; bb = LLVMGetNextBasicBlock(bb)) {
        int prefix = bb == entry;
        LLVMMetadataRef cur_file = NULL;
        unsigned cur_line = 0;
        LLVMValueRef start =
            bb == entry ? lp_entry_start(bb) : LLVMGetFirstInstruction(bb);
        for (LLVMValueRef inst = start; inst; inst = LLVMGetNextInstruction(inst)) {
            if (lp_is_exit_hook(inst))
                break;
            if (lp_not_a_line_start(inst))
                continue;
            if (prefix && LLVMIsAAllocaInst(inst))
                continue;
            prefix = 0;
            /* A jump after the block's own lines (the back edge of a loop,
             * which carries the loop's line) is not control entering that
             * line: its test, in the next block, is. A block of only a
             * jump (break, continue, goto) is. */
            if (cur_line && LLVMGetInstructionOpcode(inst) == LLVMBr &&
                !LLVMIsConditional(inst))
                continue;
            LLVMMetadataRef loc = LLVMInstructionGetDebugLoc(inst);
            unsigned line = loc ? LLVMDILocationGetLine(loc) : 0;
            LLVMMetadataRef file =
                line ? LLVMDIScopeGetFile(LLVMDILocationGetScope(loc)) : NULL;
            if (line && file && (file != cur_file || line != cur_line)) {
                lp_insert(lm, inst, loc, file, line);
                cur_file = file;
                cur_line = line;
            }
            if (LLVMIsACallInst(inst) && LLVMIsTailCall(inst))
                break;
        }
    }
}

/* Declares __cprof_line (or takes the module's own declaration). Returns
 * 0 when the module has something else by that name. */
static int lp_hook(struct lp_module *lm)
{
    LLVMValueRef hook = LLVMGetNamedFunction(lm->m, CPROF_LINE_HOOK);
    if (!hook) {
        LLVMTypeRef param = lm->i8p;
        lm->hook_type = LLVMFunctionType(LLVMVoidTypeInContext(lm->ctx), &param, 1, 0);
        hook = LLVMAddFunction(lm->m, CPROF_LINE_HOOK, lm->hook_type);
        unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
        LLVMAddAttributeAtIndex(hook, LLVMAttributeFunctionIndex,
                                LLVMCreateEnumAttribute(lm->ctx, nounwind, 0));
    }
    lm->hook_type = LLVMGlobalGetValueType(hook);
    if (LLVMGetTypeKind(lm->hook_type) != LLVMFunctionTypeKind ||
        LLVMCountParamTypes(lm->hook_type) != 1)
        return 0;
    LLVMGetParamTypes(lm->hook_type, &lm->site_arg);
    if (LLVMGetTypeKind(lm->site_arg) != LLVMPointerTypeKind)
        return 0;
    lm->hook = hook;
    return 1;
}

/* Was fn compiled with -finstrument-functions (and not marked
 * no_instrument_function)? Before clang's EntryExitInstrumenter the
 * attribute says so, after it the enter call does. */
static int lp_has_enter_hook(LLVMValueRef fn)
{
    static const char attr[] = "instrument-function-entry";
    if (LLVMGetStringAttributeAtIndex(fn, LLVMAttributeFunctionIndex, attr,
                                      sizeof attr - 1))
        return 1;
    for (LLVMValueRef inst = LLVMGetFirstInstruction(LLVMGetEntryBasicBlock(fn)); inst;
         inst = LLVMGetNextInstruction(inst))
        if (lp_is_enter_hook(inst))
            return 1;
    return 0;
}

static const char *lp_source(LLVMModuleRef m)
{
    size_t len;
    const char *src = LLVMGetSourceFileName(m, &len);
    return src && *src ? src : "<stdin>";
}

int cprof_lines_run(LLVMModuleRef m)
{
    struct lp_patterns pat;
    if (!lp_parse_patterns(&pat)) {
        free(pat.text);
        free(pat.glob);
        return 0;
    }
    size_t n_fns = 0;
    LLVMValueRef *fns = NULL;
    for (LLVMValueRef fn = LLVMGetFirstFunction(m); fn; fn = LLVMGetNextFunction(fn)) {
        size_t len;
        if (LLVMIsDeclaration(fn) || !lp_selected(&pat, LLVMGetValueName2(fn, &len)))
            continue;
        fns = lp_grow(fns, n_fns, sizeof(*fns));
        fns[n_fns++] = fn;
    }
    struct lp_module lm = {.m = m, .ctx = LLVMGetModuleContext(m)};
    int changed = 0;
    if (n_fns > 0 && LLVMGetNamedMetadataNumOperands(m, "llvm.dbg.cu") == 0) {
        fprintf(stderr,
                "cprof-cc: warning: --cprof-lines: %s has no debug information "
                "(-g0?); no line instrumentation in it\n",
                lp_source(m));
        n_fns = 0;
    }
    if (n_fns > 0) {
        lm.i8p = LLVMPointerType(LLVMInt8TypeInContext(lm.ctx), 0);
        lm.i32 = LLVMInt32TypeInContext(lm.ctx);
        if (!lp_hook(&lm)) {
            fprintf(stderr,
                    "cprof-cc: warning: --cprof-lines: %s declares %s other than "
                    "as in cprof_lines.h; no line instrumentation in it\n",
                    lp_source(m), CPROF_LINE_HOOK);
            n_fns = 0;
        }
    }
    if (n_fns > 0)
        lm.builder = LLVMCreateBuilderInContext(lm.ctx);
    for (size_t i = 0; i < n_fns; i++) {
        size_t len;
        const char *name = LLVMGetValueName2(fns[i], &len);
        if (!LLVMGetSubprogram(fns[i])) {
            fprintf(stderr,
                    "cprof-cc: warning: --cprof-lines: %s: %s has no debug "
                    "information; no line instrumentation in it\n",
                    lp_source(m), name);
        } else if (!lp_has_enter_hook(fns[i])) {
            fprintf(stderr,
                    "cprof-cc: warning: --cprof-lines: %s: %s has no enter hook "
                    "(no_instrument_function?); no line instrumentation in it\n",
                    lp_source(m), name);
        } else {
            lp_function(&lm, fns[i]);
            changed |= lm.n_sites > 0;
        }
    }
    if (lm.builder)
        LLVMDisposeBuilder(lm.builder);
    free(lm.files);
    free(lm.sites);
    free(fns);
    free(pat.text);
    free(pat.glob);
    return changed;
}
