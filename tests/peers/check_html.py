"""Opens an HTML report in headless Chromium and checks what a reader would see.

usage: check_html.py PAGE.html OUT_DIR TITLE...

Loads the page from disk with the network switched off, takes a screenshot (OUT_DIR/page.png)
and the DOM as Chromium rendered it, then checks: the page fetches nothing (no src/href to
another place); each TITLE is the title of a chart whose SVG draws data (a line of several
points or a filled bar in a series colour, not only axes and grid); and the screenshot shows
chart colours (pixels far from grey; the PNG is decoded here with zlib). Prints a JSON report
with the problems found (none when all is well).
"""
import json
import struct
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

page, out_dir, titles = Path(sys.argv[1]).resolve(), Path(sys.argv[2]), sys.argv[3:]
problems = []
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", f"--user-data-dir={out_dir / 'profile'}"]


def chromium(*args):
    r = subprocess.run(CHROMIUM + list(args) + [page.as_uri()], capture_output=True, timeout=600)
    if r.returncode != 0:
        problems.append({"what": "chromium failed", "args": args, "stderr": r.stderr.decode(errors="replace")[-2000:]})
    return r.stdout.decode(errors="replace")


class Figures(HTMLParser):
    """Each figure.chart: its title, and the data it draws."""

    def __init__(self):
        super().__init__()
        self.figures, self.current, self.fetches = [], None, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href"):
            if a.get(k) and not a[k].startswith(("#", "data:")):
                self.fetches.append(a[k])
        if tag == "figure" and "chart" in a.get("class", ""):
            self.current = {"title": a.get("data-title"), "empty": a.get("data-empty"), "lines": 0, "bars": 0, "marks": 0}
            self.figures.append(self.current)
        elif self.current is None:
            return
        elif tag == "polyline":
            points = a.get("points", "").split()
            # Axes, ticks and grid are black or grey; a series has a colour and several points.
            if len(points) >= 3 and a.get("stroke", "#000000").upper() not in ("#000000", "#FFFFFF"):
                self.current["lines"] += 1
        elif tag == "rect" and a.get("fill", "none").upper() not in ("NONE", "#FFFFFF", "#000000"):
            if float(a.get("width", 0)) > 0 and float(a.get("height", 0)) > 0:
                self.current["bars"] += 1
        elif tag == "circle":
            self.current["marks"] += 1

    def handle_endtag(self, tag):
        if tag == "figure":
            self.current = None


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG, unfiltered."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), f"PNG depth {depth} colour type {colour}"
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, bpp, rows


dom = chromium("--dump-dom", "--virtual-time-budget=2000")
parser = Figures()
parser.feed(dom)
if parser.fetches:
    problems.append({"what": "the page fetches from elsewhere", "refs": parser.fetches[:5]})
by_title = {f["title"]: f for f in parser.figures}
for t in titles:
    f = by_title.get(t)
    if f is None:
        problems.append({"what": "chart missing", "title": t, "charts": list(by_title)})
    elif f["empty"] != "false" or (f["lines"] == 0 and f["bars"] == 0 and f["marks"] == 0):
        problems.append({"what": "chart without data", "chart": f})

shot = out_dir / "page.png"
chromium(f"--screenshot={shot}", "--window-size=1000,2400", "--hide-scrollbars")
coloured = 0
if shot.is_file():
    width, height, bpp, rows = png_pixels(shot)
    for line in rows:
        for x in range(0, width * bpp, bpp):
            r, g, b = line[x], line[x + 1], line[x + 2]
            coloured += max(r, g, b) - min(r, g, b) > 80
else:
    problems.append({"what": "no screenshot"})
if coloured < 2000:
    problems.append({"what": "screenshot shows no charts", "coloured_pixels": coloured})

print(json.dumps({"charts": parser.figures, "coloured_pixels": coloured, "problems": problems}))
