#!/usr/bin/env bash
# The overhead benchmark: what profiling adds per call, side by side.
#
#   bench/overhead.sh [BUILD_DIR] [--runs N] [--fib N] [--mix N] [--lines N]
#                     [--alloc N]
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
# and prints the time added per call over the empty-hook build (and over
# plain), and for traces the bytes written per event (an event is an entry
# or an exit). Targets (issue 2): summary and trace <= 30 ns/call, count
# <= 5 ns/call, trace <= 4 bytes/event.
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
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --fib) fib_n=$2; shift 2 ;;
    --mix) mix_n=$2; shift 2 ;;
    --lines) lines_n=$2; shift 2 ;;
    --alloc) alloc_n=$2; shift 2 ;;
    -h|--help) sed -n '2,38p' "$0"; exit 0 ;;
    -*) echo "overhead: unknown option $1" >&2; exit 1 ;;
    *) build=$(realpath "$1"); shift ;;
  esac
done
cc=$(command -v clang || command -v clang-14) || { echo "overhead: clang is not installed" >&2; exit 1; }

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target cprof-rt >/dev/null
rt=$build/lib/cprof
work=$(mktemp -d "${TMPDIR:-/tmp}/cprof-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

src=$repo/bench/calls.c
"$cc" -O2 -o "$work/plain" "$src"
"$cc" -O2 -fPIC -shared -o "$work/libempty.so" "$repo/bench/empty_hooks.c"
"$cc" -O2 -finstrument-functions -o "$work/empty" "$src" -L"$work" -Wl,-rpath,"$work" -lempty
"$cc" -O2 -finstrument-functions -o "$work/cprof" "$src" -L"$rt" -Wl,-rpath,"$rt" \
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
      uftrace) uftrace record -d "$work/data" "$work/empty" "$workload" "$n" >"$work/out" ;;
    esac
    t1=$(now_ns)
    if [ "$best" -eq 0 ] || [ $((t1 - t0)) -lt "$best" ]; then best=$((t1 - t0)); fi
  done
  echo "$best"
}

verdict() { # value op limit
  if awk -v v="$1" -v l="$3" "BEGIN { exit !(v $2 l) }"; then echo PASS; else echo FAIL; fi
}

echo "cprof overhead benchmark: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "best of $runs runs each; a shared VM is noisy: compare figures from one run of this script"

for workload in fib mix; do
  n=$fib_n
  [ "$workload" = mix ] && n=$mix_n
  "$work/plain" "$workload" "$n" >"$work/out"
  calls=$(sed -n 's/.*, \([0-9]*\) calls$/\1/p' "$work/out")
  echo
  echo "== $workload $n: $calls calls"
  printf '%-9s %11s %14s %14s %12s  %s\n' variant "best (ms)" "ns/call>empty" "ns/call>plain" "bytes/event" target
  declare -A t=()
  for v in plain empty summary trace count uftrace; do
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
    esac
    over_empty=-
    over_plain=-
    if [ "$v" != plain ] && [ "$v" != empty ]; then
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
  done
  unset t
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
