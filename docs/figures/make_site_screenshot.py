"""Screenshot the published leaderboard site in headless Chromium for docs/figures/site.png.

Run: cxrbench run --models all --out runs/latest
     cxrbench leaderboard publish runs/latest --out runs/site
     python docs/figures/make_site_screenshot.py runs/site/index.html
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main(index: Path, out: Path = Path(__file__).with_name("site.png")) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1500})
        page.goto(index.resolve().as_uri())
        page.locator("table.sortable").first.locator("th", has_text="CXR-FD").click()  # show a sorted column
        page.screenshot(path=str(out))
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
