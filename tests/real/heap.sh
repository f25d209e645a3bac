#!/usr/bin/env bash
# Heap figures of real code against heaptrack's: the Lua 5.4 interpreter
# (Debian's lua5.4 source package, fetched as tests/real/lua.sh does) runs
# tests/real/lua.lua twice: built with plain clang -O2 under heaptrack, and
# built with cprof-cc -O2 under cprof, in each recording mode.
#   tests/real/heap.sh BUILD_DIR
# The calls to allocation functions must be the same number, and the peak
# heap and the bytes still allocated at exit the same within heaptrack's
# printed precision (three significant digits). Lua allocates through one
# realloc-based function, so every allocation of the run goes through the
# functions both tools interpose.
# heaptrack's preload library is C++: loading libstdc++ allocates its
# emergency exception pool (one block, 72,704 bytes here) in the traced
# process, which heaptrack counts and then leaves out of its leak total (a
# built-in suppression). So the cprof runs preload the same libstdc++, and
# cprof's "still allocated at exit" is compared less what was allocated
# outside any instrumented call, which must be that one block.
# Exits 0 when everything agreed, 1 on any failure, 0 with a SKIP line
# only when the source package cannot be fetched at all.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
real_setup heap "${1:?usage: tests/real/heap.sh BUILD_DIR}" clang heaptrack heaptrack_print
lua_prepare
dir=$work/heap
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
clang -O2 -w "${defs[@]}" "${sources[@]}" -o lua-plain -lm -ldl >build.log 2>&1 ||
  { tail -20 build.log; echo "heap: FAIL: the plain build failed"; exit 1; }
"$cc" -O2 -w "${defs[@]}" "${sources[@]}" -o lua -lm -ldl >>build.log 2>&1 ||
  { tail -20 build.log; echo "heap: FAIL: the cprof-cc build failed"; exit 1; }

expected=$(./lua-plain "$here/lua.lua")
heaptrack -o "$dir/ht" ./lua-plain "$here/lua.lua" >ht.log 2>&1 ||
  { tail -20 ht.log; echo "heap: FAIL: heaptrack failed"; exit 1; }
heaptrack_print -f ht.zst >ht.txt 2>/dev/null
# heaptrack_print: "calls to allocation functions: 15658 (64436/s)",
# "peak heap memory consumption: 170.80K", "total memory leaked: 4.10K"
# (decimal units, B K M G)
ht_value() {
  sed -n "s/^$1: *\([0-9.]*\)\([BKMG]\?\).*/\1 \2/p" ht.txt | head -1
}
read -r ht_calls _ <<<"$(ht_value 'calls to allocation functions')"
read -r ht_peak ht_peak_unit <<<"$(ht_value 'peak heap memory consumption')"
read -r ht_leak ht_leak_unit <<<"$(ht_value 'total memory leaked')"
[ -n "$ht_calls" ] && [ -n "$ht_peak" ] && [ -n "$ht_leak" ] ||
  { cat ht.txt | tail -8; echo "heap: FAIL: cannot read heaptrack_print's totals"; exit 1; }

# within_print VALUE UNIT BYTES: whether BYTES prints as VALUE UNIT with
# heaptrack's precision (two decimals below the unit; exact for B)
within_print() {
  awk -v v="$1" -v u="$2" -v b="$3" 'BEGIN {
    m = u == "K" ? 1e3 : u == "M" ? 1e6 : u == "G" ? 1e9 : 1
    half = m == 1 ? 0 : m / 200
    d = b - v * m; if (d < 0) d = -d
    exit !(d <= half + 1e-9 * m) }'
}

preload=$(ls /usr/lib/heaptrack/libheaptrack_preload.so /usr/lib/*/heaptrack/libheaptrack_preload.so 2>/dev/null | head -1 || true)
stdcxx=$( ([ -n "$preload" ] && ldd "$preload") | awk '/libstdc\+\+/ { print $3; exit }' || true)
[ -n "$stdcxx" ] || { echo "heap: FAIL: cannot find the libstdc++ heaptrack's preload library uses"; exit 1; }

status=0
for mode in summary trace count; do
  rm -rf "data-$mode"
  got=$(CPROF_DIR=data-$mode CPROF_MODE=$mode LD_PRELOAD=$stdcxx ./lua "$here/lua.lua")
  [ "$got" = "$expected" ] || { echo "heap: FAIL: other output in $mode mode"; exit 1; }
  "$cprof" report "data-$mode" --format json >report.json
  read -r calls peak leaked outside_calls <<<"$(python3 -c '
import json
h = json.load(open("report.json"))["heap"]
print(h["alloc_calls"], h["peak_bytes"], h["leaked_bytes"] - h["outside_leaked_bytes"],
      h["outside_alloc_calls"])')"
  if [ "$outside_calls" != 1 ]; then
    echo "heap: $mode mode: $outside_calls allocations outside instrumented calls, expected libstdc++'s pool alone: FAIL"
    status=1
  fi
  what="calls $calls (heaptrack $ht_calls), peak $peak B (heaptrack $ht_peak$ht_peak_unit), still allocated at exit $leaked B (heaptrack $ht_leak$ht_leak_unit)"
  if [ "$calls" = "$ht_calls" ] && within_print "$ht_peak" "$ht_peak_unit" "$peak" &&
    within_print "$ht_leak" "$ht_leak_unit" "$leaked"; then
    echo "heap: $mode mode: $what: PASS"
  else
    echo "heap: $mode mode: $what: FAIL"
    status=1
  fi
done
"$cprof" heap data-summary --limit 8 || status=1
[ "$status" -eq 0 ] && echo "heap: PASS" || echo "heap: FAIL"
exit "$status"
