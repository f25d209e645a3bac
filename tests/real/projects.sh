#!/usr/bin/env bash
# Three real C projects, one per build system, rebuilt with cprof-cc and run
# through their own test suites (docs/real-projects.md):
#   xxhash  plain make   make CC=cprof-cc, make test-xxhsum-c
#   expat   autotools    ./buildconf.sh, ./configure CC=cprof-cc, make check
#   cjson   CMake        cmake -DCMAKE_C_COMPILER=cprof-cc, ctest
#   tests/real/projects.sh BUILD_DIR [PROJECT...]
# For each project (Debian's source package, fetched as tests/real/run.sh
# does), it
# 1. builds it twice, with plain clang and with cprof-cc, and runs its own
#    tests, unchanged, in both builds: they must pass and give the same
#    summary (the tests' pass/fail lines, durations left out),
# 2. checks that every test program built with cprof-cc wrote a profile,
#    that `cprof report` on them lists the project's own functions with
#    nonzero calls, and that `cprof audit` finds nothing lost,
# and prints one line per project. Exits 0 when all passed, 1 on any failure,
# and 0 with a SKIP line only when the archive cannot be reached at all.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
real_setup projects "${1:?usage: tests/real/projects.sh BUILD_DIR [xxhash|expat|cjson...]}" \
  make cmake ctest autoreconf libtoolize
shift
# the compiler cprof-cc runs (its default), so both builds have one clang
plain=$(command -v clang || command -v clang-14) || { echo "projects: clang is not installed"; exit 1; }
jobs=$(nproc 2>/dev/null || echo 2)
root=$work/projects
mkdir -p "$root"
status=0

fail() {
  echo "projects: $1: FAIL: $2"
  status=1
}

# show_log FILE: the end of a build or test log, for a failure.
show_log() { tail -20 "$1" | sed 's/^/  | /'; }

# ---- xxhash: a plain Makefile -------------------------------------------------
# xxhash_build DIR CC: a copy of the source in DIR, xxhsum built with CC.
xxhash_build() {
  rm -rf "$1"
  cp -a "$xxhash_src" "$1" && make -C "$1" -j"$jobs" CC="$2" xxhsum >"$1.build.log" 2>&1
}

# xxhash_test DIR CC: its CLI test target; the summary is the target's exit
# status and the hashes of a fixed file in each algorithm (make check also
# benchmarks, which takes minutes when every inlined helper is counted).
xxhash_test() {
  local rc=0
  make -C "$1" CC="$2" test-xxhsum-c >"$1.test.log" 2>&1 || rc=$?
  for h in 0 1 2 3; do (cd "$1" && ./xxhsum -H$h xxhash.c xxhash.h 2>>"$1.test.log"); done
  echo "make test-xxhsum-c: exit status $rc"
  return "$rc"
}

# xxhash_processes DIR: how many times xxhash_test runs xxhsum: the test
# target's commands name it that often, and 4 hash runs.
xxhash_processes() { echo $(($(make -s -n -C "$1" test-xxhsum-c | grep -o '\./xxhsum' | wc -l) + 4)); }

# ---- expat: autotools -----------------------------------------------------
# expat_build DIR CC: configured in DIR (a VPATH build) with CC=CC, built.
expat_build() {
  rm -rf "$1"
  mkdir -p "$1"
  (cd "$1" && "$expat_src/configure" CC="$2" --without-docbook --without-examples) \
    >"$1.build.log" 2>&1 &&
    make -C "$1" -j"$jobs" >>"$1.build.log" 2>&1
}

# expat_test DIR: make check; the summary is automake's test counts and the
# checks each test program ran.
expat_test() {
  local rc=0
  make -C "$1" -j"$jobs" check >"$1.test.log" 2>&1 || rc=$?
  grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' "$1.test.log" || true
  grep -hE '^[0-9]+%: Checks:|^(PASS|FAIL|SKIP|ERROR) ' "$1"/tests/*.log 2>/dev/null || true
  echo "make check: exit status $rc, $(grep -hm1 'Checks:' "$1/tests/runtests.log" 2>/dev/null)"
  return "$rc"
}

# expat's C test program; runtestspp (the same tests as C++) is linked by
# c++, not cprof-cc: glibc's no-op __cyg_profile_func_* hooks run there and
# it writes no profile.
expat_processes() { echo 1; }

# ---- cJSON: CMake ---------------------------------------------------------
cjson_build() {
  rm -rf "$1"
  cmake -S "$cjson_src" -B "$1" -DCMAKE_C_COMPILER="$2" -DENABLE_CJSON_UTILS=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$1.build.log" 2>&1 &&
    cmake --build "$1" -j"$jobs" >>"$1.build.log" 2>&1
}

# cjson_test DIR: ctest; the summary is each test's name and result.
cjson_test() {
  local rc=0
  (cd "$1" && ctest -j"$jobs") >"$1.test.log" 2>&1 || rc=$?
  echo "ctest: exit status $rc"
  sed -En 's/^.*Test +#[0-9]+: ([^ ]+) [ .]*([^0-9]*[^ 0-9]) +[0-9.]+ sec$/\1 \2/p' "$1.test.log" | sort
  grep -E 'tests passed|tests failed' "$1.test.log" || true
  return "$rc"
}

# one profile per test program ctest ran
cjson_processes() { (cd "$1" && ctest -N | sed -n 's/^Total Tests: //p'); }

# ---- the checks, the same for every project ---------------------------------
# check_project NAME VERSION SYSTEM FUNCTION...: builds and tests NAME with
# clang and with cprof-cc, compares, and checks the profiles; FUNCTIONs are
# some of the project's own that its tests must call. NAME_test prints the
# summary of the tests, its headline last.
check_project() {
  local name=$1 version=$2 system=$3 rc
  shift 3
  local dir=$root/$name data=$root/$name-data
  if ! "${name}_build" "$dir-clang" "$plain"; then
    show_log "$dir-clang.build.log"; fail "$name" "the build with $plain failed"; return
  fi
  if ! "${name}_build" "$dir-cprof" "$cc"; then
    show_log "$dir-cprof.build.log"; fail "$name" "the build with cprof-cc failed"; return
  fi
  rc=0
  "${name}_test" "$dir-clang" "$plain" >"$dir-clang.summary" || rc=$?
  [ "$rc" -eq 0 ] || { show_log "$dir-clang.test.log"; fail "$name" "its tests fail with plain clang"; return; }
  rm -rf "$data"
  rc=0
  CPROF_DIR=$data "${name}_test" "$dir-cprof" "$cc" >"$dir-cprof.summary" || rc=$?
  [ "$rc" -eq 0 ] || { show_log "$dir-cprof.test.log"; fail "$name" "its tests fail when built with cprof-cc"; return; }
  if ! diff "$dir-clang.summary" "$dir-cprof.summary" >"$dir.summary.diff"; then
    sed 's/^/  | /' "$dir.summary.diff"
    fail "$name" "its tests' results differ from plain clang's (< clang, > cprof-cc)"; return
  fi
  local want files
  want=$("${name}_processes" "$dir-cprof")
  files=$(ls "$data" 2>/dev/null | grep -c '\.cprof$' || true)
  [ "$files" -eq "$want" ] || { fail "$name" "its tests ran $want instrumented programs but $files profiles were written"; return; }
  "$cprof" report "$data" --format csv >"$dir.csv" 2>"$dir.report.err" ||
    { cat "$dir.report.err"; fail "$name" "cprof report failed"; return; }
  csv_counts "$dir.csv" >"$dir.counts"
  local f calls missing=()
  for f in "$@"; do
    calls=$(awk -v f="$f" '$1 == f { print $2 }' "$dir.counts")
    [ "${calls:-0}" -gt 0 ] || missing+=("$f")
  done
  [ ${#missing[@]} -eq 0 ] || { fail "$name" "the report has no calls of ${missing[*]}"; return; }
  "$cprof" audit "$data" >"$dir.audit" 2>&1 ||
    { grep -iE 'lost|dropped|cut short|killed' "$dir.audit" | head -5; fail "$name" "cprof audit found losses"; return; }
  local called total
  called=$(awk '$2 > 0' "$dir.counts" | wc -l)
  total=$(awk '{ n += $2 } END { print n + 0 }' "$dir.counts")
  echo "projects: $name $version ($system): tests pass as with clang ($(tail -1 "$dir-cprof.summary")); $files profiles, $called functions called, $total calls, audit: nothing lost: PASS"
}

# fetch PACKAGE: real_fetch in the shared directory; sets src and version.
fetch() {
  cd "$work"
  real_fetch "$1"
  version=${src#"$1"-}
}

selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=(xxhash expat cjson)
for name in "${selected[@]}"; do
  case $name in
  xxhash)
    fetch xxhash
    xxhash_src=$work/${src%/}
    check_project xxhash "${version%/}" "plain make" XXH32_update XXH64_update XXH3_64bits_update XXH3_128bits_update XSUM_hashStream
    ;;
  expat)
    fetch expat
    expat_src=$work/${src%/}/expat
    if [ ! -x "$expat_src/configure" ]; then
      (cd "$expat_src" && ./buildconf.sh) >"$root/expat-buildconf.log" 2>&1 ||
        { show_log "$root/expat-buildconf.log"; fail expat "buildconf.sh (autoreconf) failed"; continue; }
    fi
    check_project expat "${version%/}" autotools XML_ParserCreate XML_Parse XML_ParserFree XML_SetElementHandler doContent
    ;;
  cjson)
    fetch cjson
    cjson_src=$work/${src%/}
    check_project cjson "${version%/}" CMake cJSON_Parse cJSON_Print cJSON_Delete cJSONUtils_ApplyPatches
    ;;
  *) echo "projects: unknown project $name (xxhash, expat, cjson)"; exit 1 ;;
  esac
done
[ "$status" -eq 0 ] && echo "projects: PASS" || echo "projects: FAIL"
exit "$status"
