"""Reference weights (cxrbench/zoo): rebuilt bit-identically, used by a run whose settings match and said so
in its manifest, never used with --retrain or other settings, refused when damaged; the shipped set matches
today's defaults."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from cxrbench.benchmark.model_store import WeightsKey
from cxrbench.benchmark.progress import Reporter
from cxrbench.benchmark.runner import run_benchmark
from cxrbench.benchmark.setup import build_dataset, fit_context, load_splits, real_halves
from cxrbench.benchmark.spaces import prepare_spaces
from cxrbench.benchmark.zoo_rebuild import EVALUATOR, ZOO_ENTRIES, rebuild_zoo
from cxrbench.config import RunConfig
from cxrbench.errors import CxrbenchError
from cxrbench.metrics.feature_extractor import ExtractorContext
from cxrbench.models import MODELS
from cxrbench.zoo import PACKAGED, find_reference, read_catalogue

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory, session_cache):
    """Every entry rebuilt twice at the tests' tiny presets: the first into ``a``, the second into ``b``
    compared with ``a``."""
    from conftest import CHEAP_UTILITY, TINY_FEATURES, TINY_MODELS, TINY_PHANTOM

    config = RunConfig(
        models=("pggan-lco", "cgan", "diffusion-small"),
        tasks=("pleural_effusion",),
        metrics=("fd", "conditional_auroc"),
        resolution=32,
        n_samples=12,
        bootstrap=0,
        validity_n=10,
        device="cpu",
        cache_dir=session_cache,
        data_options=dict(TINY_PHANTOM),
        metric_options=dict(CHEAP_UTILITY),
        model_options={k: v for k, v in TINY_MODELS.items() if k != "roentgen"},
        feature_options=dict(TINY_FEATURES),
    )
    root = tmp_path_factory.mktemp("zoo")
    first = rebuild_zoo(config, root / "a", None, Reporter())
    shutil.copytree(root / "a", root / "b")
    _nudge_cgan(root / "b")  # so that one entry of b differs from what the code trains
    second = rebuild_zoo(config, root / "b", root / "b", Reporter())  # renewed in place
    return config, root, first, second


def _nudge_cgan(zoo):
    """Add 0.5 to one weight of the cgan entry, recording the new file's sha256 in the catalogue."""
    from safetensors.torch import load_file, save_file

    from cxrbench.cache import sha256_file

    path = zoo / "cgan" / "model.safetensors"
    tensors = load_file(str(path))
    name = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[name] = tensors[name] + 0.5
    save_file(tensors, str(path))
    catalogue = json.loads((zoo / "catalogue.json").read_text())
    catalogue["entries"]["cgan"]["files"]["model.safetensors"] = sha256_file(path)
    (zoo / "catalogue.json").write_text(json.dumps(catalogue))


def test_rebuild_writes_every_entry_and_reproduces_it_bit_for_bit(tiny_zoo):
    config, root, first, second = tiny_zoo
    assert [r.name for r in first] == list(ZOO_ENTRIES)
    assert all(r.identical is None for r in first)  # nothing to compare with
    same = [(r.name, r.identical, r.detail) for r in second if r.name != "cgan"]
    assert same == [(n, True, "bit-identical") for n in ZOO_ENTRIES if n != "cgan"]
    nudged = next(r for r in second if r.name == "cgan")
    assert nudged.identical is False and nudged.detail == "model.safetensors: largest weight difference 0.5"

    def recorded(zoo):  # all but how long each training took
        return {n: {k: v for k, v in e.items() if k != "trained_with"} for n, e in read_catalogue(zoo).items()}

    assert recorded(root / "b") == recorded(root / "a")  # renewed in place: the nudge is gone
    catalogue = read_catalogue(root / "a")
    assert set(catalogue) == set(ZOO_ENTRIES)
    for name, entry in catalogue.items():
        assert entry["sha256"] == next(r.sha256 for r in first if r.name == name)
        assert entry["recipe"]["inputs"]["resolution"] == 32
        assert entry["trained_with"]["seconds"] > 0
        assert all(len(sha) == 64 for sha in entry["files"].values())


def test_a_run_whose_settings_match_loads_them_and_says_so(tiny_zoo, tmp_path):
    config, root, _, _ = tiny_zoo
    cache = tmp_path / "cache"  # empty: anything not from the zoo would be trained into it
    run = config.with_overrides(reference_weights=str(root / "a"), cache_dir=cache, out=tmp_path / "run")
    summary = run_benchmark(run)
    catalogue = read_catalogue(root / "a")
    for model in ("pggan-lco", "cgan", "diffusion-small"):
        weights = summary.manifest["models"][model]["weights"]
        assert weights["source"] == "reference weights"
        assert weights["sha256"] == catalogue[model]["sha256"]
        assert weights["code_matches"] is True
    evaluator = summary.manifest["feature_spaces"][EVALUATOR]["weights_source"]
    assert (evaluator["source"], evaluator["sha256"]) == ("reference weights", catalogue[EVALUATOR]["sha256"])
    assert not (cache / "models").exists() and not (cache / "extractors").exists()  # nothing was trained
    assert "reference weights" in (tmp_path / "run" / "leaderboard.md").read_text()

    retrained = run_benchmark(run.with_overrides(retrain=True, out=tmp_path / "again", models="cgan"))
    assert retrained.manifest["models"]["cgan"]["weights"]["source"] == "trained"
    assert retrained.manifest["feature_spaces"][EVALUATOR]["weights_source"]["source"] == "trained"
    # trained by the same code for the same settings: the same bytes as the reference
    assert retrained.manifest["models"]["cgan"]["weights"]["sha256"] == catalogue["cgan"]["files"]["model.safetensors"]


def test_other_settings_do_not_match(tiny_zoo, tmp_path):
    config, root, _, _ = tiny_zoo
    dataset = build_dataset(config)
    splits = load_splits(dataset, config.resolution, config.cache_dir, Reporter())
    _, holdout = real_halves(splits["test"], config.seed)
    context = fit_context(config, "cgan", splits["train"], holdout, torch.device("cpu"), None)
    tiny = config.model_options["cgan"]
    same = WeightsKey.of("cgan", *MODELS.build("cgan", tiny), context, dataset.fingerprint())
    assert find_reference(root / "a", "cgan", "models", same.settings) is not None
    changed = {"gan": {**tiny["gan"], "train_images": 112}}
    other = WeightsKey.of("cgan", *MODELS.build("cgan", changed), context, dataset.fingerprint())
    assert find_reference(root / "a", "cgan", "models", other.settings) is None
    assert find_reference(root / "a", "cgan", "evaluator", same.settings) is None  # another kind
    # sampling options draw other images from the same weights: they do not make other weights
    tiny = config.model_options["diffusion-small"]
    sampled = {**tiny, "steps": 7, "scheduler": "dpm-solver", "guidance": 2.0}
    context = fit_context(config, "diffusion-small", splits["train"], holdout, torch.device("cpu"), None)
    keys = [WeightsKey.of("diffusion-small", *MODELS.build("diffusion-small", o), context, "") for o in (tiny, sampled)]
    assert keys[0].settings == keys[1].settings and keys[0].cache == keys[1].cache
    assert find_reference(None, "cgan", "models", same.settings) is None


def test_damaged_reference_weights_are_refused(tiny_zoo, tmp_path):
    config, root, _, _ = tiny_zoo
    damaged = tmp_path / "zoo"
    shutil.copytree(root / "a", damaged)
    weights = damaged / "cgan" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # one bit pattern changed in the last weight
    run = config.with_overrides(
        reference_weights=str(damaged), cache_dir=tmp_path / "cache", out=tmp_path / "run", models="cgan"
    )
    with pytest.raises(CxrbenchError, match="missing or damaged.*--retrain"):
        run_benchmark(run)
    catalogue = json.loads((damaged / "catalogue.json").read_text())
    (damaged / "catalogue.json").write_text(json.dumps({**catalogue, "format": 99}))
    with pytest.raises(CxrbenchError, match="rebuild it"):
        read_catalogue(damaged)


def test_the_shipped_set_matches_the_default_run(session_cache):
    """Every shipped entry is found for `cxrbench run --models all` at the defaults. When this fails, a default
    changed: retrain the set with `cxrbench zoo rebuild --out cxrbench/zoo/weights` (docs/zoo.md)."""
    assert set(read_catalogue(PACKAGED)) == set(ZOO_ENTRIES)
    config = RunConfig(cache_dir=session_cache, device="cpu")
    dataset = build_dataset(config)
    splits = load_splits(dataset, config.resolution, config.cache_dir, Reporter())
    _, holdout = real_halves(splits["test"], config.seed)
    for name in ZOO_ENTRIES[1:]:
        context = fit_context(config, name, splits["train"], holdout, torch.device("cpu"), None)
        key = WeightsKey.of(name, *MODELS.build(name, {}), context, dataset.fingerprint())
        assert find_reference(PACKAGED, name, "models", key.settings) is not None, name
    context = ExtractorContext(
        splits["train"], splits["val"], splits["test"], torch.device("cpu"), 0, session_cache, dataset.fingerprint()
    )
    space = prepare_spaces([EVALUATOR], {}, ExtractorContext(**{**vars(context), "zoo": PACKAGED}))[EVALUATOR]
    assert space.weights["source"] == "reference weights"


def test_docs_list_the_shipped_sha256():
    """docs/zoo.md lists each shipped entry's sha256: renewing the set without the docs fails here."""
    from conftest import REPO

    text = (REPO / "docs" / "zoo.md").read_text()
    for name, entry in read_catalogue(PACKAGED).items():
        assert f"| `{name}` | {entry['kind']} |" in text and entry["sha256"] in text, name
