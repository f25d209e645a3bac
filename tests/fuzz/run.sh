#!/usr/bin/env bash
# A fuzz smoke run of the reader and the model: seeds are real .cprof files
# recorded here (a small program with recursion, a thread, longjmp, a
# fork, hand-made line events and heap use: allocations, a realloc, a leak,
# a block freed by another thread and one freed by the forked child, a
# region and recording switched off and on (format 1.4), in each
# recording mode); libFuzzer then mutates them for SECONDS.
# Then the symbolizer for SYM_SECONDS (third argument, or CPROF_FUZZ_SYM_SECONDS,
# 15): its seeds are real small ELF files (the seed program built with and
# without -g, -gline-tables-only, stripped, with .debug_aranges, with
# compressed debug sections, and /bin/true).
# Any crash, leak or sanitizer report fails the run; the failing input is
# kept in the work directory (printed) for a regression test.
#   usage: tests/fuzz/run.sh BUILD_DIR [SECONDS [SYM_SECONDS]]
set -euo pipefail
build=$(realpath "${1:?usage: tests/fuzz/run.sh BUILD_DIR [SECONDS [SYM_SECONDS]]}")
seconds=${2:-30}
sym_seconds=${3:-${CPROF_FUZZ_SYM_SECONDS:-15}}
fuzzer=$build/bin/cprof-fuzz-reader
sym_fuzzer=$build/bin/cprof-fuzz-sym
rt=$build/lib/cprof
for f in "$fuzzer" "$sym_fuzzer"; do
  [ -x "$f" ] || { echo "fuzz: $f is missing (build with clang and -DCPROF_SANITIZE=ON)"; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/cprof-fuzz.XXXXXX")
echo "fuzz: work directory $work"

cat >"$work/seed.c" <<'C'
#include <pthread.h>
#include <setjmp.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static jmp_buf env;
/* a line site as common/cprof_lines.h defines it, for line records */
struct site { void *fn; const char *func, *file; unsigned line, flags; };
void __cprof_line(const struct site *site);
static int fib(int n);
/* <cprof.h>'s entry points (format 1.4 data: a region, a period off) */
extern void cprof_rt_region_begin(const char *name) __attribute__((weak));
extern void cprof_rt_region_end(void) __attribute__((weak));
extern void cprof_rt_stop(void) __attribute__((weak));
extern void cprof_rt_start(void) __attribute__((weak));
static const struct site fib_line = {(void *)fib, "fib", "seed.c", 12, 0};
static int fib(int n) { __cprof_line(&fib_line); return n < 2 ? n : fib(n - 1) + fib(n - 2); }
static void jump(int d) { if (d == 0) longjmp(env, 1); jump(d - 1); }
static void *volatile sink;
static void *make(int n) { return malloc((size_t)n); }
static void *worker(void *arg) { free(arg); sink = make(24); fib(12); return NULL; }
int main(void)
{
    pthread_t t;
    void *shared = make(100), *inherited = make(7);
    pthread_create(&t, NULL, worker, shared);
    fib(10);
    if (cprof_rt_region_begin) { cprof_rt_region_begin("seed"); fib(6); cprof_rt_region_end(); }
    if (cprof_rt_stop) { cprof_rt_stop(); fib(4); cprof_rt_start(); }
    sink = realloc(make(16), 64);
    if (!setjmp(env))
        jump(3);
    pthread_join(t, NULL);
    pid_t pid = fork();
    if (pid == 0) { free(inherited); fib(5); exit(0); }
    waitpid(pid, NULL, 0);
    return 0;
}
C
clang -O1 -g -finstrument-functions -o "$work/seed" "$work/seed.c" -lpthread \
  -L"$rt" -Wl,-rpath,"$rt" -lcprof-rt
mkdir -p "$work/seeds" "$work/corpus"
for mode in summary trace count; do
  CPROF_DIR="$work/seeds/$mode" CPROF_MODE=$mode "$work/seed"
done
find "$work/seeds" -name '*.cprof' -exec cp {} "$work/corpus/" \;
echo "fuzz: $(ls "$work/corpus" | wc -l) seed files"

# ELF seeds for the symbolizer
mkdir -p "$work/sym-corpus"
cp "$work/seed" "$work/sym-corpus/seed-g"
clang -O1 -o "$work/sym-corpus/seed-nog" "$work/seed.c" -lpthread \
  -L"$rt" -Wl,-rpath,"$rt" -lcprof-rt
clang -O1 -gline-tables-only -o "$work/sym-corpus/seed-lines" "$work/seed.c" -lpthread \
  -L"$rt" -Wl,-rpath,"$rt" -lcprof-rt
printf 'static int f(int x) { return x + 1; }\nint main(void) { return f(0) - 1; }\n' >"$work/tiny.c"
clang -O0 -g -o "$work/sym-corpus/tiny-g" "$work/tiny.c"
clang -O0 -o "$work/sym-corpus/tiny" "$work/tiny.c"
clang -O0 -s -o "$work/sym-corpus/tiny-stripped" "$work/tiny.c"
# .debug_aranges and compressed sections: the symbolizer's lazy reading
clang -O0 -g -gdwarf-aranges -o "$work/sym-corpus/tiny-aranges" "$work/tiny.c"
objcopy --compress-debug-sections=zlib "$work/sym-corpus/seed-g" "$work/sym-corpus/seed-gz"
cp "$(type -P true)" "$work/sym-corpus/true"
echo "fuzz: $(ls "$work/sym-corpus" | wc -l) ELF seed files"

# run_fuzzer NAME FUZZER SECONDS MAX_LEN CORPUS
run_fuzzer() {
  local log="$work/$1.log"
  if (cd "$work" && TMPDIR="$work" ASAN_OPTIONS=detect_leaks=1 "$2" -max_total_time="$3" \
    -max_len="$4" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$5" >"$log" 2>&1); then
    grep -E '^stat::number_of_executed_units|^#[0-9]+ *DONE' "$log" || tail -3 "$log"
    echo "fuzz: no crash in $3 s ($1)"
  else
    tail -40 "$log"
    echo "fuzz: FAILED ($1); the input that broke it is in $work (crash-*, leak-*, timeout-*)"
    exit 1
  fi
}
run_fuzzer reader "$fuzzer" "$seconds" 65536 corpus
run_fuzzer symbolizer "$sym_fuzzer" "$sym_seconds" 1048576 sym-corpus
rm -rf "$work"
