"""The reader web app: private links, own answers only, no path out of the study, and a real browser session."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from reader_study_helpers import make_run

from cxrbench.reader_study.design import Design
from cxrbench.reader_study.prepare import PrepareConfig, prepare_study
from cxrbench.reader_study.store import AnswerStore
from cxrbench.reader_study.study import Study

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


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("app-run") / "run", models=("alpha",))


def make_study(run: Path, out: Path, design: str = "paired", n: int = 3) -> Study:
    return prepare_study(
        PrepareConfig(
            run_dir=run,
            out=out,
            design=Design(design),
            n_items=n,
            readers=("r1", "r2"),
            conditions=("present",),
            seed=1,
            cache_dir=Path(os.environ["CXRBENCH_CACHE"]),
        )
    )


@pytest.fixture
def client_and_study(run, tmp_path):
    from cxrbench.reader_study.app import create_app

    study = make_study(run, tmp_path / "study")
    return create_app(study.root).test_client(), study


def test_tokens_answers_and_images(client_and_study):
    client, study = client_and_study
    r1, r2 = study.readers["r1"], study.readers["r2"]
    assert client.get("/r/not-a-token").status_code == 404
    assert client.get("/r/not-a-token/state").status_code == 404
    page = client.get(f"/r/{r1}")
    assert page.status_code == 200 and b"reader.js" in page.data and page.headers["Referrer-Policy"] == "no-referrer"
    state = client.get(f"/r/{r1}/state").get_json()
    assert (state["answered"], state["total"]) == (0, 3) and state["item"]["id"] == study.order("r1")[0]
    item = state["item"]
    image = client.get(f"/r/{r1}/{item['images'][0]}")
    assert image.status_code == 200 and image.data[:8] == b"\x89PNG\r\n\x1a\n"

    bad = [
        {},
        {"item": item["id"], "response": 6, "reason": "other", "seconds": 1},
        {"item": item["id"], "response": 5, "reason": None, "seconds": 1},  # a decided pair needs a reason
        {"item": item["id"], "response": 3, "reason": "other", "seconds": 1},
        {"item": item["id"], "response": 5, "reason": "vibes", "seconds": 1},
        {"item": item["id"], "response": 5, "reason": "other", "seconds": -1},
        {"item": "000000000000", "response": 5, "reason": "other", "seconds": 1},
    ]
    for body in bad:
        assert client.post(f"/r/{r1}/answer", json=body).status_code == 400, body
    after = client.post(
        f"/r/{r1}/answer", json={"item": item["id"], "response": 5, "reason": "other", "seconds": 2.25}
    ).get_json()
    assert after["answered"] == 1 and after["item"]["id"] == study.order("r1")[1]
    # A second submission for the same item (a double click) does not change the stored answer.
    client.post(f"/r/{r1}/answer", json={"item": item["id"], "response": 1, "reason": "other", "seconds": 9})
    assert client.get(f"/r/{r1}/answers").get_json() == [
        {"item": item["id"], "response": 5, "reason": "other", "seconds": 2.25}
    ]
    assert client.get(f"/r/{r2}/answers").get_json() == []  # r2 sees none of r1's answers
    assert client.get(f"/r/{r2}/state").get_json()["answered"] == 0


@pytest.mark.parametrize(
    "path",
    [
        "../key.json",
        "..%2Fkey.json",
        "..%2F..%2Fkey.json",
        "%2e%2e/%2e%2e/key.json",
        "../../study.json",
        "..%5Ckey.json",
        "../items.json",
        "/etc/passwd",
        "aaaaaaaaaaaa.png",
    ],
)
def test_image_urls_cannot_leave_the_served_folder(client_and_study, path):
    client, study = client_and_study
    token = study.readers["r1"]
    (study.served / "images" / "aaaaaaaaaaaa.png").write_bytes(b"not in items.json")
    assert client.get(f"/r/{token}/image/{path}").status_code == 404
    assert client.get(f"/r/{token}/image/{sorted(study.image_ids)[0]}.png").status_code == 200  # the real route works


def test_serve_binds_localhost_by_default():
    import inspect

    from cxrbench.reader_study.app import serve

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"


@pytest.mark.browser
def test_a_reader_answers_reloads_resumes_and_finishes_in_chromium(run, tmp_path):
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    playwright = pytest.importorskip("playwright.sync_api")
    from werkzeug.serving import make_server

    from cxrbench.reader_study.app import create_app

    study = make_study(run, tmp_path / "study", n=3)  # 3 pairs
    server = make_server("127.0.0.1", 0, create_app(study.root), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    link = f"http://127.0.0.1:{server.server_port}/r/{study.readers['r1']}"
    given = []  # (item id, response, reason) in the order answered
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(link)
            page.wait_for_selector("#progress:has-text('1 / 3')")
            assert page.locator("#images img").count() == 2
            page.wait_for_function("document.querySelectorAll('#images img')[1].naturalWidth > 0")

            def current_item() -> str:
                return page.evaluate("state.item.id")

            # Item 1 with clicks: "probably right", then a reason, then Next.
            first = current_item()
            assert not page.locator("#reasons").is_visible()
            page.get_by_role("button", name="probably right").click()
            assert page.locator("#reasons").is_visible() and page.locator("#next").is_disabled()
            page.get_by_role("button", name="bone structure").click()
            page.get_by_role("button", name="Next").click()
            given.append((first, 4, "bone_structure"))
            page.wait_for_selector("#progress:has-text('2 / 3')")

            # Item 2 with keys: 1 (definitely left), e (external devices), Enter.
            second = current_item()
            assert second != first
            page.keyboard.press("1")
            page.keyboard.press("e")
            page.wait_for_function("!document.getElementById('next').disabled")
            page.keyboard.press("Enter")
            given.append((second, 1, "external_devices"))
            page.wait_for_selector("#progress:has-text('3 / 3')")

            # Reload: the page resumes at the third item, not at the first.
            third = current_item()
            page.reload()
            page.wait_for_selector("#progress:has-text('3 / 3')")
            assert current_item() == third
            page.keyboard.press("3")  # cannot tell: no reason asked
            assert not page.locator("#reasons").is_visible()
            page.wait_for_function("!document.getElementById('next').disabled")
            page.keyboard.press("Enter")
            given.append((third, 3, None))
            page.wait_for_selector("#finished:not([hidden])")
            assert page.locator("#progress").inner_text() == "3 / 3"
            browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert [g[0] for g in given] == study.order("r1")
    stored = AnswerStore(study.answers_path).answers("r1")
    assert [(a.item, a.response, a.reason) for a in stored] == given
    assert all(a.seconds is not None and 0 <= a.seconds < 120 for a in stored)
    with sqlite3.connect(study.answers_path) as db:  # written in WAL mode, readable while the app runs
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert AnswerStore(study.answers_path).answers("r2") == []
