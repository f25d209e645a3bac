#!/usr/bin/env bash
# Heap figures of real code against heaptrack's: the Lua 5.4 interpreter
# (Debian's lua5.4 source package, fetched as tests/real/lua.sh does) runs
# tests/real/lua.lua twice: built with plain clang -O2 under heaptrack, and
# built with cprof-cc -O2 under cprof, in each recording mode. Both run as
# ./lua from a directory of their own, so that the program makes exactly the
# same allocations (Lua keeps argv[0] in a string).
#   tests/real/heap.sh BUILD_DIR
# The number of calls to allocation functions, the peak heap and the bytes
# still allocated at the end must be heaptrack's exactly: the calls as
# heaptrack_print prints them, the peak and the end state computed from
# heaptrack's own data file (heaptrack_print rounds them to 3 digits).
# heaptrack's preload library is C++: loading libstdc++ allocates its
# emergency exception pool (one block, 72,704 bytes here) in the traced
# process, and heaptrack frees it at exit (__gnu_cxx::__freeres). So the
# cprof runs preload the same libstdc++, and cprof's "still allocated at
# exit" is compared less what was allocated outside any instrumented call,
# which must be that one block.
# Exits 0 when everything agreed, 1 on any failure, 0 with a SKIP line
# only when the source package cannot be fetched at all.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
real_setup heap "${1:?usage: tests/real/heap.sh BUILD_DIR}" clang heaptrack heaptrack_print zstd python3
lua_prepare
dir=$work/heap
rm -rf "$dir" && mkdir -p "$dir/plain" "$dir/cprof"
clang -O2 -w "${defs[@]}" "${sources[@]}" -o "$dir/plain/lua" -lm -ldl >"$dir/build.log" 2>&1 ||
  { tail -20 "$dir/build.log"; echo "heap: FAIL: the plain build failed"; exit 1; }
"$cc" -O2 -w "${defs[@]}" "${sources[@]}" -o "$dir/cprof/lua" -lm -ldl >>"$dir/build.log" 2>&1 ||
  { tail -20 "$dir/build.log"; echo "heap: FAIL: the cprof-cc build failed"; exit 1; }

cd "$dir/plain"
expected=$(./lua "$here/lua.lua")
heaptrack -o "$dir/plain/ht" ./lua "$here/lua.lua" >ht.log 2>&1 ||
  { tail -20 ht.log; echo "heap: FAIL: heaptrack failed"; exit 1; }
heaptrack_print -f ht.zst >ht.txt 2>/dev/null
ht_calls=$(sed -n 's/^calls to allocation functions: *\([0-9]*\).*/\1/p' ht.txt)
# heaptrack's data file: "a SIZE TRACE" defines allocation kind n (from 0,
# sizes in hex), "+ N" allocates a block of kind N, "- N" frees one
read -r ht_peak ht_end <<<"$(zstd -dc ht.zst | python3 -c '
import sys
sizes, cur, peak = [], 0, 0
for line in sys.stdin:
    f = line.split()
    if not f:
        continue
    if f[0] == "a":
        sizes.append(int(f[1], 16))
    elif f[0] == "+":
        cur += sizes[int(f[1], 16)]
        peak = max(peak, cur)
    elif f[0] == "-":
        cur -= sizes[int(f[1], 16)]
print(peak, cur)')"
[ -n "$ht_calls" ] && [ -n "$ht_peak" ] ||
  { tail -8 ht.txt; echo "heap: FAIL: cannot read heaptrack's figures"; exit 1; }

preload=$(ls /usr/lib/heaptrack/libheaptrack_preload.so /usr/lib/*/heaptrack/libheaptrack_preload.so 2>/dev/null | head -1 || true)
stdcxx=$( ([ -n "$preload" ] && ldd "$preload") | awk '/libstdc\+\+/ { print $3; exit }' || true)
[ -n "$stdcxx" ] || { echo "heap: FAIL: cannot find the libstdc++ heaptrack's preload library uses"; exit 1; }

cd "$dir/cprof"
status=0
for mode in summary trace count; do
  rm -rf "data-$mode"
  got=$(CPROF_DIR=data-$mode CPROF_MODE=$mode LD_PRELOAD=$stdcxx ./lua "$here/lua.lua")
  [ "$got" = "$expected" ] || { echo "heap: FAIL: other output in $mode mode"; exit 1; }
  "$cprof" report "data-$mode" --format json >report.json
  read -r calls peak left outside_calls <<<"$(python3 -c '
import json
h = json.load(open("report.json"))["heap"]
print(h["alloc_calls"], h["peak_bytes"], h["leaked_bytes"] - h["outside_leaked_bytes"],
      h["outside_alloc_calls"])')"
  if [ "$outside_calls" != 1 ]; then
    echo "heap: $mode mode: $outside_calls allocations outside instrumented calls, expected libstdc++'s pool alone: FAIL"
    status=1
  fi
  what="calls $calls (heaptrack $ht_calls), peak $peak B (heaptrack $ht_peak), still allocated at exit $left B (heaptrack $ht_end)"
  if [ "$calls" = "$ht_calls" ] && [ "$peak" = "$ht_peak" ] && [ "$left" = "$ht_end" ]; then
    echo "heap: $mode mode: $what: PASS"
  else
    echo "heap: $mode mode: $what: FAIL"
    status=1
  fi
done
"$cprof" heap data-summary --limit 8 || status=1
[ "$status" -eq 0 ] && echo "heap: PASS" || echo "heap: FAIL"
exit "$status"
