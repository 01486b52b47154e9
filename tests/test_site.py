"""The published static site: files, escaping, and (in headless Chromium) images, tables and sorting."""

from __future__ import annotations

import shutil

import pytest

from cxrbench.benchmark.results import ResultRow, append_row
from cxrbench.benchmark.runner import run_benchmark
from cxrbench.leaderboard.site import publish

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EVIL = "<script>window.pwned=1</script>"


@pytest.fixture(scope="module")
def site(tmp_path_factory, session_cache):
    from cxrbench.config import RunConfig
    from conftest import TINY_PHANTOM

    root = tmp_path_factory.mktemp("site")
    # The fast models: the site needs several rows and sample sets, not the deep generators' training.
    config = RunConfig(models=("pca-gaussian", "train-copy", "noise"), tasks=("pleural_effusion", "atelectasis"),
                       resolution=32, n_samples=12, bootstrap=10,
                       device="cpu", out=root / "run", cache_dir=session_cache, data_options=dict(TINY_PHANTOM))
    run_benchmark(config)
    crafted = root / "crafted"
    crafted.mkdir()
    for condition in ("present", "absent"):
        append_row(crafted / "results.jsonl", ResultRow(
            model=EVIL, task="atelectasis", condition=condition, metric="cxr_fd", value=3.0, ci_low=2.0,
            ci_high=4.0, n_real=5, n_fake=5, direction="lower", feature_space="cxr-evaluator", dataset="mine",
            seed=0, cxrbench_version="0", resolution=32))
    index = publish([root / "run", crafted], root / "site")
    return index


def test_site_files_and_escaping(site):
    html = site.read_text()
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html and EVIL not in html
    images = [p.name for p in (site.parent / "figures").glob("*.png")]
    assert any("heatmap" in name for name in images) and any(name.endswith("-present.png") for name in images)
    assert all(name.startswith("s") and "/" not in name for name in images)
    assert (site.parent / "runs" / "0" / "config.toml").read_text().count("n_samples = 12") == 1
    assert "cxrbench run --config runs/0/config.toml" in html


@pytest.mark.browser
def test_site_in_headless_chromium(site, tmp_path):
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1800})
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(site.resolve().as_uri())
        assert page.locator("table.sortable").count() >= 4  # overview + tasks of two settings
        broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length")
        assert broken == 0 and page.locator("img").count() >= 5
        assert page.evaluate("window.pwned === undefined") and not dialogs
        assert page.get_by_text(EVIL).count() >= 1  # shown as text

        overview = page.locator("table.sortable").first
        fd_header = overview.locator("th", has_text="CXR-FD")

        def column_values():
            index = fd_header.evaluate("th => Array.from(th.parentNode.children).indexOf(th)")
            return overview.locator("tbody tr").evaluate_all(
                f"rows => rows.map(r => r.cells[{index}].dataset.sort).filter(v => v !== '').map(Number)")

        fd_header.click()
        ascending = column_values()
        fd_header.click()
        descending = column_values()
        assert ascending == sorted(ascending) and descending == sorted(descending, reverse=True)
        assert len(ascending) >= 3 and ascending != descending
        page.screenshot(path=str(tmp_path / "site.png"), full_page=False)
        browser.close()
    assert (tmp_path / "site.png").stat().st_size > 10_000
