# Shared by the real-project tests (sourced, not run). The caller sets
# `set -euo pipefail` and works in its own directory under BUILD_DIR/real.

# real_setup TAG BUILD_DIR TOOL...: sets build, cc, cprof and work (the
# shared scratch directory BUILD_DIR/real, made and entered), after checking
# that cprof is built and that each TOOL is installed. TAG starts messages.
real_setup() {
  local tag=$1 tool
  build=$(realpath "$2")
  shift 2
  cc=$build/bin/cprof-cc
  cprof=$build/bin/cprof
  for tool in "$cc" "$cprof"; do
    [ -x "$tool" ] || { echo "$tag: $tool is not built"; exit 1; }
  done
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$tag: $tool is not installed (.ci/install-deps installs it)"; exit 1; }
  done
  work=$build/real
  mkdir -p "$work"
  cd "$work"
}

# real_fetch PACKAGE: makes sure the Debian source package PACKAGE is
# unpacked in the current directory (`apt-get source`, adding a deb-src
# entry for Debian's archive when apt has none; that needs root) and sets
# `src` to its directory. Exits 0 with a SKIP line when the archive cannot
# be reached at all, 1 on any other failure.
real_fetch() {
  local package=$1
  src=$(ls -d "$package"-*/ 2>/dev/null | head -1 || true)
  [ -n "$src" ] && return 0
  if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "real: no deb-src entry in apt's sources and not root to add one"; exit 1
    fi
    cat >/etc/apt/sources.list.d/cprof-deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt-get update -qq
  fi
  if ! apt-get source -qq "$package" >fetch.log 2>&1; then
    if grep -qiE 'could not resolve|failed to fetch|temporary failure|unable to fetch' fetch.log; then
      echo "real: SKIP: Debian's archive cannot be reached:"; tail -3 fetch.log; exit 0
    fi
    echo "real: apt-get source $package failed:"; tail -5 fetch.log; exit 1
  fi
  src=$(ls -d "$package"-*/ | head -1)
}

# csv_counts FILE: "name calls" lines, sorted by name, from a
# `cprof report --format csv`, summed by name (tools that count by symbol
# name merge static functions of the same name).
csv_counts() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
           { n[$col["name"]] += $col["calls"] } END { for (f in n) print f, n[f] }' "$1" | sort
}

# lua_prepare: fetches Debian's lua5.4 source (real_fetch) and sets
# lua_src (its src/ directory), sources (the interpreter's .c files, luac
# left out) and defs (the flags the tests build it with). Lua's string hash
# seed and its cache of C string addresses are made deterministic
# (luai_makeseed, STRCACHE_N) so that builds laid out differently in memory
# make exactly the same calls and allocations.
lua_prepare() {
  real_fetch lua5.4
  lua_src=$work/${src%/}/src
  sources=()
  local f
  for f in "$lua_src"/*.c; do
    [ "$(basename "$f")" = luac.c ] || sources+=("$f")
  done
  # Debian's luaconf.h includes a header its packaging generates
  printf '#define DEB_HOST_MULTIARCH "%s"\n' "$(gcc -dumpmachine)" >"$lua_src/lua5.4-deb-multiarch.h"
  defs=(-std=gnu99 -DLUA_COMPAT_5_3 -DLUA_USE_LINUX '-Dluai_makeseed(L)=0' -DSTRCACHE_N=1 -DSTRCACHE_M=1)
}
