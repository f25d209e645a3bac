#!/usr/bin/env python3
"""Checks of a page `cprof export --format html` wrote, for the end-to-end
tests (tests/e2e/test_export_html.c) and the browser check (check.sh).

  page.py check PAGE       self-contained: nothing outside the data block
                           loads from the network, and no '<' inside it
  page.py functions PAGE   per function: name, calls, alloc_calls,
                           alloc_bytes, free_calls, freed_bytes,
                           leaked_blocks, leaked_bytes (TAB-separated; the
                           heap fields empty without heap data)
  page.py lines PAGE       "function<TAB>line<TAB>hits" per line with data
  page.py names PAGE       the function names, one per line (as JSON strings)
  page.py dom DOM PAGE     the DOM Chromium dumped after the scripts ran has
                           the flame graph drawn and a row per function;
                           prints the flame graph's "x,y,w,h"
  page.py png PNG W H X,Y,W,H   the screenshot is W x H, not blank, and the
                           flame graph's region shows its colours
Exit status 0 when the check holds, 1 (with the reason on stderr) when not.
Only the standard library: the PNG is decoded with zlib and struct.
"""
import json
import re
import struct
import sys
import zlib

OPEN = '<script type="application/json" id="cprof-data">'


def fail(msg):
    sys.stderr.write("page.py: " + msg + "\n")
    sys.exit(1)


def split(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.find(OPEN)
    if start < 0:
        fail(path + ": no data block")
    start += len(OPEN)
    end = text.find("</script>", start)
    if end < 0:
        fail(path + ": the data block is not closed")
    return text[:start], text[start:end], text[end:]


def data(path):
    return json.loads(split(path)[1])


def check(path):
    head, block, tail = split(path)
    page = head + tail
    for bad in ("http:", "https:", "src=", "@import", "url(", "<link", "<iframe",
                "fetch(", "XMLHttpRequest", "innerHTML", "document.write"):
        if bad in page:
            fail("%s: the page outside its data has '%s'" % (path, bad))
    if "<" in block or ">" in block:
        fail(path + ": the data block holds a raw '<' or '>'")
    if page.count("<script") != 2:
        fail(path + ": expected exactly one data and one code <script>")
    json.loads(block)


def dom(dom_path, page_path):
    d = data(page_path)
    with open(dom_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if 'data-ready="1"' not in text:
        fail(dom_path + ": the script did not finish (no data-ready)")
    m = re.search(r'<canvas id="flame"[^>]*>', text)
    if not m:
        fail(dom_path + ": no flame graph canvas")
    canvas = m.group(0)
    frames = re.search(r'data-frames="(\d+)"', canvas)
    rect = re.search(r'data-rect="(\d+),(\d+),(\d+),(\d+)"', canvas)
    if not frames or not rect:
        fail(dom_path + ": the flame graph was not drawn")
    # the root and at least one frame per function of the tree's top path
    if int(frames.group(1)) < 2:
        fail(dom_path + ": the flame graph drew %s frames" % frames.group(1))
    rows = len(re.findall(r'<tr class="fn-row', text))
    want = min(len(d["functions"]), 300)
    if rows != want:
        fail("%s: %d function rows, expected %d" % (dom_path, rows, want))
    if "<img" in text or "pwned" in text.split("</title>")[0]:
        fail(dom_path + ": a string of the data became markup")
    print("%s,%s,%s,%s" % rect.groups())


def png(path, want_w, want_h, region):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        fail(path + ": not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(raw):
        n, kind = struct.unpack(">I4s", raw[pos:pos + 8])
        body = raw[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype = ihdr[0], ihdr[1], ihdr[2], ihdr[3]
    if (w, h) != (want_w, want_h):
        fail("%s: %dx%d, expected %dx%d" % (path, w, h, want_w, want_h))
    if depth != 8 or ctype not in (2, 6):
        fail("%s: colour type %d depth %d not handled" % (path, ctype, depth))
    bpp = 3 if ctype == 2 else 4
    stride = w * bpp
    pix = zlib.decompress(idat)
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ftype = pix[y * (stride + 1)]
        line = bytearray(pix[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        rows.append(line)
        prev = line
    colours = set()
    for y in range(0, h, 7):
        for x in range(0, w, 7):
            colours.add(bytes(rows[y][x * bpp:x * bpp + 3]))
    if len(colours) < 8:
        fail("%s: looks blank (%d colours)" % (path, len(colours)))
    x0, y0, rw, rh = region
    warm = total = 0
    for y in range(y0 + 1, min(y0 + rh, h) - 1, 2):
        for x in range(x0 + 1, min(x0 + rw, w) - 1, 3):
            r, g, b = rows[y][x * bpp:x * bpp + 3]
            total += 1
            # the palette of frames: red 205..255, green 80..230, blue <= 55
            if r >= 200 and 70 <= g <= 235 and b <= 70:
                warm += 1
    if total == 0 or warm < total * 0.3:
        fail("%s: the flame graph region %s has %d of %d pixels in frame colours"
             % (path, region, warm, total))
    print("%s: %dx%d, %d colours, %d%% of the flame graph in frame colours"
          % (path, w, h, len(colours), 100 * warm // total))


def main():
    if len(sys.argv) < 3:
        fail("usage: page.py check|functions|lines|names|dom|png ...")
    what, path = sys.argv[1], sys.argv[2]
    if what == "check":
        check(path)
    elif what == "functions":
        keys = ("calls", "alloc_calls", "alloc_bytes", "free_calls", "freed_bytes",
                "leaked_blocks", "leaked_bytes")
        for f in data(path)["functions"]:
            print("\t".join([f["name"]] + [str(f.get(k, "")) for k in keys]))
    elif what == "lines":
        d = data(path)
        for g in d["lines"]:
            name = d["functions"][g["function"]]["name"] if g["function"] >= 0 else g["name"]
            for fl in g["files"]:
                for row in fl["rows"]:
                    if row[1] is not None:
                        print("%s\t%d\t%d" % (name, row[0], row[1]))
    elif what == "names":
        for f in data(path)["functions"]:
            print(json.dumps(f["name"]))
    elif what == "dom":
        dom(path, sys.argv[3])
    elif what == "png":
        png(path, int(sys.argv[3]), int(sys.argv[4]),
            [int(v) for v in sys.argv[5].split(",")])
    else:
        fail("unknown check " + what)


main()
