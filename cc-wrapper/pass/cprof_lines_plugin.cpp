// The clang pass plugin (cprof-lines-pass.so) that cprof-cc loads with
// -fpass-plugin for --cprof-lines. It only registers the pass at the start of
// the pipeline (before inlining, at every -O level, -O0 included) and hands
// the module to the C logic in cprof_lines_pass.c. It is the only C++ in the
// tree: keep it this small. Built against LLVM 14; clang loads it only if its
// own LLVM is the same major version.
#include "llvm/IR/Module.h"
#include "llvm/IR/PassManager.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Passes/PassPlugin.h"

#include "cprof_lines_pass.h"

namespace
{

struct CprofLinesPass : llvm::PassInfoMixin<CprofLinesPass> {
    llvm::PreservedAnalyses run(llvm::Module &m, llvm::ModuleAnalysisManager &)
    {
        return cprof_lines_run(llvm::wrap(&m)) ? llvm::PreservedAnalyses::none()
                                               : llvm::PreservedAnalyses::all();
    }
    // Runs on optnone (-O0) functions too.
    static bool isRequired()
    {
        return true;
    }
};

} // namespace

extern "C" LLVM_ATTRIBUTE_WEAK ::llvm::PassPluginLibraryInfo llvmGetPassPluginInfo()
{
    return {LLVM_PLUGIN_API_VERSION, "cprof-lines", CPROF_VERSION,
            [](llvm::PassBuilder &pb) {
                pb.registerPipelineStartEPCallback(
                    [](llvm::ModulePassManager &mpm, llvm::OptimizationLevel) {
                        mpm.addPass(CprofLinesPass());
                    });
            }};
}
