#!/usr/bin/env bash
# A real C project rebuilt with cprof-cc: Debian's bzip2 source package.
#   tests/real/run.sh BUILD_DIR
# 1. fetches the source (`apt-get source bzip2`, adding a deb-src entry for
#    Debian's archive when there is none; needs root for that),
# 2. builds it with `make CC=BUILD_DIR/bin/cprof-cc` and runs its own test
#    suite (`make test`) with profiling on: it must pass, and every one of
#    its processes must have written a profile,
# 3. runs one compression and one decompression under cprof, in each
#    recording mode, and under uftrace (on the same binary: uftrace's
#    libmcount takes over the -finstrument-functions hooks), and requires
#    the call count of every function to be the same in all of them.
# Exits 0 when everything matched, 1 on any failure, and 0 with a SKIP line
# only when the source package cannot be fetched at all (no archive).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
real_setup real "${1:?usage: tests/real/run.sh BUILD_DIR}" uftrace

# ---- 1. the source -----------------------------------------------------------
real_fetch bzip2
cd "$work/$src"
echo "real: $(basename "$src"), built with $cc"

# ---- 2. its build and its own tests ------------------------------------------
make -s clean >/dev/null 2>&1 || true
make -j"$(nproc)" CC="$cc" >build.log 2>&1 || { tail -20 build.log; echo "real: FAIL: the build failed"; exit 1; }
rm -rf "$work/data-test"
if ! CPROF_DIR=$work/data-test make test >test.log 2>&1; then
  tail -20 test.log; echo "real: FAIL: bzip2's own tests failed when built with cprof-cc"; exit 1
fi
files=$(ls "$work/data-test" | wc -l)
[ "$files" -eq 6 ] || { echo "real: FAIL: make test ran bzip2 6 times but $files profiles were written"; exit 1; }
echo "real: make test passed (6 runs of bzip2, 6 profiles)"
"$cprof" report "$work/data-test" --limit 5

# ---- 3. exact counts against uftrace ---------------------------------------
cat sample1.ref sample2.ref sample3.ref >"$work/input"
status=0
# uftrace merges functions by name: two static functions called myfeof (one
# in bzip2.c, one in the library's bzlib.c) are one row there and two here,
# so the comparison sums by name too (csv_counts does).
for job in "-1 -c $work/input" "-d -c sample2.bz2"; do
  read -r -a args <<<"$job"
  expected=$(LD_LIBRARY_PATH=. ./bzip2 "${args[@]}" | cksum)
  rm -rf "$work/uftrace.data" "$work/uftrace-cprof"
  got=$(CPROF_DIR=$work/uftrace-cprof LD_LIBRARY_PATH=. \
    uftrace record --no-libcall -d "$work/uftrace.data" ./bzip2 "${args[@]}" | cksum)
  [ "$got" = "$expected" ] || { echo "real: FAIL: bzip2 $job gave other output under uftrace"; exit 1; }
  # uftrace's report: "calls function" per function; rows like
  # linux:schedule are kernel events uftrace adds, not functions
  uftrace report -d "$work/uftrace.data" -f call --no-pager |
    awk 'NR > 2 && NF == 2 && $2 !~ /:/ { n[$2] += $1 } END { for (f in n) print f, n[f] }' |
    sort >"$work/uftrace.counts"
  for mode in summary trace count; do
    rm -rf "$work/data-$mode"
    got=$(CPROF_DIR=$work/data-$mode CPROF_MODE=$mode LD_LIBRARY_PATH=. ./bzip2 "${args[@]}" | cksum)
    [ "$got" = "$expected" ] || { echo "real: FAIL: bzip2 $job gave other output in $mode mode"; exit 1; }
    "$cprof" report "$work/data-$mode" --format csv >"$work/report.csv"
    csv_counts "$work/report.csv" >"$work/cprof.counts"
    n=$(wc -l <"$work/cprof.counts")
    if diff "$work/uftrace.counts" "$work/cprof.counts" >"$work/counts.diff"; then
      echo "real: bzip2 $job, $mode mode: all $n functions have uftrace's call counts: PASS"
    else
      echo "real: bzip2 $job, $mode mode: counts differ from uftrace's (< uftrace, > cprof): FAIL"
      cat "$work/counts.diff"
      status=1
    fi
  done
done
[ "$status" -eq 0 ] && echo "real: PASS" || echo "real: FAIL"
exit "$status"
