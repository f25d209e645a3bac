#!/usr/bin/env bash
# The README's first command: installs what is missing (Debian packages, as
# root), builds cprof, profiles samples/quickstart/wordfreq.c and prints its
# report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target cprof cprof-cc cprof-rt cprof-rt-static >/dev/null
out=build/quickstart
rm -rf "$out" && mkdir -p "$out"
build/bin/cprof-cc -O2 -o "$out/wordfreq" samples/quickstart/wordfreq.c
build/bin/cprof record -o "$out/cprof.data" -- "$out/wordfreq"
echo
build/bin/cprof report "$out/cprof.data"
