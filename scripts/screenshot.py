"""Full-page screenshots of a profile's front page and two rendered notebooks (headless Chromium).

    python scripts/screenshot.py [--profile quick] [--pages index 90_report 30_bbn]   (index: also its first screen)

Writes outputs/<profile>/screenshots/<page>.png. Needs the Debian package chromium-headless-shell (or chromium):
`apt-get install -y chromium-headless-shell`. Chromium shoots a tall window; the blank bottom is trimmed.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageChops

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")


def browser() -> str:
    """The first headless-capable Chromium on PATH."""
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    raise SystemExit("no Chromium found: apt-get install -y chromium-headless-shell")


def trim(png: Path, margin: int = 24) -> None:
    """Cut the blank (background-coloured) rows below the page's content."""
    im = Image.open(png).convert("RGB")
    bg = Image.new("RGB", im.size, im.getpixel((im.width - 1, im.height - 1)))
    box = ImageChops.difference(im, bg).getbbox()
    if box:
        im.crop((0, 0, im.width, min(im.height, box[3] + margin))).save(png, optimize=True)


def shoot(html: Path, out: Path, width: int = 1200, height: int = 16000, full: bool = True) -> Path:
    """One PNG of a local HTML file: the full page (pages taller than `height` are cut there), or with full=False
    the first screen a reader sees in a width x height window."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile_dir:
        subprocess.run([browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={profile_dir}", f"--window-size={width},{height}",
                        "--virtual-time-budget=5000", f"--screenshot={out}", html.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
    if full:
        trim(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Shoot the pages of one profile into outputs/<profile>/screenshots/."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--pages", nargs="*", default=["index", "90_report", "30_bbn"])
    ap.add_argument("--width", type=int, default=1200)
    args = ap.parse_args(argv)
    folder = ROOT / "outputs" / args.profile
    for page in args.pages:
        html = folder / f"{page}.html"
        if not html.exists():
            print(f"skip {page}: {html} not found", file=sys.stderr)
            continue
        out = shoot(html, folder / "screenshots" / f"{page}.png", args.width)
        print(f"{out.relative_to(ROOT)} ({Image.open(out).height} px high)")
        if page == "index":                                     # what a reader sees first, at 1400 x 900
            first = shoot(html, folder / "screenshots" / "index-first-screen.png", 1400, 900, full=False)
            print(f"{first.relative_to(ROOT)} (1400 x 900, the first screen)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
