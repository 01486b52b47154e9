"""xrv-densenet: RoentGen's XRV-FID features from random DenseNet-121 weights the tests save in
the published layouts (no download), against the reference built from the libraries themselves."""

from __future__ import annotations

import pickle
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cxrbench.cache import sha256_file
from cxrbench.errors import CxrbenchError, UnavailableError
from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics.extractor_xrv_densenet import XrvDenseNetExtractor
from cxrbench.metrics.feature_extractor import ExtractorContext
from cxrbench.metrics.xrv_weights import convert_xrv_weights, import_torchxrayvision, read_xrv_weights

xrv = import_torchxrayvision()  # not a bare import: that one would silence every warning in the session

# What each layout's file holds, as torch.save writes it (the published file: a whole model, legacy format).
LAYOUTS = {
    "published": ("whole-model pickle", "model", False),
    "whole-zip": ("whole-model pickle", "model", True),
    "state-dict": ("state dict", "state", True),
    "state-dict-legacy": ("state dict", "state", False),
}


class _Payload:
    """Creates ``marker`` when unpickled: what a hostile weights file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _context() -> ExtractorContext:
    return type("Context", (), {"device": torch.device("cpu")})()


def assert_same_tensors(found: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """Same names, dtypes, shapes and values (compared in numpy: fast on a busy CPU)."""
    assert sorted(found) == sorted(expected)
    for name, tensor in expected.items():
        assert found[name].dtype == tensor.dtype and found[name].shape == tensor.shape, name
        assert np.array_equal(found[name].detach().numpy(), tensor.detach().numpy()), name


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    """A seeded DenseNet-121 with random BatchNorm statistics (so a misplaced buffer changes features)."""
    torch.manual_seed(0)
    network = xrv.models.DenseNet(weights=None)
    generator = torch.Generator().manual_seed(1)
    for norm in (m for m in network.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        norm.running_mean.normal_(0, 0.1, generator=generator)
        norm.running_var.uniform_(0.5, 2.0, generator=generator)
        norm.weight.data.uniform_(0.5, 1.5, generator=generator)
        norm.bias.data.normal_(0, 0.1, generator=generator)
    return network.eval()


@pytest.fixture(scope="module")
def files(model, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("xrv-weights")
    state = model.state_dict()
    state["op_threshs"] = torch.rand(18)  # in a state dict of a model torchxrayvision loaded with weights
    paths = {}
    for layout, (_, content, zip_format) in LAYOUTS.items():
        paths[layout] = folder / f"{layout}.pt"
        torch.save(model if content == "model" else state, paths[layout], _use_new_zipfile_serialization=zip_format)
    paths["safetensors"] = folder / "converted.safetensors"
    convert_xrv_weights(paths["published"], paths["safetensors"])
    return paths


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """uint8 [3, 1, 40, 56]: small, not square (clean-fid resizes every file to 299 x 299 regardless)."""
    rows = np.linspace(0, 1, 40)[:, None] * np.linspace(0.2, 1, 56)[None]
    noise = np.random.default_rng(0).normal(0, 40, (3, 40, 56))
    return torch.from_numpy(np.clip(200 * rows + noise, 0, 255).astype(np.uint8)[:, None])


def roentgen_features(model: torch.nn.Module, images: torch.Tensor, folder: Path, batch_size: int) -> np.ndarray:
    """RoentGen eval/calculate_fid.py --xrv_fid on ``images`` saved as grayscale PNG files."""
    from cleanfid import fid
    from torchvision import transforms

    paths = []
    for index, image in enumerate(images):
        paths.append(str(folder / f"{index}.png"))
        Image.fromarray(image[0].numpy()).save(paths[-1])

    def centre_crop_to_short_side(x: torch.Tensor) -> torch.Tensor:
        side = min(x.shape[-2:])
        top, left = (x.shape[-2] - side) // 2, (x.shape[-1] - side) // 2
        return x[..., top : top + side, left : left + side]

    transform = transforms.Compose(
        [
            lambda x: transforms.functional.rgb_to_grayscale(x, 1),
            transforms.Lambda(lambda x: 2048 * (x / 255) - 1024),
            centre_crop_to_short_side,
            transforms.Resize(224),
        ]
    )
    return fid.get_files_features(
        paths,
        model=lambda x: model.features2(transform(x)),
        mode="clean",
        batch_size=batch_size,
        num_workers=0,
        device=torch.device("cpu"),
        verbose=False,
    )


@pytest.fixture(scope="module")
def reference(model, images, tmp_path_factory) -> np.ndarray:
    return roentgen_features(model, images, tmp_path_factory.mktemp("pngs"), batch_size=len(images))


@pytest.mark.parametrize("batch_size", [3, 2])
def test_features_are_roentgens_xrv_fid_features(files, images, reference, batch_size):
    extractor, options = FEATURE_EXTRACTORS.build(
        "xrv-densenet", {"weights": str(files["published"]), "verify": False, "batch_size": batch_size}
    )
    assert isinstance(extractor, XrvDenseNetExtractor) and options["batch_size"] == batch_size
    extractor.prepare(_context())
    features = extractor.extract(images)["features"]
    assert features.shape == (3, 1024) and features.dtype == np.float64
    assert np.abs(reference).max() > 1  # features that carry the input, not zeros
    if batch_size == len(images):  # the same batches: the same numbers, to the bit
        np.testing.assert_array_equal(features, reference)
    else:  # other batches, other float summation orders
        assert np.abs(features - reference).max() <= 1e-6 * np.abs(reference).max()


@pytest.mark.parametrize("layout", [*LAYOUTS, "safetensors"])
def test_every_layout_gives_the_models_tensors(model, files, layout):
    weights = read_xrv_weights(files[layout])
    expected = model.state_dict()
    if layout.startswith("state-dict"):
        expected = torch.load(files[layout], weights_only=True)  # torch's own safe reader agrees with ours
        assert "op_threshs" in expected
    assert weights.layout == LAYOUTS.get(layout, ("safetensors",))[0]
    assert_same_tensors(weights.tensors, expected)


def test_a_converted_file_keeps_the_identity_of_its_source(files):
    original = XrvDenseNetExtractor(weights=files["published"], verify=False)
    converted = XrvDenseNetExtractor(weights=files["safetensors"], verify=False)
    for extractor in (original, converted):
        extractor.prepare(_context())
    assert original.identity() == converted.identity()  # one comparability column for both files
    assert original.identity()["weights_sha256"] == sha256_file(files["published"])
    assert original.identity()["published_weights"] is False and original.identity()["dim"] == 1024
    assert converted.report()["weights_file_sha256"] == sha256_file(files["safetensors"])
    assert converted.report()["weights_layout"] == "safetensors"
    assert_same_tensors(converted.network.state_dict(), original.network.state_dict())


def _hostile_files(folder: Path, marker: Path) -> dict[str, Path]:
    """A whole model carrying a payload (legacy and zip format) and a bare pickle of one."""
    network = xrv.models.DenseNet(weights=None, block_config=(1, 1, 1, 1))
    network.features.payload = _Payload(marker)  # an attribute: pickled with the module
    paths = {"legacy": folder / "legacy.pt", "zip": folder / "zip.pt", "bare": folder / "bare.pt"}
    torch.save(network, paths["legacy"], pickle_module=pickle, _use_new_zipfile_serialization=False)
    torch.save(network, paths["zip"], pickle_module=pickle)
    paths["bare"].write_bytes(pickle.dumps({"weight": _Payload(marker)}, protocol=2))
    return paths


@pytest.mark.parametrize("kind", ["legacy", "zip", "bare"])
def test_a_payload_in_the_pickle_is_refused_and_never_runs(tmp_path, kind):
    marker = tmp_path / "payload-ran"
    path = _hostile_files(tmp_path, marker)[kind]
    for attempt in (
        lambda: XrvDenseNetExtractor(weights=path, verify=False).prepare(_context()),
        lambda: convert_xrv_weights(path, tmp_path / "out.safetensors"),
    ):
        with pytest.raises(
            CxrbenchError,
            match="cannot be read safely: it holds .*refused, nothing in it was run"
            ".*cxrbench convert-weights xrv-densenet SRC DST",
        ) as caught:
            attempt()
        assert len(str(caught.value).splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "out.safetensors").exists()


def test_a_module_class_outside_the_allow_list_is_named(tmp_path):
    network = xrv.models.DenseNet(weights=None, block_config=(1, 1, 1, 1))
    network.features.add_module("dropout", torch.nn.Dropout(0.1))
    torch.save(network, tmp_path / "dropout.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(
        CxrbenchError,
        match=r"it holds torch\.nn\.modules\.dropout\.Dropout, which a "
        r"torchxrayvision DenseNet file does not .*convert-weights",
    ):
        read_xrv_weights(tmp_path / "dropout.pt")


def test_damaged_and_foreign_files_are_refused_in_one_line(files, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(files["published"].read_bytes()[: files["published"].stat().st_size // 2])
    text = tmp_path / "notes.pt"
    text.write_text("not weights")
    edited = tmp_path / "edited.safetensors"
    tensors = load_file(str(files["safetensors"]))
    tensors["classifier.bias"] = tensors["classifier.bias"] + 1
    with safe_open(str(files["safetensors"]), framework="pt") as handle:
        save_file(tensors, str(edited), metadata=handle.metadata())
    cases = {
        truncated: "truncated.pt cannot be read safely: it",
        text: "neither a torch.save file nor a safetensors",
        edited: "was changed after `cxrbench convert-weights",
        tmp_path / "gone.pt": "does not exist",
    }
    for path, problem in cases.items():
        with pytest.raises(CxrbenchError, match=problem) as caught:
            read_xrv_weights(path)
        assert len(str(caught.value).splitlines()) == 1


def test_tensors_that_would_grow_past_the_file_are_refused(tmp_path):
    torch.save({"weight": torch.zeros(1).expand(10**6)}, tmp_path / "expanded.pt")  # stride 0: one stored float
    shared = torch.zeros(1000)
    torch.save({f"alias{i}": shared for i in range(100)}, tmp_path / "aliases.pt")  # one storage, 100 names
    for name, problem in (
        ("expanded.pt", "it holds a tensor with more elements than its storage"),
        ("aliases.pt", "its tensors add up to more bytes than the file holds"),
    ):
        with pytest.raises(CxrbenchError, match=f"{name} cannot be read safely: {problem}"):
            read_xrv_weights(tmp_path / name)


def test_weights_that_do_not_fit_densenet_121_are_refused(tmp_path):
    small = xrv.models.DenseNet(weights=None, block_config=(1, 1, 1, 1))
    torch.save(small.state_dict(), tmp_path / "small.pt")
    with pytest.raises(CxrbenchError, match="does not fit torchxrayvision's DenseNet-121"):
        XrvDenseNetExtractor(weights=tmp_path / "small.pt", verify=False).prepare(_context())


def test_missing_weights_package_or_publication_say_how_to_fix(files, monkeypatch):
    fix = r'set weights = "PATH" in \[feature_options.xrv-densenet\] to a copy of nih-pc-chex.*-best\.pt'
    with pytest.raises(UnavailableError, match=f"no torchxrayvision DenseNet weights given.*{fix}"):
        XrvDenseNetExtractor().prepare(_context())
    with pytest.raises(UnavailableError, match=f"gone.pt does not exist; {fix}"):
        XrvDenseNetExtractor(weights="gone.pt").prepare(_context())
    with pytest.raises(
        UnavailableError, match="not torchxrayvision's published densenet121-res224-all weights.*set verify = false in"
    ):
        XrvDenseNetExtractor(weights=files["published"]).prepare(_context())  # random weights, verify on
    monkeypatch.setitem(sys.modules, "torchxrayvision", None)  # as if not installed
    with pytest.raises(UnavailableError, match=r'needs torchxrayvision .*pip install "cxrbench\[xrv\]"'):
        XrvDenseNetExtractor(weights=files["published"], verify=False).prepare(_context())


def test_importing_torchxrayvision_leaves_the_warning_filters_alone(monkeypatch):
    for name in [name for name in sys.modules if name.split(".")[0] == "torchxrayvision"]:
        monkeypatch.delitem(sys.modules, name)  # restored after the test
    before = list(warnings.filters)
    fresh = import_torchxrayvision()
    assert fresh is not xrv  # imported again: its warnings.filterwarnings("ignore") ran once more
    assert warnings.filters == before
