#!/usr/bin/env bash
# The overhead benchmark: what profiling adds per call, side by side.
#
#   bench/overhead.sh [BUILD_DIR] [--runs N] [--fib N] [--mix N] [--lines N]
#                     [--alloc N] [--long N] [--analyzer] [--chain N]
#                     [--no-build] [--no-lua]
#
# Builds bench/calls.c with clang -O2 in these variants and times each run
# (best of N, wall clock):
#   plain     no instrumentation
#   empty     -finstrument-functions with hooks that do nothing (a shared
#             library): the cost of the instrumentation itself
#   summary   cprof, CPROF_MODE=summary (the default)
#   trace     cprof, CPROF_MODE=trace
#   count     cprof, CPROF_MODE=count
#   uftrace   the empty-hook build under `uftrace record` (uftrace's
#             libmcount takes over the hooks: same binary, same calls)
#   gprof     clang -O2 -pg (mcount in every function, gmon.out written at
#             exit): the program's own run time, gmon.out write included
# and prints the time added per call over the empty-hook build (and over
# plain), and for traces the bytes written per event (an event is an entry
# or an exit; for gprof, gmon.out's size per event). Targets (issue 2):
# summary and trace <= 30 ns/call, count <= 5 ns/call, trace <= 4
# bytes/event.
#
# Then 2-thread scaling (issue 7): `calls mix-threads N` runs mix N in 2
# threads at once; the time added per call over plain (wall time of the
# 2-thread run per call of one thread) against the 1-thread mix N. Target:
# within 20% of the 1-thread figure in every cprof mode (no shared cache
# line written on the hot path). Needs 2 free cores to mean anything.
#
# Then CPU time per call (issue 9): fib and mix N in summary mode with
# CPROF_CPU=1 (summary+cpu: the thread CPU clock read only after the
# thread left the CPU, told by its rseq area) and with glibc's rseq off as
# well (summary+clk: the clock read at every enter and exit, the fallback),
# against the default summary mode; the time added per call over the empty
# hooks and over the default. Target: summary+cpu <= 30 ns/call over the
# empty hooks, like the default.
#
# Then the line hook (issue 3): bench/lines.c makes 2*N+2 line events
# (__cprof_line calls placed by hand where cprof-cc's line pass puts them)
# in one instrumented function, built as plain (no line calls), empty (the
# do-nothing hooks, __cprof_line included) and cprof in the three modes;
# the time added per line event over the empty build, target <= 15 ns in
# every mode.
#
# Then the malloc interposition (issue 4): bench/alloc.c makes 2*N+64
# calls of malloc and free of mixed sizes inside one instrumented
# function, built as plain, empty (instrumented, do-nothing hooks, libc's
# malloc) and cprof in the three modes; the time added per allocation call
# over the empty build, target <= 40 ns in every mode.
#
# Then overhead compensation (issue 7): main's total time in `calls fib`,
# `calls mix` and `calls chain N` (N calls of a function that calls a leaf
# of about 10 ns twice), raw and with the probe cost the runtime measured
# at start subtracted (`cprof report`'s total_adj_ns), in summary and trace
# modes, less each run's time off the processor, beside the plain build's
# CPU time over the same work (plain: the least of N runs; cprof: the run
# with the least raw total, its compensated total beside it; calls.c
# measures both around its workload). Target: chain's compensated summary total
# within 15% of plain. fib and mix at -O2 are no fair comparison: clang
# turns half of plain fib's calls into a loop and inlines mix's.
#
# Last, the analyzer (issue 7), on the fib trace (CPROF_MODE=trace) and
# uftrace's trace of the same run: `cprof report` and `uftrace report`
# CPU time (best of N; wall time without python3), events/s (events = 2
# x calls) and peak RSS
# (/usr/bin/time, else python3's getrusage); `cprof report` on the fib
# summary file and, when tests/real built it (BUILD_DIR/real/lua-cprof),
# on the Lua interpreter's summary file (symbolization of a large binary).
# Targets: cprof report >= 20x faster than uftrace report and >= 100M
# events/s; cprof report on a summary file < 100 ms. The replay row is
# the trace's time less the summary file's (the same program, so the same
# symbolization): what reading the events costs. Then the long trace:
# fib N (--long, default 41: about 1.1G events, 1.7 GiB) in trace mode,
# made once into BUILD_DIR/bench-data/trace-fibN and reused while there
# (delete it to remake it; --long 0 skips), `cprof report` on it once:
# CPU time, events/s and peak RSS (GNU time), the wall time beside them;
# target < 200 MiB. --analyzer prints only the analyzer's tables.
# Then symbolization: the best CPU time of `cprof report` on the summary
# of a 5,000-function program built with cprof-cc, and on fib's; target
# < 100 ms.
#
# Last of all, bench/lua.sh BUILD_DIR --runs N: the same variants on Debian's
# Lua 5.4 interpreter running bench/calls.lua (skipped with a message when
# the source cannot be fetched or built; --no-lua skips it).
#
# --no-build uses BUILD_DIR's runtime and cprof as they are (for a tree
# someone else builds); by default the script builds cprof-rt, cprof and
# cprof-cc.
#
# Exit status 0 whatever the figures (this is a report); non-zero only when
# something could not be built or run.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=$repo/build
runs=5
fib_n=32
mix_n=3000
lines_n=10000000
alloc_n=5000000
long_n=41
analyzer_only=0
chain_n=4000000
do_build=1
do_lua=1
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --fib) fib_n=$2; shift 2 ;;
    --mix) mix_n=$2; shift 2 ;;
    --lines) lines_n=$2; shift 2 ;;
    --alloc) alloc_n=$2; shift 2 ;;
    --long) long_n=$2; shift 2 ;;
    --analyzer) analyzer_only=1; shift ;;
    --chain) chain_n=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --no-lua) do_lua=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    -*) echo "overhead: unknown option $1" >&2; exit 1 ;;
    *) build=$(realpath "$1"); shift ;;
  esac
done
cc=$(command -v clang || command -v clang-14) || { echo "overhead: clang is not installed" >&2; exit 1; }

if [ "$do_build" -eq 1 ]; then
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$build" -j"$(nproc)" --target cprof-rt cprof cprof-cc >/dev/null
fi
rt=$build/lib/cprof
cprof=$build/bin/cprof
[ -f "$rt/libcprof-rt.so" ] && [ -x "$cprof" ] || { echo "overhead: no runtime or cprof in $build" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/cprof-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

src=$repo/bench/calls.c
"$cc" -O2 -pthread -o "$work/plain" "$src"
"$cc" -O2 -pthread -pg -o "$work/gprof" "$src"
have_gprof=0
command -v gprof >/dev/null && have_gprof=1
"$cc" -O2 -fPIC -shared -o "$work/libempty.so" "$repo/bench/empty_hooks.c"
"$cc" -O2 -pthread -finstrument-functions -o "$work/empty" "$src" -L"$work" -Wl,-rpath,"$work" -lempty
"$cc" -O2 -pthread -finstrument-functions -o "$work/cprof" "$src" -L"$rt" -Wl,-rpath,"$rt" \
  -Wl,--no-as-needed -lcprof-rt
lsrc=$repo/bench/lines.c
"$cc" -O2 -finstrument-functions -I"$repo/common" -o "$work/lines-plain" "$lsrc" \
  -L"$work" -Wl,-rpath,"$work" -lempty
"$cc" -O2 -finstrument-functions -DCPROF_BENCH_LINES -I"$repo/common" -o "$work/lines-empty" \
  "$lsrc" -L"$work" -Wl,-rpath,"$work" -lempty
"$cc" -O2 -finstrument-functions -DCPROF_BENCH_LINES -I"$repo/common" -o "$work/lines-cprof" \
  "$lsrc" -L"$rt" -Wl,-rpath,"$rt" -Wl,--no-as-needed -lcprof-rt
asrc=$repo/bench/alloc.c
"$cc" -O2 -o "$work/alloc-plain" "$asrc"
"$cc" -O2 -finstrument-functions -o "$work/alloc-empty" "$asrc" -L"$work" -Wl,-rpath,"$work" -lempty
"$cc" -O2 -finstrument-functions -o "$work/alloc-cprof" "$asrc" -L"$rt" -Wl,-rpath,"$rt" \
  -Wl,--no-as-needed -lcprof-rt
have_uftrace=0
command -v uftrace >/dev/null && have_uftrace=1

now_ns() { date +%s%N; }

# plain_calls WORKLOAD: sets n (fib_n or mix_n) and calls, the calls a
# plain run of WORKLOAD n makes.
plain_calls() {
  n=$fib_n
  [ "$1" = mix ] && n=$mix_n
  "$work/plain" "$1" "$n" >"$work/out"
  calls=$(sed -n 's/.*, \([0-9]*\) calls$/\1/p' "$work/out")
}

# per_unit A B N: (A - B) / N with one decimal: ns per call or per event
# from two times in ns.
per_unit() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN { printf "%.1f", (a - b) / c }'; }

# data_bytes_per N: bytes of the last run's data directory per N units.
data_bytes_per() { awk -v b="$(du -sb "$work/data" | cut -f1)" -v c="$1" 'BEGIN { printf "%.2f", b / c }'; }

# print_row VARIANT TIME_NS OVER_EMPTY OVER_PLAIN BYTES TARGET
print_row() {
  printf '%-9s %11.1f %14s %14s %12s  %s\n' "$1" "$(awk -v a="$2" 'BEGIN { print a / 1e6 }')" "$3" "$4" "$5" "$6"
}

# best_of VARIANT WORKLOAD N: prints the best wall time in ns; leaves the
# last run's output in $work/out and its data in $work/data.
best_of() {
  local variant=$1 workload=$2 n=$3 best=0 t0 t1 i prefix=
  # alloc and lines have builds of their own: alloc-plain, lines-cprof, ...
  case $workload in alloc | lines) prefix=$workload- ;; esac
  for ((i = 0; i < runs; i++)); do
    rm -rf "$work/data"
    t0=$(now_ns)
    case $variant in
      plain | empty) "$work/$prefix$variant" "$workload" "$n" >"$work/out" ;;
      summary | trace | count)
        CPROF_DIR=$work/data CPROF_MODE=$variant "$work/${prefix}cprof" "$workload" "$n" >"$work/out" ;;
      summary+cpu)
        CPROF_DIR=$work/data CPROF_CPU=1 "$work/${prefix}cprof" "$workload" "$n" >"$work/out" ;;
      summary+clk)
        GLIBC_TUNABLES=glibc.pthread.rseq=0 CPROF_DIR=$work/data CPROF_CPU=1 \
          "$work/${prefix}cprof" "$workload" "$n" >"$work/out" ;;
      uftrace) uftrace record -d "$work/data" "$work/empty" "$workload" "$n" >"$work/out" ;;
      gprof) mkdir "$work/data" && cd "$work/data" && "$work/gprof" "$workload" "$n" >"$work/out" && cd "$work" ;;
    esac
    t1=$(now_ns)
    if [ "$best" -eq 0 ] || [ $((t1 - t0)) -lt "$best" ]; then best=$((t1 - t0)); fi
  done
  echo "$best"
}

. "$repo/bench/lib.sh" # verdict

echo "cprof overhead benchmark: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "best of $runs runs each; a shared VM is noisy: compare figures from one run of this script"

# (--analyzer: the tables up to the analyzer's are left out; not indented)
if [ "$analyzer_only" -eq 0 ]; then
for workload in fib mix; do
  plain_calls "$workload"
  echo
  echo "== $workload $n: $calls calls"
  printf '%-9s %11s %14s %14s %12s  %s\n' variant "best (ms)" "ns/call>empty" "ns/call>plain" "bytes/event" target
  declare -A t=()
  for v in plain empty summary trace count uftrace gprof; do
    if [ "$v" = uftrace ] && [ "$have_uftrace" -eq 0 ]; then
      printf '%-9s %11s\n' uftrace "(uftrace is not installed: skipped)"
      continue
    fi
    t[$v]=$(best_of "$v" "$workload" "$n")
    got=$(sed -n 's/.*, \([0-9]*\) calls$/\1/p' "$work/out")
    [ "$got" = "$calls" ] || { echo "overhead: $v made $got calls, expected $calls" >&2; exit 1; }
    bytes=-
    case $v in
      trace | uftrace) bytes=$(data_bytes_per $((2 * calls))) ;;
      gprof) bytes=$(awk -v b="$(stat -c %s "$work/data/gmon.out")" -v c=$((2 * calls)) \
        'BEGIN { printf "%.2g", b / c }') ;;
    esac
    over_empty=-
    over_plain=-
    # gprof's -pg build is not the -finstrument-functions one: over plain only
    if [ "$v" != plain ] && [ "$v" != empty ] && [ "$v" != gprof ]; then
      over_empty=$(per_unit "${t[$v]}" "${t[empty]}" "$calls")
    fi
    if [ "$v" != plain ]; then
      over_plain=$(per_unit "${t[$v]}" "${t[plain]}" "$calls")
    fi
    target=
    case $v in
      summary) target="<= 30 ns/call: $(verdict "$over_empty" '<=' 30)" ;;
      trace) target="<= 30 ns/call: $(verdict "$over_empty" '<=' 30), <= 4 B/event: $(verdict "$bytes" '<=' 4)" ;;
      count) target="<= 5 ns/call: $(verdict "$over_empty" '<=' 5)" ;;
    esac
    print_row "$v" "${t[$v]}" "$over_empty" "$over_plain" "$bytes" "$target"
    if [ "$v" = gprof ]; then
      # what gprof saw: the calls in gmon.out's call graph
      gcalls="? (gprof is not installed)"
      [ "$have_gprof" -eq 1 ] && gcalls=$(gprof -b -q "$work/gprof" "$work/data/gmon.out" 2>/dev/null |
        awk '/^\[[0-9]+\]/ { n = split($5, a, "+"); for (i = 1; i <= n; i++) s += a[i] } END { print s + 0 }' ||
        true)
      gprof_note="gprof: gmon.out holds $gcalls of the $calls calls"
    fi
  done
  [ -n "${gprof_note:-}" ] && echo "($gprof_note: -pg calls mcount after inlining and tail-call elimination, and gmon.out drops arcs from outside the program such as qsort's callbacks; its ns/call is per source-level call)"
  gprof_note=
  unset t
  [ "$workload" = mix ] && mix_calls=$calls
done

# Two threads: mix N in each of 2 threads at once against mix N in one.
"$work/plain" mix-threads "$mix_n" >"$work/out"
calls2=$(sed -n 's/.*, \([0-9]*\) calls$/\1/p' "$work/out")
echo
echo "== mix-threads $mix_n: 2 threads at once, $calls2 calls ($((calls2 / 2)) a thread) against mix $mix_n in 1 thread ($mix_calls calls)"
printf '%-9s %11s %11s %14s %14s %8s  %s\n' variant "1 thr (ms)" "2 thr (ms)" "ns/call>plain1" "ns/call>plain2" "2 / 1" target
declare -A m1=() m2=()
for v in plain summary trace count; do
  m1[$v]=$(best_of "$v" mix "$mix_n")
  m2[$v]=$(best_of "$v" mix-threads "$mix_n")
  got=$(sed -n 's/.*, \([0-9]*\) calls$/\1/p' "$work/out")
  [ "$got" = "$calls2" ] || { echo "overhead: $v made $got calls in 2 threads, expected $calls2" >&2; exit 1; }
  o1=- o2=- ratio=- target=
  if [ "$v" != plain ]; then
    o1=$(per_unit "${m1[$v]}" "${m1[plain]}" "$mix_calls")
    # the threads run at once: the wall time is what each thread's calls took
    o2=$(per_unit "${m2[$v]}" "${m2[plain]}" $((calls2 / 2)))
    if awk -v b="$o1" 'BEGIN { exit !(b > 0) }'; then
      ratio=$(awk -v a="$o2" -v b="$o1" 'BEGIN { printf "%.2f", a / b }')
      target="2 thr within 20% of 1: $(verdict "$ratio" '<=' 1.2)"
    else
      target="(no cost measured in 1 thread: noise)"
    fi
  fi
  printf '%-9s %11.1f %11.1f %14s %14s %8s  %s\n' "$v" "$(awk -v a="${m1[$v]}" 'BEGIN { print a / 1e6 }')" \
    "$(awk -v a="${m2[$v]}" 'BEGIN { print a / 1e6 }')" "$o1" "$o2" "$ratio" "$target"
done
# Two threads of plain take as long as one when both cores are free.
plain_ratio=$(awk -v a="${m2[plain]}" -v b="${m1[plain]}" 'BEGIN { printf "%.2f", a / b }')
if awk -v r="$plain_ratio" 'BEGIN { exit !(r > 1.3) }'; then
  echo "(plain took ${plain_ratio}x as long in 2 threads as in 1: the threads did not run at once, other jobs held a core; these verdicts mean nothing, run again on a quiet machine)"
else
  echo "(plain took ${plain_ratio}x as long in 2 threads as in 1: 1.0 when the threads run at once)"
fi
unset m1 m2

# CPU time per call: CPROF_CPU=1 against the default summary mode.
for workload in fib mix; do
  plain_calls "$workload"
  echo
  echo "== CPU time (CPROF_CPU=1), $workload $n: $calls calls"
  printf '%-11s %11s %14s %16s  %s\n' variant "best (ms)" "ns/call>empty" "ns/call>summary" target
  declare -A c=()
  for v in empty summary summary+cpu summary+clk; do
    c[$v]=$(best_of "$v" "$workload" "$n")
    got=$(sed -n 's/.*, \([0-9]*\) calls$/\1/p' "$work/out")
    [ "$got" = "$calls" ] || { echo "overhead: $v made $got calls, expected $calls" >&2; exit 1; }
    over_empty=- over_summary=- target=
    [ "$v" != empty ] && over_empty=$(per_unit "${c[$v]}" "${c[empty]}" "$calls")
    case $v in
      summary+*) over_summary=$(per_unit "${c[$v]}" "${c[summary]}" "$calls") ;;
    esac
    [ "$v" = summary+cpu ] && target="<= 30 ns/call: $(verdict "$over_empty" '<=' 30)"
    printf '%-11s %11.1f %14s %16s  %s\n' "$v" "$(awk -v a="${c[$v]}" 'BEGIN { print a / 1e6 }')" \
      "$over_empty" "$over_summary" "$target"
  done
  unset c
done

# event_table WORKLOAD N WHAT UNIT TARGET TITLE: the time added per event
# (WHAT: how the program's output names its events, e.g. "line events";
# UNIT: the column's unit) over the empty hooks and over plain, in each
# mode, against TARGET ns. The empty-hook build tells how many events a run
# makes.
event_table() {
  local workload=$1 n=$2 what=$3 unit=$4 target_ns=$5 title=$6 events v got bytes over_empty over_plain
  local -A t=()
  best_of empty "$workload" "$n" >/dev/null
  events=$(sed -n "s/.*, \([0-9]*\) $what\$/\1/p" "$work/out")
  echo
  echo "== $workload $n: $events $title"
  printf '%-9s %11s %14s %14s %12s  %s\n' variant "best (ms)" "ns/$unit>empty" "ns/$unit>plain" \
    "bytes/event" target
  for v in plain empty summary trace count; do
    t[$v]=$(best_of "$v" "$workload" "$n")
    got=$(sed -n "s/.*, \([0-9]*\) $what\$/\1/p" "$work/out")
    [ "$got" = "$events" ] || { echo "overhead: $v made $got $what, expected $events" >&2; exit 1; }
    bytes=-
    [ "$v" = trace ] && bytes=$(data_bytes_per "$events")
    over_empty=-
    over_plain=-
    [ "$v" != plain ] && [ "$v" != empty ] && over_empty=$(per_unit "${t[$v]}" "${t[empty]}" "$events")
    [ "$v" != plain ] && over_plain=$(per_unit "${t[$v]}" "${t[plain]}" "$events")
    target=
    case $v in
      summary | trace | count) target="<= $target_ns ns/$unit: $(verdict "$over_empty" '<=' "$target_ns")" ;;
    esac
    print_row "$v" "${t[$v]}" "$over_empty" "$over_plain" "$bytes" "$target"
  done
}

# The line hook: time added per line event over the empty hooks.
event_table lines "$lines_n" "line events" line 15 "line events (one call of an instrumented function)"
# The malloc interposition: time added per call of the malloc family.
event_table alloc "$alloc_n" "allocation calls" alloc 40 "calls of malloc and free (in one instrumented call)"

fi # analyzer_only

# best_cmd CMD...: the best time in ns of N runs of CMD (output
# discarded): its CPU time (user + system, python3's getrusage of the
# child: on a shared machine what other jobs do hardly moves it), else
# its wall time; time_label says which.
if command -v python3 >/dev/null; then
  time_label="best CPU (ms)"
else
  time_label="best wall (ms)"
fi
best_cmd() {
  local best=0 t t0 t1 i
  for ((i = 0; i < runs; i++)); do
    if command -v python3 >/dev/null; then
      # the difference: python3's children before the run are counted too
      # (a pyenv shim's, carried across its exec)
      t=$(python3 -c 'import resource, subprocess, sys
b = resource.getrusage(resource.RUSAGE_CHILDREN)
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(round((r.ru_utime - b.ru_utime + r.ru_stime - b.ru_stime) * 1e9))' "$@")
    else
      t0=$(now_ns)
      "$@" >/dev/null 2>&1 || true
      t1=$(now_ns)
      t=$((t1 - t0))
    fi
    if [ "$best" -eq 0 ] || [ "$t" -lt "$best" ]; then best=$t; fi
  done
  echo "$best"
}

# peak_rss_kb CMD...: the peak resident set of one run of CMD, in KiB
# (GNU time's %M, else ru_maxrss of python3's child).
peak_rss_kb() {
  if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then
    /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1 || true
    tail -n1 "$work/rss"
  elif command -v python3 >/dev/null; then
    python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
  else
    echo "?"
  fi
}

ms() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1e6 }'; }
mib() { awk -v a="$1" 'BEGIN { if (a == "?") print "?"; else printf "%.1f MiB", a / 1024 }'; }
size_of() { # the size of a file or of the files under a directory, human
  awk -v b="$(find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')" 'BEGIN {
    if (b >= 1048576) printf "%.1f MiB", b / 1048576; else if (b >= 1024) printf "%.1f KiB", b / 1024; else printf "%d B", b }'
}

# analyzer_row WHAT TIME_NS EVENTS/S RSS_KB SIZE TARGET
analyzer_row() {
  printf '%-28s %14s %11s %11s %11s  %s\n' "$1" "$2" "$3" "$4" "$5" "$6"
}

# Overhead compensation: main's raw and compensated totals against the
# plain build's CPU time over the workload (bench/calls.c prints it). A
# loaded machine takes the program off the processor now and then, and
# main's totals are wall-clock times: each run's time off the processor
# over its workload (wall less CPU) is taken off them. Plain: the least of
# N runs; cprof: the raw total of the least disturbed of N runs (the least
# raw total) and that run's compensated total, as the e2e test
# compensate::summary_main_matches_plain_run takes them (the least
# compensated total of N runs would pick a run whose start-up probe
# measurement came out high: that happens, and then reads 0).
workload_times() { # OUTPUT_FILE: the workload's CPU and wall time in ns
  sed -n 's/^time: cpu \([0-9]*\) ns, wall \([0-9]*\) ns$/\1 \2/p' "$1"
}
main_totals() { # DATA_DIR: main's total_ns and total_adj_ns
  "$cprof" report "$1" --format csv | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i }
    NR > 1 && $1 == "main" { print $col["total_ns"], $col["total_adj_ns"] }'
}
least() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }
echo
echo "== compensation: main's total, raw and less the probe cost, against the plain run's CPU time (plain: least of $runs; cprof: the run with the least raw total of $runs)"
printf '%-14s %-8s %11s %11s %11s %10s %10s  %s\n' workload mode "plain (ms)" "raw (ms)" "comp (ms)" \
  "raw/plain" "comp/plain" target
for spec in "fib $fib_n" "mix $mix_n" "chain $chain_n"; do
  read -r workload n <<<"$spec"
  tp=
  for ((i = 0; i < runs; i++)); do
    "$work/plain" "$workload" "$n" >"$work/out"
    read -r c w <<<"$(workload_times "$work/out")"
    tp=$(least "$c" "$tp")
  done
  for mode in summary trace; do
    raw= comp=
    for ((i = 0; i < runs; i++)); do
      rm -rf "$work/data"
      CPROF_DIR=$work/data CPROF_MODE=$mode "$work/cprof" "$workload" "$n" >"$work/out"
      read -r c w <<<"$(workload_times "$work/out")"
      read -r r a <<<"$(main_totals "$work/data")"
      r=$(awk -v r="$r" -v w="$w" -v c="$c" 'BEGIN { print r - (w - c) }')
      if [ -z "$raw" ] || awk -v a="$r" -v b="$raw" 'BEGIN { exit !(a < b) }'; then
        raw=$r
        comp=$(awk -v r="$a" -v w="$w" -v c="$c" 'BEGIN { print r - (w - c) }')
      fi
    done
    rr=$(awk -v a="$raw" -v b="$tp" 'BEGIN { printf "%.2f", a / b }')
    cr=$(awk -v a="$comp" -v b="$tp" 'BEGIN { printf "%.2f", a / b }')
    target=
    if [ "$workload" = chain ] && [ "$mode" = summary ]; then
      target="comp within 15% of plain: $(verdict "$(awk -v r="$cr" 'BEGIN { print (r > 1 ? r - 1 : 1 - r) }')" '<=' 0.15)"
    fi
    printf '%-14s %-8s %11s %11s %11s %10s %10s  %s\n' "$workload $n" "$mode" "$(ms "$tp")" "$(ms "$raw")" \
      "$(ms "$comp")" "$rr" "$cr" "$target"
  done
done

# The analyzer: cprof report against uftrace report on the same run's
# traces, and cprof report on summary files.
rm -rf "$work/ctrace" "$work/csum" "$work/utrace"
CPROF_DIR=$work/ctrace CPROF_MODE=trace "$work/cprof" fib "$fib_n" >"$work/out"
fcalls=$(sed -n 's/.*, \([0-9]*\) calls$/\1/p' "$work/out")
events=$((2 * fcalls))
CPROF_DIR=$work/csum CPROF_MODE=summary "$work/cprof" fib "$fib_n" >/dev/null
echo
echo "== analyzer: fib $fib_n, $fcalls calls, $events events (best of $runs runs; RSS from one more run)"
analyzer_row "what" "$time_label" "events/s" "peak RSS" "data size" target
"$cprof" report "$work/ctrace" >/dev/null || { echo "overhead: cprof report failed on the trace" >&2; exit 1; }
tc=$(best_cmd "$cprof" report "$work/ctrace")
rc=$(peak_rss_kb "$cprof" report "$work/ctrace")
evs_c=$(awk -v e="$events" -v t="$tc" 'BEGIN { printf "%.1f", e / (t / 1e9) / 1e6 }')
analyzer_row "cprof report (trace)" "$(ms "$tc")" "${evs_c}M" "$(mib "$rc")" "$(size_of "$work/ctrace")" \
  ">= 100M events/s: $(verdict "$evs_c" '>=' 100)"
if [ "$have_uftrace" -eq 1 ]; then
  uftrace record -d "$work/utrace" "$work/empty" fib "$fib_n" >/dev/null
  uftrace report -d "$work/utrace" >/dev/null 2>&1 || { echo "overhead: uftrace report failed" >&2; exit 1; }
  tu=$(best_cmd uftrace report -d "$work/utrace")
  ru=$(peak_rss_kb uftrace report -d "$work/utrace")
  evs_u=$(awk -v e="$events" -v t="$tu" 'BEGIN { printf "%.1f", e / (t / 1e9) / 1e6 }')
  analyzer_row "uftrace report (trace)" "$(ms "$tu")" "${evs_u}M" "$(mib "$ru")" "$(size_of "$work/utrace")" ""
  speed=$(awk -v c="$tc" -v u="$tu" 'BEGIN { printf "%.2f", u / c }')
  rss_ratio=$(awk -v c="$rc" -v u="$ru" 'BEGIN { if (c == "?" || u == "?" || u == 0) print "?"; else printf "%.2f", c / u }')
  analyzer_row "cprof/uftrace" "$(awk -v c="$tc" -v u="$tu" 'BEGIN { printf "%.3f", c / u }')x" \
    "${speed}x" "${rss_ratio}x" \
    "$(awk -v c="$(du -sb "$work/ctrace" | cut -f1)" -v u="$(du -sb "$work/utrace" | cut -f1)" \
      'BEGIN { printf "%.3f", c / u }')x" \
    "cprof >= 20x faster: $(verdict "$speed" '>=' 20)"
  echo "(cprof/uftrace: each column's ratio, cprof's figure over uftrace's)"
else
  analyzer_row "uftrace report (trace)" "(uftrace is not installed: skipped)" "" "" "" ""
fi
"$cprof" report "$work/csum" >/dev/null || { echo "overhead: cprof report failed on the summary" >&2; exit 1; }
ts=$(best_cmd "$cprof" report "$work/csum")
rs=$(peak_rss_kb "$cprof" report "$work/csum")
analyzer_row "cprof report (summary)" "$(ms "$ts")" "-" "$(mib "$rs")" "$(size_of "$work/csum")" \
  "< 100 ms: $(verdict "$(ms "$ts")" '<' 100)"
# the events' share: the trace's time less the summary's (same symbols)
if [ "$tc" -gt "$ts" ]; then
  evs_r=$(awk -v e="$events" -v t="$((tc - ts))" 'BEGIN { printf "%.1f", e / (t / 1e9) / 1e6 }')
  analyzer_row "cprof replay (trace-summary)" "$(ms $((tc - ts)))" "${evs_r}M" "-" "-" \
    ">= 100M events/s: $(verdict "$evs_r" '>=' 100)"
else
  echo "cprof replay (trace-summary): the trace took no longer than the summary (noise): no figure"
fi
# Symbolization: a summary file of a large binary, the Lua interpreter
# built by tests/real (its functions' names and lines come from its DWARF).
lua_dir=$build/real/lua-cprof
if [ -x "$lua_dir/lua" ] && compgen -G "$lua_dir/data-summary/*.cprof" >/dev/null; then
  if "$cprof" report "$lua_dir/data-summary" >/dev/null 2>&1; then
    tl=$(best_cmd "$cprof" report "$lua_dir/data-summary")
    rl=$(peak_rss_kb "$cprof" report "$lua_dir/data-summary")
    analyzer_row "cprof report (lua summary)" "$(ms "$tl")" "-" "$(mib "$rl")" \
      "$(size_of "$lua_dir/data-summary")" "< 100 ms: $(verdict "$(ms "$tl")" '<' 100)"
    echo "(lua summary: $lua_dir/data-summary, binary $(size_of "$lua_dir/lua"))"
  else
    echo "cprof report (lua summary): cprof report failed on $lua_dir/data-summary: skipped"
  fi
else
  echo "cprof report (lua summary): skipped, no $lua_dir/lua with data-summary (tests/real builds it)"
fi

# The long trace: memory bounded by call paths, not by the trace's length.
if [ "$long_n" -gt 0 ]; then
  long_dir=$build/bench-data/trace-fib$long_n
  if [ ! -f "$long_dir.calls" ] || ! compgen -G "$long_dir/*.cprof" >/dev/null; then
    echo "(making the fib $long_n trace in $long_dir: once, it takes a while)"
    rm -rf "$long_dir" "$long_dir.tmp" "$long_dir.calls"
    mkdir -p "$build/bench-data"
    CPROF_DIR=$long_dir.tmp CPROF_MODE=trace CPROF_TRACE_MAX=none "$work/cprof" fib "$long_n" >"$work/out"
    mv "$long_dir.tmp" "$long_dir"
    sed -n 's/.*, \([0-9]*\) calls$/\1/p' "$work/out" >"$long_dir.calls"
  fi
  lcalls=$(cat "$long_dir.calls")
  levents=$((2 * lcalls))
  echo
  echo "== analyzer, long trace: fib $long_n, $lcalls calls, $levents events, $long_dir (one run)"
  analyzer_row "what" "CPU (ms)" "events/s" "peak RSS" "data size" target
  if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then
    /usr/bin/time -f '%e %U %S %M' -o "$work/ltime" "$cprof" report "$long_dir" >/dev/null 2>&1 ||
      { echo "overhead: cprof report failed on $long_dir" >&2; exit 1; }
    read -r lwall luser lsys lrss <"$work/ltime"
    lt=$(awk -v u="$luser" -v s="$lsys" 'BEGIN { printf "%.0f", (u + s) * 1e9 }')
    evs_l=$(awk -v e="$levents" -v t="$lt" 'BEGIN { printf "%.1f", e / (t / 1e9) / 1e6 }')
    evs_wall=$(awk -v e="$levents" -v t="$lwall" 'BEGIN { printf "%.1f", e / t / 1e6 }')
    analyzer_row "cprof report (long trace)" "$(ms "$lt")" "${evs_l}M" "$(mib "$lrss")" \
      "$(size_of "$long_dir")" "< 200 MiB: $(verdict "$lrss" '<' 204800), >= 100M events/s: $(verdict "$evs_l" '>=' 100)"
    echo "(CPU time: ${luser} s user + ${lsys} s system; wall time ${lwall} s, ${evs_wall}M events/s, which includes waiting for other jobs and for the disk when the file is not in the page cache)"
  else
    echo "cprof report (long trace): skipped, no GNU time (/usr/bin/time) for the peak RSS"
  fi
fi

# Symbolization (issue 7): a program of 5,000 small functions in 5 files,
# built with cprof-cc -O2 (so -gline-tables-only, as users build), each
# function called once, and libc's atoi (named from libc's separate debug
# file when one is installed, as in the fib run); then `cprof report` on
# its summary file and on the fib summary file: the best CPU time (user +
# sys) and the best wall time of N runs. Target: < 100 ms of CPU.
cc_wrapper=$build/bin/cprof-cc
if [ "$do_build" -eq 1 ]; then
  cmake --build "$build" -j"$(nproc)" --target cprof-cc >/dev/null
fi
if [ -x "$cc_wrapper" ] && command -v python3 >/dev/null; then
  sym_funcs=5000
  mkdir -p "$work/syms"
  awk -v n="$sym_funcs" -v dir="$work/syms" 'BEGIN {
    files = 5; per = n / files
    printf "#include <stdlib.h>\n" >dir "/main.c"
    for (f = 0; f < files; f++) {
      src = dir "/part" f ".c"
      for (i = f * per; i < (f + 1) * per; i++) {
        printf "int fn%d(int x) { return x * %d + %d; }\n", i, i % 7 + 2, i >src
        printf "int fn%d(int x);\n", i >dir "/main.c"
      }
    }
    printf "int main(int argc, char **argv)\n{\n    int s = argc > 1 ? atoi(argv[1]) : 1;\n" >dir "/main.c"
    for (i = 0; i < n; i++)
      printf "    s = fn%d(s);\n", i >dir "/main.c"
    printf "    return s == 42;\n}\n" >dir "/main.c"
  }'
  (cd "$work/syms" && "$cc_wrapper" -O2 -o many main.c part*.c) ||
    { echo "overhead: cprof-cc failed on the symbolization program" >&2; exit 1; }
  (cd "$work/syms" && CPROF_DIR=$work/syms/data "$work/syms/many" 7 >/dev/null) || true
  # best_cpu CMD...: "CPU WALL", the best of each over N runs, in ms
  # (getrusage of each child, to the microsecond: GNU time prints 10 ms
  # steps)
  best_cpu() {
    python3 - "$runs" "$@" <<'PY'
import resource, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
cpu = wall = None
for _ in range(runs):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    w = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    c = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    cpu = c if cpu is None else min(cpu, c)
    wall = w if wall is None else min(wall, w)
print("%.1f %.1f" % (cpu * 1000, wall * 1000))
PY
  }
  echo
  echo "== symbolization: cprof report, best of $runs runs"
  printf '%-34s %9s %9s  %s\n' "what" "CPU (ms)" "wall (ms)" "target"
  for what in many fib; do
    if [ "$what" = many ]; then data=$work/syms/data; label="$sym_funcs functions, summary"; else
      data=$work/csum; label="fib summary (libc's atoi)"; fi
    if ! "$cprof" report "$data" >/dev/null 2>&1; then
      echo "$label: cprof report failed on $data"
      exit 1
    fi
    read -r cpu wall < <(best_cpu "$cprof" report "$data")
    printf '%-34s %9s %9s  %s\n' "$label" "$cpu" "$wall" "CPU < 100 ms: $(verdict "$cpu" '<' 100)"
  done
  echo "(the $sym_funcs-function binary: $(size_of "$work/syms/many"), $(nm "$work/syms/many" | grep -c ' T fn') functions named fn*)"
else
  echo "symbolization: skipped, no $cc_wrapper or no python3"
fi

# A real interpreter: Debian's Lua 5.4 (bench/lua.sh), last as it is the longest.
if [ "$do_lua" -eq 1 ]; then
  echo
  "$repo/bench/lua.sh" "$build" --runs "$runs" || echo "lua-bench: skipped: bench/lua.sh failed (above)"
fi
