#!/usr/bin/env bash
# The overhead benchmark on a real interpreter (issue 7): Debian's Lua 5.4
# running bench/calls.lua (call-heavy, about a second uninstrumented).
#
#   bench/lua.sh BUILD_DIR [--runs N] [--scale N]
#
# Fetches Debian's lua5.4 source and builds the interpreter at -O2, made
# deterministic, as tests/real/lua.sh does (lua_prepare in tests/real/lib.sh),
# in these variants:
#   plain     clang -O2, no instrumentation
#   empty     clang -O2 -finstrument-functions with bench/empty_hooks.c's
#             hooks that do nothing (a shared library): the cost of the
#             instrumentation itself
#   summary   cprof-cc -O2, CPROF_MODE=summary
#   trace     the same binary, CPROF_MODE=trace
#   count     the same binary, CPROF_MODE=count
#   uftrace   the empty build under `uftrace record --no-libcall` (with its
#             library-call hooks, on by default, the interpreter crashes)
#   gprof     clang -O2 -pg, gmon.out written at exit
# The number of calls is the total of `cprof report --format csv` on a
# count-mode run: every call that reaches the hooks (-finstrument-functions
# calls them for inlined functions too). Each variant runs N times (default
# 3; uftrace once: a run takes a minute and writes gigabytes) and its best
# CPU time (user + sys, /usr/bin/time; sys shown apart) gives the time
# added per call over the empty build and over plain; the table also shows
# the best wall time, the bytes written per event (an event is an entry or
# an exit) for trace and uftrace, and the peak RSS. Trace mode runs with
# CPROF_TRACE_MAX=none: the whole trace (about 2 GB) is written. Targets
# (issue 7): summary and trace <= 30 ns/call over empty, count <= 5 ns/call.
#
# --scale N runs the script's work N times (default 1).
#
# --against DIR [--mode MODE]: instead of the table, compares two builds of
# the runtime on the same interpreter binary: BUILD_DIR's (A) and the
# libcprof-rt.so in DIR (B: another build's lib/cprof, through
# LD_LIBRARY_PATH), in MODE (count, summary or trace; default count).
# Each round runs empty, A and B one after the other, so that a slow spell
# of the machine touches all three, A before B in even rounds and after it
# in odd ones (in trace mode the second of two runs of the same runtime
# came out 1.5 to 2.6 ns a call faster); N rounds (--runs; here default 5).
# Prints each one's least and median CPU time, its time per call over the
# empty build's least, and B - A.
#
# The builds and data go to BUILD_DIR/real/lua-bench. Exit status 0
# whatever the figures (a FAIL row is a finding), and 0 with a SKIP line when
# Debian's archive cannot be reached; non-zero when BUILD_DIR has no cprof or
# something could not be built or run.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=
scale=1
build=
against=
mode=count
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --against) against=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    -h | --help) sed -n '2,47p' "$0"; exit 0 ;;
    -*) echo "lua-bench: unknown option $1" >&2; exit 1 ;;
    *) build=$1; shift ;;
  esac
done
[ -n "$build" ] || { echo "usage: bench/lua.sh BUILD_DIR [--runs N] [--scale N] [--against DIR [--mode MODE]]" >&2; exit 1; }
[ -d "$build" ] || { echo "lua-bench: $build is not a directory (a cprof build directory)" >&2; exit 1; }
[ -n "$runs" ] || runs=$([ -n "$against" ] && echo 5 || echo 3)
case $mode in
  count | summary | trace) ;;
  *) echo "lua-bench: --mode takes count, summary or trace, not $mode" >&2; exit 1 ;;
esac
if [ -n "$against" ]; then
  [ -f "$against/libcprof-rt.so" ] || { echo "lua-bench: $against has no libcprof-rt.so (give a build's lib/cprof)" >&2; exit 1; }
  against=$(cd "$against" && pwd)
fi
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "lua-bench: --runs takes a positive number, not $runs" >&2; exit 1; }
[[ $scale =~ ^[1-9][0-9]*$ ]] || { echo "lua-bench: --scale takes a positive number, not $scale" >&2; exit 1; }
/usr/bin/time -f %U true 2>/dev/null || { echo "lua-bench: GNU time (/usr/bin/time) is not installed" >&2; exit 1; }
script=$repo/bench/calls.lua

. "$repo/tests/real/lib.sh"
real_setup lua-bench "$build" clang
[ -f "$build/lib/cprof/libcprof-rt.so" ] || { echo "lua-bench: $build/lib/cprof/libcprof-rt.so is not built"; exit 1; }
lua_prepare
bench=$work/lua-bench
rm -rf "$bench"
mkdir -p "$bench"/{plain,empty,cprof,gprof}
cd "$bench"
# a run's data (uftrace's: 12 GB) is not left behind, even when interrupted
trap 'rm -rf "$bench/run"' EXIT

# build_lua VARIANT COMPILER FLAGS...: the interpreter as VARIANT/lua
build_lua() {
  local variant=$1 compiler=$2
  shift 2
  "$compiler" -O2 -w "$@" "${defs[@]}" "${sources[@]}" -o "$variant/lua" -lm -ldl >"$variant/build.log" 2>&1 ||
    { tail -20 "$variant/build.log"; echo "lua-bench: the $variant build failed" >&2; exit 1; }
}
echo "lua-bench: building $(basename "${src%/}") at -O2: plain, empty, cprof, gprof"
clang -O2 -fPIC -shared -o empty/libempty.so "$repo/bench/empty_hooks.c"
build_lua plain clang
build_lua empty clang -finstrument-functions -L"$bench/empty" -Wl,-rpath,"$bench/empty" -lempty
build_lua cprof "$cc"
build_lua gprof clang -pg
have_uftrace=0
command -v uftrace >/dev/null && have_uftrace=1

# run VARIANT: one run of bench/calls.lua in VARIANT, from the directory
# run (its data there), under /usr/bin/time: "wall user sys rss_kb" in
# time.out, the script's output in out.
run() {
  local v=$1 dir=$bench/cprof lib=
  [ $# -gt 1 ] && lib=$2
  rm -rf run && mkdir run
  case $v in
    plain | empty | gprof) dir=$bench/$v ;;
  esac
  local cmd=("$dir/lua" "$script" "$scale")
  [ "$v" = uftrace ] && cmd=(uftrace record --no-libcall -d "$bench/run/data" "$bench/empty/lua" "$script" "$scale")
  (
    cd run
    # no trace cap: the run writes about 2 GB, past CPROF_TRACE_MAX's default
    # 1 GiB, and the bytes per event are those of the whole trace
    case $v in summary | trace | count) export CPROF_DIR=data CPROF_MODE=$v CPROF_TRACE_MAX=none ;; esac
    [ -n "$lib" ] && export LD_LIBRARY_PATH=$lib
    /usr/bin/time -f '%e %U %S %M' -o ../time.out "${cmd[@]}" >../out 2>../err
  ) || { cat err; echo "lua-bench: the $v run failed" >&2; exit 1; }
}

# The calls: every hook call of a count-mode run.
run count
expected=$(cat out)
"$cprof" report run/data --format csv >report.csv
calls=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next } { n += $col["calls"] } END { print n + 0 }' \
  report.csv)
[ "$calls" -gt 0 ] || { echo "lua-bench: the count-mode report has no calls" >&2; exit 1; }
events=$((2 * calls))

echo "lua-bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"

# --against: the two runtimes, interleaved
if [ -n "$against" ]; then
  ldd_b=$(LD_LIBRARY_PATH=$against ldd "$bench/cprof/lua" | grep libcprof-rt || true)
  [[ $ldd_b == *"$against/libcprof-rt.so"* ]] ||
    { echo "lua-bench: the interpreter does not load $against/libcprof-rt.so through LD_LIBRARY_PATH: $ldd_b" >&2; exit 1; }
  cpu_ms() { read -r _ user sys _ <time.out && awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", (u + s) * 1000 }'; }
  times_empty=() times_a=() times_b=()
  for ((i = 0; i < runs; i++)); do
    order="empty a b"
    ((i % 2)) && order="empty b a"
    for v in $order; do
      case $v in
        empty) run empty ;;
        a) run "$mode" ;;
        b) run "$mode" "$against" ;;
      esac
      [ "$(cat out)" = "$expected" ] || { echo "lua-bench: $v printed $(cat out), not $expected" >&2; exit 1; }
      eval "times_$v+=(\"\$(cpu_ms)\")"
    done
  done
  rm -rf run
  least() { printf '%s\n' "$@" | sort -n | head -1; }
  median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  e=$(least "${times_empty[@]}")
  echo "bench/calls.lua (scale $scale): $calls calls; $mode mode, $runs rounds of empty, A, B (B before A in odd rounds); load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "A: $build/lib/cprof    B: $against"
  printf '%-6s %9s %9s %13s  %s\n' "" "least" "median" "ns/call>empty" "cpu (ms) of each round"
  for v in empty a b; do
    eval "t=(\"\${times_$v[@]}\")"
    over=-
    [ "$v" != empty ] && over=$(awk -v a="$(least "${t[@]}")" -v b="$e" -v c="$calls" 'BEGIN { printf "%.2f", (a - b) * 1e6 / c }')
    printf '%-6s %9s %9s %13s  %s\n' "$v" "$(least "${t[@]}")" "$(median "${t[@]}")" "$over" "${t[*]}"
  done
  awk -v a="$(least "${times_a[@]}")" -v b="$(least "${times_b[@]}")" -v ma="$(median "${times_a[@]}")" \
    -v mb="$(median "${times_b[@]}")" -v c="$calls" \
    'BEGIN { printf "B - A: %+.2f ns/call (least), %+.2f ns/call (median)\n", (b - a) * 1e6 / c, (mb - ma) * 1e6 / c }'
  exit 0
fi
echo "bench/calls.lua (scale $scale): $calls calls; best of $runs runs (uftrace: 1); load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %9s %9s %9s %13s %13s %11s %10s  %s\n' variant "cpu (ms)" "sys (ms)" "wall (ms)" "ns/call>empty" \
  "ns/call>plain" bytes/event "peak RSS" target

. "$repo/bench/lib.sh" # verdict
per_call() { awk -v a="$1" -v b="$2" -v c="$calls" 'BEGIN { printf "%.1f", (a - b) * 1e6 / c }'; }

declare -A cpu=()
for v in plain empty summary trace count uftrace gprof; do
  n=$runs
  if [ "$v" = uftrace ]; then
    if [ "$have_uftrace" -eq 0 ]; then
      printf '%-9s %s\n' uftrace "(uftrace is not installed: skipped)"
      continue
    fi
    n=1
  fi
  best_cpu='' best_sys='' best_wall='' rss='' bytes=-
  for ((i = 0; i < n; i++)); do
    run "$v"
    [ "$(cat out)" = "$expected" ] || { echo "lua-bench: $v printed $(cat out), not $expected" >&2; exit 1; }
    read -r wall user sys kb <time.out
    c=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", (u + s) * 1000 }')
    w=$(awk -v w="$wall" 'BEGIN { printf "%.0f", w * 1000 }')
    if [ -z "$best_cpu" ] || [ "$c" -lt "$best_cpu" ]; then
      best_cpu=$c
      best_sys=$(awk -v s="$sys" 'BEGIN { printf "%.0f", s * 1000 }')
    fi
    if [ -z "$best_wall" ] || [ "$w" -lt "$best_wall" ]; then best_wall=$w; fi
    if [ -z "$rss" ] || [ "$kb" -gt "$rss" ]; then rss=$kb; fi
    case $v in
      trace | uftrace) bytes=$(awk -v b="$(du -sb run/data | cut -f1)" -v e="$events" 'BEGIN { printf "%.2f", b / e }') ;;
      gprof) bytes=$(awk -v b="$(stat -c %s run/gmon.out)" -v e="$events" 'BEGIN { printf "%.2g", b / e }') ;;
    esac
  done
  rm -rf run
  cpu[$v]=$best_cpu
  over_empty=- over_plain=- target=
  # gprof's -pg build is not the -finstrument-functions one: over plain only
  case $v in summary | trace | count | uftrace) over_empty=$(per_call "${cpu[$v]}" "${cpu[empty]}") ;; esac
  [ "$v" != plain ] && over_plain=$(per_call "${cpu[$v]}" "${cpu[plain]}")
  case $v in
    summary | trace) target="<= 30 ns/call: $(verdict "$over_empty" '<=' 30)" ;;
    count) target="<= 5 ns/call: $(verdict "$over_empty" '<=' 5)" ;;
  esac
  printf '%-9s %9s %9s %9s %13s %13s %11s %6.1f MiB  %s\n' "$v" "$best_cpu" "$best_sys" "$best_wall" "$over_empty" \
    "$over_plain" "$bytes" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$target"
done
echo "(cpu: user + sys of the best run, sys its part; ns/call: the CPU time added per call over the empty-hook or"
echo " plain build; gprof's bytes/event is gmon.out's size per event; RSS: the highest of the runs)"
