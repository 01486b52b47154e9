"""Screenshot the reader-study app (paired design) in headless Chromium for docs/figures/reader-study.png.

Makes a small phantom run (the fast pca-gaussian model, 64 px), prepares a paired study from it,
serves it on a free local port, answers "probably right" with a reason, and saves the page.

Run: python docs/figures/make_reader_study_screenshot.py
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from cxrbench.benchmark.runner import run_benchmark
from cxrbench.cache import default_cache_root
from cxrbench.config import RunConfig
from cxrbench.reader_study.app import create_app
from cxrbench.reader_study.design import Design
from cxrbench.reader_study.prepare import PrepareConfig, prepare_study

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main(out: Path = Path(__file__).with_name("reader-study.png")) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # Pixel-space precision needs no trained feature space: the run only has to write sample sets.
        run = RunConfig(
            models=("pca-gaussian",),
            tasks=("pleural_effusion",),
            metrics=("precision",),
            metric_options={"precision": {"feature_space": "pixels"}},
            resolution=64,
            n_samples=8,
            bootstrap=0,
            device="cpu",
            floor=False,
            out=root / "run",
            cache_dir=default_cache_root(),
        )
        run_benchmark(run)
        study = prepare_study(
            PrepareConfig(
                run_dir=root / "run",
                out=root / "study",
                design=Design.PAIRED,
                n_items=4,
                readers=("r1",),
                cache_dir=default_cache_root(),
            )
        )
        server = make_server("127.0.0.1", 0, create_app(study.root), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(f"http://127.0.0.1:{server.server_port}/r/{study.readers['r1']}")
                page.wait_for_selector("#progress:has-text('1 / 8')")
                page.wait_for_function("!!shownAt")
                page.keyboard.press("4")  # probably right
                page.keyboard.press("s")  # soft tissue
                page.screenshot(path=str(out))
                browser.close()
        finally:
            server.shutdown()
            thread.join(timeout=10)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
