"""One key scheme for every cache (cxrbench/cache.py): kind and format version, inputs, component, code."""

from __future__ import annotations

import re

from conftest import REPO

from cxrbench import cache
from cxrbench.cache import FORMATS, cache_key, code_digest


def test_each_part_of_a_key_changes_it():
    base = cache_key("features", "images-digest", {"name": "pixels"}, "code")
    assert cache_key("features", "images-digest", {"name": "pixels"}, "code") == base  # stable
    others = [
        cache_key("rows", "images-digest", {"name": "pixels"}, "code"),
        cache_key("features", "other-images", {"name": "pixels"}, "code"),
        cache_key("features", "images-digest", {"name": "pixels", "weights": "x"}, "code"),
        cache_key("features", "images-digest", {"name": "pixels"}, "edited"),
    ]
    assert len({base, *others}) == 5


def test_a_format_bump_is_a_new_key(monkeypatch):
    before = cache_key("models", "data", {"name": "cgan"}, "code")
    monkeypatch.setitem(FORMATS, "models", FORMATS["models"] + 1)
    assert cache_key("models", "data", {"name": "cgan"}, "code") != before


def test_the_code_digest_follows_imports_into_the_components_own_package(tmp_path, monkeypatch):
    package = tmp_path / "my_plugin"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "adapter.py").write_text("from my_plugin import helper\nfrom cxrbench.errors import ConfigError\n")
    (package / "helper.py").write_text("SCALE = 1\n")
    (package / "unused.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def digest() -> str:
        cache._source_digest.cache_clear()  # a new process reads the files anew
        cache.code_files.cache_clear()
        cache._imported_files.cache_clear()
        return code_digest(package / "adapter.py")

    files = {p.rsplit("/", 2)[-1] for p in cache.code_files(str(package / "adapter.py"))}
    assert {"adapter.py", "helper.py", "errors.py"} <= files and "unused.py" not in files
    before = digest()
    (package / "unused.py").write_text("X = 2\n")
    assert digest() == before  # a module it does not import keeps its entries
    (package / "helper.py").write_text("SCALE = 2\n")
    assert digest() != before  # an edit of what it imports is a new key (models, evaluator, features, rows)


def test_every_cache_builds_its_key_with_cache_key():
    sources = {p: p.read_text() for p in (REPO / "cxrbench").rglob("*.py")}
    for kind in FORMATS:  # each kind is used, by the cache it names
        assert any(re.search(rf'cache_key\(\s*"{kind}"', s) for s in sources.values()), kind
    # no module but cache.py hashes its own cache names
    users = {p.relative_to(REPO).as_posix() for p, s in sources.items() if re.search(r"\bcontent_key\(", s)}
    assert users == {"cxrbench/cache.py"}


def test_the_code_digest_does_not_depend_on_where_the_code_is_installed(tmp_path):
    import shutil

    for place in ("here", "there"):
        shutil.copytree(REPO / "cxrbench" / "metrics", tmp_path / place / "cxrbench" / "metrics")
        shutil.copy(REPO / "cxrbench" / "__init__.py", tmp_path / place / "cxrbench" / "__init__.py")
    cache._source_digest.cache_clear()
    here, there = (str(tmp_path / p / "cxrbench" / "metrics" / "kid.py") for p in ("here", "there"))
    assert cache._source_digest(here) == cache._source_digest(there)
    assert cache._source_digest(here) != cache._source_digest(
        str(tmp_path / "here" / "cxrbench" / "metrics" / "frechet.py")
    )
