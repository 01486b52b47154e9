"""The published static site: files, escaping, and (in headless Chromium) images, tables and sorting."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from PIL import Image

from cxrbench.benchmark.runner import run_benchmark
from cxrbench.leaderboard.fd_curves import fd_curves
from cxrbench.leaderboard.site import publish
from cxrbench.leaderboard.store import load_results
from cxrbench.metrics.metric_fd_inf import FIT_FILE
from cxrbench.results import OK, ResultRow, append_row, read_rows
from cxrbench.run_dir import RunDirectory

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EVIL = "<script>window.pwned=1</script>"
# One path component, so its review folder exists; its "$^$" would stop matplotlib if parsed as mathtext.
HOSTILE = "$^$<img src=x onerror=alert(1)>"
FIGURE = re.compile(r'<img src="(figures/[^"]+)" alt="([^"]*)">')


@pytest.fixture(scope="module")
def site(tmp_path_factory, session_cache):
    from conftest import CHEAP_UTILITY, TINY_FEATURES, TINY_PHANTOM

    from cxrbench.config import RunConfig

    root = tmp_path_factory.mktemp("site")
    # The fast models: the site needs several rows and sample sets, not the deep generators' training.
    config = RunConfig(
        models=("pca-gaussian", "train-copy", "noise"),
        tasks=("pleural_effusion", "atelectasis"),
        metrics=("cxr_fd", "precision", "recall", "fd_inf"),  # what the pages below are checked on
        resolution=32,
        n_samples=12,
        bootstrap=10,
        device="cpu",
        out=root / "run",
        cache_dir=session_cache,
        data_options=dict(TINY_PHANTOM),
        feature_options=dict(TINY_FEATURES),
        metric_options=dict(CHEAP_UTILITY),
    )
    run_benchmark(config)
    crafted = root / "crafted"
    crafted.mkdir()
    for condition in ("present", "absent"):
        append_row(
            crafted / "results.jsonl",
            ResultRow(
                model=EVIL,
                task="atelectasis",
                condition=condition,
                metric="cxr_fd",
                value=3.0,
                ci_low=2.0,
                ci_high=4.0,
                n_real=5,
                n_fake=5,
                direction="lower",
                feature_space="cxr-evaluator",
                dataset="mine",
                seed=0,
                cxrbench_version="0",
                resolution=32,
            ),
        )
    index = publish([root / "run", crafted], root / "site")
    return index


def test_site_files_and_escaping(site):
    html = site.read_text()
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html and EVIL not in html
    images = [p.name for p in (site.parent / "figures").glob("*.png")]
    assert any("heatmap" in name for name in images) and any(name.endswith("-present.png") for name in images)
    assert any(name.startswith("s0-precision-recall-") for name in images)  # rows say precision@cxr-evaluator
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
        assert page.locator("table.sortable").count() == 2  # the overview of each of two settings
        assert page.locator("table.finding").count() == 3  # two findings of the run, one of the crafted rows
        # Sample grids under their finding's table, clickable, at least 128 px per sample image as shown.
        grids = page.locator(".samples a img")
        assert grids.count() == 4
        shown = grids.evaluate_all("imgs => imgs.map(i => i.clientWidth * Number(i.dataset.samplePx) / i.naturalWidth)")
        assert min(shown) >= 128, shown
        assert page.locator("table.finding + .samples").count() == 2  # right below the finding's table
        # One competitor (the crafted setting): nothing is bold; a competitor alone is not "the best".
        crafted = page.locator("section.setting", has_text="mine")
        assert crafted.locator("td.best").count() == 0 and crafted.locator("td").count() > 0
        broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length")
        assert broken == 0 and page.locator("img").count() >= 5
        assert page.locator("img[src*='fd-vs-n']").count() == 4  # loaded: none is broken
        assert page.evaluate("window.pwned === undefined") and not dialogs
        assert page.get_by_text(EVIL).count() >= 1  # shown as text

        overview = page.locator("table.sortable").first
        fd_header = overview.locator("th", has_text="CXR-FD")

        def column_values():
            index = fd_header.evaluate("th => Array.from(th.parentNode.children).indexOf(th)")
            return overview.locator("tbody tr").evaluate_all(
                f"rows => rows.map(r => r.cells[{index}].dataset.sort).filter(v => v !== '').map(Number)"
            )

        fd_header.click()
        ascending = column_values()
        fd_header.click()
        descending = column_values()
        assert ascending == sorted(ascending) and descending == sorted(descending, reverse=True)
        assert len(ascending) >= 3 and ascending != descending
        page.screenshot(path=str(tmp_path / "site.png"), full_page=False)
        browser.close()
    assert (tmp_path / "site.png").stat().st_size > 10_000


def test_fd_against_n_figure_for_every_fd_inf_cell(site):
    run = site.parent.parent / "run"
    rows = [r for r in read_rows(run / "results.jsonl") if r.metric.startswith("fd_inf@") and r.status == OK]
    assert {r.model for r in rows} >= {"real-holdout", "pca-gaussian"}
    for row in rows:  # the runner wrote each cell's fit, the intercept being the row's value
        fit = json.loads((RunDirectory(run).review_dir(*row.key) / FIT_FILE).read_text())
        assert fit["intercept"] == pytest.approx(row.value) and len(fit["sizes"]) == len(fit["fd"]) == 15
    drawn = {alt: src for src, alt in FIGURE.findall(site.read_text())}
    cells = {(r.task, r.condition, r.metric.split("@")[1]) for r in rows}
    assert len(cells) == 4  # two findings x present / absent, one space
    for task, condition, space in cells:
        src = drawn[f"FD against n: {task} / {condition} ({space})"]
        with Image.open(site.parent / src) as image:
            assert image.width > 400 and image.height > 250
    assert sum("fd-vs-n" in src for src in drawn.values()) == len(cells)
    assert "FD shrinks with n; the line's value at 1/n = 0 is FD∞" in site.read_text()


def test_a_run_without_review_files_publishes_without_fd_figures(site, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("results.jsonl", "manifest.json"):
        shutil.copy(site.parent.parent / "run" / name, bare / name)
    index = publish([bare], tmp_path / "site")
    html = index.read_text()
    assert "FD against n" not in html and not list((tmp_path / "site" / "figures").glob("*fd-vs-n*"))
    assert any("heatmap" in src for src, _ in FIGURE.findall(html))


def _fd_rows(folder, model, metric, value, reference=False):
    for condition in ("present", "absent"):
        append_row(
            folder / "results.jsonl",
            ResultRow(
                model=model,
                task="atelectasis",
                condition=condition,
                metric=metric,
                value=value,
                ci_low=None,
                ci_high=None,
                n_real=10,
                n_fake=10,
                direction="lower",
                feature_space="cxr-evaluator",
                dataset="mine",
                seed=0,
                cxrbench_version="0",
                resolution=32,
                reference=reference,
            ),
        )


def test_fd_curves_from_written_fits_floor_full_n_and_stale_files(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    metric = "fd_inf@cxr-evaluator"
    fits = {HOSTILE: (1.0, 8.0), "real-holdout": (0.2, 6.0), "stale<i>": (5.0, 3.0), "broken": None}
    for model, fit in fits.items():
        _fd_rows(
            run, model, metric, 1.0 if model == "stale<i>" else (fit or (2.0,))[0], reference=model == "real-holdout"
        )
        _fd_rows(run, model, "fd@cxr-evaluator", 9.0)
        for condition in ("present", "absent"):
            folder = RunDirectory(run).review_dir(model, "atelectasis", condition, metric)
            folder.mkdir(parents=True)
            sizes = [4, 6, 8, 10]
            text = (
                "{not json"
                if fit is None
                else json.dumps(
                    {"sizes": sizes, "fd": [fit[0] + fit[1] / s for s in sizes], "slope": fit[1], "intercept": fit[0]}
                )
            )
            (folder / FIT_FILE).write_text(text)
    merged = load_results([run])
    curves = fd_curves(merged.rows, merged.sources, ("mine", 32, 10, 0), ["real-holdout", HOSTILE])
    assert [(c.task, c.condition, c.space) for c in curves] == [
        ("atelectasis", "present", "cxr-evaluator"),
        ("atelectasis", "absent", "cxr-evaluator"),
    ]
    curve = curves[0]
    assert [(s.model, s.floor, s.intercept, s.full_n, s.full_fd) for s in curve.series] == [
        ("real-holdout", True, 0.2, 10, 9.0),
        (HOSTILE, False, 1.0, 10, 9.0),
    ]
    assert curve.series[1].sizes == (4, 6, 8, 10) and curve.series[1].fd[0] == pytest.approx(3.0)
    assert sorted(curve.without_fit) == ["broken", "stale<i>"]  # unreadable, and an intercept not the row's

    html = publish([run], tmp_path / "site").read_text()
    assert HOSTILE not in html and "stale<i>" not in html and "stale&lt;i&gt;" in html
    drawn = [src for src, alt in FIGURE.findall(html) if alt.startswith("FD against n:")]
    assert len(drawn) == 2 and all((tmp_path / "site" / src).stat().st_size > 10_000 for src in drawn)
