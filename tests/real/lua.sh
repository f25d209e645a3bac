#!/usr/bin/env bash
# Real code that leaves C frames by longjmp all the time: the Lua 5.4
# interpreter (Debian's lua5.4 source package), where every error caught by
# pcall and every coroutine yield unwinds the C stack with longjmp.
#   tests/real/lua.sh BUILD_DIR
# 1. fetches the source (as tests/real/run.sh does),
# 2. builds the interpreter twice from it: with cprof-cc at -O2, and with
#    clang -O0 -pg for gprof, whose mcount counts every call of every
#    function exactly by a mechanism of its own (uftrace cannot be the
#    reference here: with its library-call hooks the interpreter crashes,
#    and without them it loses its place at each longjmp),
# 3. runs tests/real/lua.lua with each, in each cprof recording mode: the
#    output must be the same, every function of the interpreter must have
#    gprof's call count (main aside: gprof does not count it), every
#    function exit must find its call (an exit that does not means a frame
#    was taken for abandoned while it was running), the number of
#    frames closed as left by longjmp must be the same in every mode, and
#    so must the call graph (every caller's calls of every callee),
# 4. builds it again with line timing of the table functions and the
#    interpreter loop (--cprof-lines) at -O0 and -O2: every line's hits must
#    be the same in both builds and all modes, and the calls gprof's.
# Lua is built deterministic (lua_prepare in lib.sh) so that both builds,
# laid out differently in memory, make exactly the same calls.
# Exits 0 when everything matched, 1 on any failure, 0 with a SKIP line
# only when the source package cannot be fetched at all.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
real_setup lua "${1:?usage: tests/real/lua.sh BUILD_DIR}" clang gprof
lua_prepare
echo "lua: $(basename "${src%/}"), built with $cc"
rm -rf "$work/lua-gprof" "$work/lua-cprof"
mkdir -p "$work/lua-gprof" "$work/lua-cprof"
clang -O0 -pg -w "${defs[@]}" "${sources[@]}" -o "$work/lua-gprof/lua" -lm -ldl >"$work/lua-gprof/build.log" 2>&1 ||
  { tail -20 "$work/lua-gprof/build.log"; echo "lua: FAIL: the -pg build failed"; exit 1; }
"$cc" -O2 -w "${defs[@]}" "${sources[@]}" -o "$work/lua-cprof/lua" -lm -ldl >"$work/lua-cprof/build.log" 2>&1 ||
  { tail -20 "$work/lua-cprof/build.log"; echo "lua: FAIL: the build with cprof-cc failed"; exit 1; }

# Both run as ./lua from their own directory: argv[0] is the same string.
cd "$work/lua-gprof"
expected=$(./lua "$here/lua.lua")
# gprof's call graph: the primary line of each function gives its calls as
# N, or N+M where M are recursive calls
gprof -b -q lua gmon.out |
  awk '/^\[[0-9]+\]/ && $6 !~ /^</ && $5 ~ /^[0-9]+(\+[0-9]+)?$/ {
         split($5, c, "+"); print $6, c[1] + c[2] }' | sort >"$work/lua-gprof.counts"
n=$(wc -l <"$work/lua-gprof.counts")
[ "$n" -gt 300 ] || { echo "lua: FAIL: gprof counted only $n functions"; exit 1; }

# same_counts_as_gprof REPORT_CSV: whether the calls of the interpreter's own
# functions (./lua in the current directory; not libc's, whose inline bodies
# clang instrumented at -O2; not main, which gprof does not count) are
# gprof's; the differences are left in counts.diff.
same_counts_as_gprof() {
  awk -F, -v exe="$PWD/lua" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
       $col["module"] == exe && $col["name"] != "main" { n[$col["name"]] += $col["calls"] }
       END { for (f in n) print f, n[f] }' "$1" | sort >cprof.counts
  diff "$work/lua-gprof.counts" cprof.counts >counts.diff
}

cd "$work/lua-cprof"
status=0
first_repaired=
for mode in summary trace count; do
  rm -rf "data-$mode"
  got=$(CPROF_DIR=data-$mode CPROF_MODE=$mode ./lua "$here/lua.lua")
  [ "$got" = "$expected" ] || { echo "lua: FAIL: other output in $mode mode: $got, not $expected"; exit 1; }
  "$cprof" report "data-$mode" --format csv >report.csv 2>report.err
  repaired=$(grep -o '[0-9]* frames left by longjmp' report.err | head -1 || true)
  if grep -q 'matched no call' report.err; then
    echo "lua: $mode mode: FAIL: $(grep -o '[0-9]* function exits matched no call' report.err)"
    status=1
  fi
  first_repaired=${first_repaired:-$repaired}
  if [ "$repaired" != "$first_repaired" ]; then
    echo "lua: $mode mode: FAIL: $repaired, against $first_repaired in summary mode"
    status=1
  fi
  if same_counts_as_gprof report.csv; then
    echo "lua: $mode mode: all $n functions have gprof's call counts (${repaired:-no frames left by longjmp}): PASS"
  else
    echo "lua: $mode mode: counts differ from gprof's (< gprof, > cprof): FAIL"
    head -40 counts.diff
    status=1
  fi
  # every call under the same caller in every mode: count mode's fast
  # enter finds frame addresses only when a slow path needs them, the
  # others at each call (docs/runtime.md)
  "$cprof" graph "data-$mode" --format csv 2>/dev/null | cut -d, -f1-3 | sort >"graph-$mode.csv"
  if [ "$mode" != summary ]; then
    if cmp -s graph-summary.csv "graph-$mode.csv"; then
      echo "lua: $mode mode: the call graph's $(wc -l <graph-summary.csv) lines (caller, callee, calls) are summary mode's: PASS"
    else
      echo "lua: $mode mode: the call graph differs from summary mode's (< summary, > $mode): FAIL"
      diff graph-summary.csv "graph-$mode.csv" | head -20
      status=1
    fi
  fi
done

# 4. line timing on real code: the table functions and the interpreter's
# main loop built with --cprof-lines at -O0 and at -O2. Line hits are exact
# and independent of optimisation: the same in both builds and in every
# mode; the call counts stay gprof's; no line's self time exceeds its time.
lines_funcs='luaH_*,luaV_execute,luaS_hash'
for level in -O0 -O2; do
  dir=$work/lua-lines$level
  rm -rf "$dir" && mkdir -p "$dir"
  "$cc" "$level" -w --cprof-lines="$lines_funcs" "${defs[@]}" "${sources[@]}" -o "$dir/lua" -lm -ldl \
    >"$dir/build.log" 2>&1 ||
    { tail -20 "$dir/build.log"; echo "lua: FAIL: the $level --cprof-lines build failed"; exit 1; }
done
first_hits=
for run in -O0:summary -O2:summary -O2:trace -O2:count; do
  level=${run%%:*} mode=${run#*:}
  cd "$work/lua-lines$level"
  rm -rf "data-$mode"
  got=$(CPROF_DIR=data-$mode CPROF_MODE=$mode ./lua "$here/lua.lua")
  [ "$got" = "$expected" ] || { echo "lua: FAIL: other output with --cprof-lines $level $mode"; exit 1; }
  "$cprof" lines "data-$mode" --format csv >lines.csv
  # function,line -> hits, summed over static functions of the same name
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
       { h[$col["function"] " " $col["line"]] += $col["hits"] }
       END { for (k in h) print k, h[k] }' lines.csv | sort >hits-$mode
  nlines=$(wc -l <hits-$mode)
  nfuncs=$(cut -d' ' -f1 hits-$mode | sort -u | wc -l)
  [ "$nfuncs" -ge 12 ] || { echo "lua: FAIL: line data for only $nfuncs functions ($level $mode)"; status=1; }
  first_hits=${first_hits:-$PWD/hits-$mode}
  if ! diff "$first_hits" hits-$mode >hits.diff; then
    echo "lua: --cprof-lines $level $mode: line hits differ from -O0 summary: FAIL"
    head -20 hits.diff
    status=1
  fi
  if [ "$mode" != count ]; then
    bad=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
          $col["self_ns"] + 0 > $col["time_ns"] + 0 || $col["self_ns"] + 0 < 0 { n++ } END { print n + 0 }' lines.csv)
    [ "$bad" -eq 0 ] || { echo "lua: FAIL: $bad lines with self time above their time ($level $mode)"; status=1; }
  fi
  "$cprof" report "data-$mode" --format csv >report.csv
  if same_counts_as_gprof report.csv; then
    echo "lua: --cprof-lines $level $mode: $nlines lines of $nfuncs functions, hits as at -O0, all calls as gprof's: PASS"
  else
    echo "lua: --cprof-lines $level $mode: call counts differ from gprof's: FAIL"
    head -20 counts.diff
    status=1
  fi
done
cd "$work/lua-lines-O2"
"$cprof" lines luaH_getshortstr data-summary || status=1

[ "$status" -eq 0 ] && echo "lua: PASS" || echo "lua: FAIL"
exit "$status"
