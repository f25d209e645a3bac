#!/usr/bin/env bash
# The whole test suite, as the README and CI run it:
#   1. a normal build and its Criterion unit and end-to-end tests;
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build of the analyzer
#      and its tests (the runtime is never sanitized: it lives inside the
#      profiled program);
#   3. a short libFuzzer run of the file reader (CPROF_FUZZ_SECONDS, 30) and of
#      the symbolizer on ELF files (CPROF_FUZZ_SYM_SECONDS, 15);
#   4. a real project: Debian's bzip2 rebuilt with cprof-cc passes its own
#      tests, and its call counts match uftrace's (tests/real/run.sh).
#   5. real code that longjmps all the time: the Lua interpreter rebuilt with
#      cprof-cc has gprof's call counts and loses no frame (tests/real/lua.sh).
#   6. three real projects, one per build system (xxhash: make, expat:
#      autotools, cJSON: CMake), rebuilt with cprof-cc, pass their own tests
#      as with clang and write complete profiles (tests/real/projects.sh).
# Build trees: build/ and build-san/ at the top of the repository.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
failed=()

step() { printf '\n==== %s\n' "$*"; }

step "formatting (.clang-format)"
if ! command -v clang-format >/dev/null; then
  echo "clang-format is not installed: skipped"
elif ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "not a git checkout: skipped"
else
  git ls-files -z '*.c' '*.h' '*.cpp' | xargs -0 -r clang-format --dry-run -Werror && echo "formatted" ||
    failed+=(format)
fi

step "build (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
  cmake --build build -j"$jobs" || { echo "cprof: build failed"; exit 1; }

step "unit tests"
./build/bin/cprof-unit-tests --jobs="$jobs" || failed+=(unit)
step "end-to-end tests"
./build/bin/cprof-e2e-tests --jobs="$jobs" || failed+=(e2e)

step "a real project: bzip2 built with cprof-cc, against uftrace"
tests/real/run.sh build || failed+=(real)
step "real longjmp-heavy code: the Lua interpreter built with cprof-cc, against gprof"
tests/real/lua.sh build || failed+=(real-lua)
step "heap figures of real code: the Lua interpreter, against heaptrack"
tests/real/heap.sh build || failed+=(real-heap)

step "real projects of each build system (make, autotools, CMake) built with cprof-cc, their own tests"
tests/real/projects.sh build || failed+=(real-projects)

step "sanitizer build (build-san/: ASan + UBSan)"
if cmake -S . -B build-san -DCMAKE_BUILD_TYPE=Debug -DCPROF_SANITIZE=ON \
  -DCMAKE_C_COMPILER="$(command -v clang || command -v clang-14)" >/dev/null &&
  cmake --build build-san -j"$jobs"; then
  step "unit tests under ASan + UBSan"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ./build-san/bin/cprof-unit-tests --jobs="$jobs" || failed+=(unit-sanitized)
  step "end-to-end tests with the sanitized analyzer"
  ASAN_OPTIONS=detect_leaks=1 ./build-san/bin/cprof-e2e-tests --jobs="$jobs" ||
    failed+=(e2e-sanitized)
  step "fuzz smoke run of the reader (${CPROF_FUZZ_SECONDS:-30} s) and the symbolizer (${CPROF_FUZZ_SYM_SECONDS:-15} s)"
  tests/fuzz/run.sh build-san "${CPROF_FUZZ_SECONDS:-30}" || failed+=(fuzz)
else
  failed+=(sanitizer-build)
fi

echo
if [ ${#failed[@]} -ne 0 ]; then
  echo "cprof: FAILED: ${failed[*]}"
  exit 1
fi
echo "cprof: all tests passed"
