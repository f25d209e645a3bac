#!/usr/bin/env bash
# The html report in a real browser: headless Chromium opens pages that
# `cprof export --format html` wrote for samples/lines and for a program
# whose function name and source lines are HTML, and
#   - the DOM after the scripts ran has the flame graph drawn (its canvas
#     carries data-frames and data-rect) and one table row per function;
#   - no string of the data became markup (the hostile name shows as text);
#   - a 1280x1600 screenshot is a PNG of that size, not blank, whose flame
#     graph region is in the frames' colours (decoded by page.py, no PIL).
# Usage: tests/html/check.sh [BUILD_DIR] (default build). Prints SKIP and
# exits 0 only when no Chromium is installed (.ci/install-deps installs it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null; then browser=$b; break; fi
done
if [ -z "$browser" ]; then
  echo "SKIP: html browser check: chromium is not installed (apt-get install chromium)"
  exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/cprof-html.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# headless Chromium with a fresh profile; $1 is the page, the rest options
chrome() {
  local page=$1
  shift
  timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --disable-extensions --user-data-dir="$work/profile" --window-size=1280,1600 \
    "$@" "file://$work/$page" 2>>"$work/chrome.log"
}

"$build/bin/cprof-cc" -O2 --cprof-lines='sum_*,classify,count_down,wait_a_bit,worker' \
  -o lines "$root/samples/lines/main.c" -lpthread
CPROF_DIR=lines.data ./lines >/dev/null
"$build/bin/cprof" export --format html -o lines.html lines.data
python3 "$here/page.py" check lines.html
chrome lines.html --dump-dom >lines.dom
rect=$(python3 "$here/page.py" dom lines.dom lines.html)
chrome lines.html --screenshot="$work/lines.png" >/dev/null
python3 "$here/page.py" png lines.png 1280 1600 "$rect"

cat >hostile.c <<'SRC'
#include <stdio.h>
int hostile(int n) __asm__("evil</script><img src=x onerror=alert(1)>");
int hostile(int n)
{
    return n + 1; /* </script><script>document.title='pwned'</script> */
}
int main(void)
{
    int s = 0;
    for (int i = 0; i < 3; i++)
        s += hostile(i);
    printf("%d\n", s);
    return 0;
}
SRC
"$build/bin/cprof-cc" -O0 --cprof-lines='*' -o hostile hostile.c
CPROF_DIR=hostile.data ./hostile >/dev/null
"$build/bin/cprof" export --format html -o hostile.html hostile.data
python3 "$here/page.py" check hostile.html
chrome hostile.html --dump-dom >hostile.dom
python3 "$here/page.py" dom hostile.dom hostile.html >/dev/null
grep -qF 'evil&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;' hostile.dom || {
  echo "check.sh: the hostile function name is not shown as text" >&2
  exit 1
}
grep -qF "/* &lt;/script&gt;&lt;script&gt;document.title='pwned'" hostile.dom || {
  echo "check.sh: the hostile source line is not shown as text" >&2
  exit 1
}
echo "html browser check: passed ($browser)"
