"""GAN adapters: the published recipes, fade-in, latent class optimisation, resumable training, conditioning."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from conftest import TINY_MODELS
from torch import nn

from cxrbench.benchmark.runner import collect_images
from cxrbench.data.phantom.dataset import PhantomDataset
from cxrbench.errors import ConfigError, CxrbenchError, UnavailableError
from cxrbench.metrics.cxr_classifier import ClassifierRecipe, CxrClassifier
from cxrbench.models import MODELS
from cxrbench.models.adapter import FitContext
from cxrbench.models.gan.cgan_training import CganSettings, train_cgan
from cxrbench.models.gan.layers import channels_at
from cxrbench.models.gan.lco import LcoSettings, latent_class_optimisation
from cxrbench.models.gan.pggan_networks import PgganGenerator
from cxrbench.models.gan.pggan_training import PgganSettings, phases, train_pggan
from cxrbench.models.gan.training import STATE_FILE
from cxrbench.tasks import TASKS

RESOLUTION = 32


@pytest.fixture(scope="module")
def phantom():
    dataset = PhantomDataset(n_images=300, seed=5)
    return dataset.load("train", RESOLUTION), dataset.load("test", RESOLUTION)


def test_gpu_presets_are_the_published_recipes():
    pggan, _ = MODELS.build("pggan-lco", {"preset": "gpu"})
    s = pggan.settings
    assert (
        s.latent_dim,
        s.learning_rate,
        s.beta1,
        s.beta2,
        s.gp_weight,
        s.gp_every,
        s.drift,
        s.ema_decay,
        s.phase_images,
    ) == (512, 1e-3, 0.0, 0.99, 10.0, 1, 0.001, 0.999, 800_000)
    # Channel depths 512 down to 16 as the resolution grows to 1024 px.
    assert [channels_at(2**k, s.fmap_base, s.fmap_max) for k in range(2, 11)] == [512] * 4 + [256, 128, 64, 32, 16]
    cgan, _ = MODELS.build("cgan", {"preset": "gpu"})
    assert (cgan.settings.r1_gamma, cgan.settings.train_images) == (10.0, 300_000)


@pytest.mark.parametrize(
    "name,options,message",
    [
        ("pggan-lco", {"preset": "tpu"}, "pggan-lco has no preset 'tpu'; choose cpu or gpu"),
        (
            "pggan-lco",
            {"pggan": {"phase_image": 5}},
            "pggan-lco has no setting 'phase_image'; its settings: latent_dim",
        ),
        ("pggan-lco", {"lco": {"steps": -1}}, "pggan-lco lco setting steps=-1 must not be negative"),
        ("pggan-lco", {"lco": {"threshold": 0.3}}, "threshold 0.3 must be in [0.5, 1)"),
        ("cgan", {"gan": {"r1": 1}}, "cgan has no setting 'r1'"),
    ],
)
def test_bad_options_are_one_line_errors(name, options, message):
    with pytest.raises(ConfigError) as error:
        MODELS.build(name, options)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_phase_schedule_grows_with_fade_in():
    assert phases(4) == [(0, False), (1, True), (1, False), (2, True), (2, False), (3, True), (3, False)]


def test_fade_in_blends_the_new_block_with_the_upsampled_previous_output():
    torch.manual_seed(0)
    g = PgganGenerator(32, latent_dim=16, fmap_base=64, fmap_max=16)
    z = torch.randn(3, 16)
    with torch.no_grad():
        below = F.interpolate(g(z, 1), scale_factor=2.0, mode="nearest")
        assert torch.allclose(g(z, 2, alpha=0.0), below, atol=1e-6)
        assert torch.allclose(g(z, 2, alpha=1.0), g(z, 2), atol=1e-6)
        half = g(z, 2, alpha=0.5)
        assert torch.allclose(half, 0.5 * (below + g(z, 2)), atol=1e-5)


class _Linear(nn.Module):
    """A toy generator: z -> a 32 px image through one linear map and tanh."""

    def __init__(self) -> None:
        super().__init__()
        self.map = nn.Linear(8, 32 * 32)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.map(z)).reshape(-1, 1, 32, 32)


@pytest.fixture(scope="module")
def toy():
    torch.manual_seed(1)
    classifier = CxrClassifier(ClassifierRecipe(input_size=32, widths=(4, 8))).eval()
    with torch.no_grad():
        classifier.head.weight.mul_(30.0)  # a random head is nearly flat; make the labels depend on the image
    return _Linear().eval(), classifier


def test_lco_moves_the_classifier_towards_a_multi_label_target(toy):
    generator, classifier = toy
    z = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    target = (None, None, 1, 0)
    start = latent_class_optimisation(generator, classifier, z, target, LcoSettings(steps=0))
    end = latent_class_optimisation(generator, classifier, z, target, LcoSettings(steps=40, threshold=0.99))
    assert end.probabilities[:, 2].mean() > start.probabilities[:, 2].mean() + 0.05
    assert end.probabilities[:, 3].mean() < start.probabilities[:, 3].mean() - 0.05
    assert torch.equal(start.steps, torch.zeros(16, dtype=torch.long)) and int(end.steps.max()) == 40
    # Success means every fixed label passes its threshold, on the images as they are returned.
    p = end.probabilities
    assert torch.equal(end.success, (p[:, 2] >= 0.99) & (p[:, 3] <= 0.01))


def test_lco_stops_each_image_on_its_own(toy):
    generator, classifier = toy
    z = torch.randn(12, 8, generator=torch.Generator().manual_seed(2))
    target, settings = (None, None, None, 1), LcoSettings(steps=30, threshold=0.665)
    first = latent_class_optimisation(generator, classifier, z, target, settings)
    matched_at_once = first.steps == 0
    assert 0 < int(matched_at_once.sum()) < 12 and bool(first.success.all())
    assert torch.equal(first.z[matched_at_once], z[matched_at_once])  # a matched draw is kept as it is
    # An image's search does not depend on the other images of its batch.
    alone = latent_class_optimisation(generator, classifier, z[:5], target, settings)
    assert torch.equal(alone.steps, first.steps[:5])
    assert torch.allclose(alone.z, first.z[:5], atol=1e-5)


class _Stop(Exception):
    pass


def _interrupt_at(step: int):
    def progress(done, total, text):
        if done == step:
            raise _Stop

    return progress


@pytest.mark.parametrize(
    "train,settings",
    [
        (
            lambda images, labels, s, work, progress: train_pggan(images, s, 3, torch.device("cpu"), work, progress),
            PgganSettings(phase_images=32, batch_size=8, checkpoint_every=3),
        ),
        (
            lambda images, labels, s, work, progress: train_cgan(
                images, labels, s, 3, torch.device("cpu"), work, progress
            ),
            CganSettings(train_images=160, batch_size=8, checkpoint_every=3),
        ),
    ],
)
def test_interrupted_training_resumes_to_the_same_weights(phantom, tmp_path, train, settings):
    train_set, _ = phantom
    images, labels = train_set.images[:64], train_set.labels[:64]
    whole = train(images, labels, settings, tmp_path / "whole", lambda *a: None)
    with pytest.raises(_Stop):
        train(images, labels, settings, tmp_path / "cut", _interrupt_at(8))  # state saved at step 6
    assert (tmp_path / "cut" / STATE_FILE).is_file()
    resumed_from = []
    resumed = train(images, labels, settings, tmp_path / "cut", lambda done, total, text: resumed_from.append(done))
    assert resumed_from[0] == 7  # continued, not restarted
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    assert not (tmp_path / "cut" / STATE_FILE).exists() and list((tmp_path / "cut" / "grids").glob("*.png"))


def test_a_training_state_with_a_pickle_payload_is_refused(phantom, tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("unpickled!",))

    work = tmp_path / "work"
    work.mkdir()
    torch.save({"identity": Payload()}, work / STATE_FILE)
    with pytest.raises(CxrbenchError, match="cannot be read safely.*delete it"):
        train_pggan(
            phantom[0].images[:32],
            PgganSettings(phase_images=16, batch_size=8),
            0,
            torch.device("cpu"),
            work,
            lambda *a: None,
        )


def _context(phantom, conditions) -> FitContext:
    train, test = phantom
    return FitContext(
        train=train, holdout=test, conditions=conditions, resolution=RESOLUTION, device=torch.device("cpu"), seed=0
    )


def test_cgan_draws_label_rows_that_match_the_target(phantom):
    adapter, _ = MODELS.build("cgan", TINY_MODELS["cgan"])
    effusion = TASKS.get("pleural_effusion").condition("present")
    adapter.fit(_context(phantom, (effusion,)))
    collect_images(adapter, "cgan", effusion, range(9), 0, 4, RESOLUTION)
    records = adapter.generation_log().records
    assert len(records) == 9 and all(r["labels"]["pleural_effusion"] == 1 for r in records)
    strict = TASKS.get("atelectasis").condition("absent", absent="no_finding")
    collect_images(adapter, "cgan", strict, range(5), 0, 4, RESOLUTION)
    assert all(set(r["labels"].values()) == {0} for r in adapter.generation_log().records)
    adapter.label_pool = adapter.label_pool[adapter.label_pool[:, 2] != 1]  # no effusion left to draw from
    with pytest.raises(UnavailableError, match="no training image has the labels of pleural_effusion/present"):
        collect_images(adapter, "cgan", effusion, range(2), 0, 2, RESOLUTION)


def test_pggan_lco_records_every_image(phantom):
    adapter, _ = MODELS.build("pggan-lco", TINY_MODELS["pggan-lco"])
    condition = TASKS.get("enlarged_cardiac_silhouette").condition("present")
    adapter.fit(_context(phantom, (condition,)))
    images = collect_images(adapter, "pggan-lco", condition, range(6), 0, 4, RESOLUTION)
    log = adapter.generation_log()
    assert len(log.records) == 6 and {"steps", "success", "probabilities"} <= set(log.records[0])
    assert log.summary["lco_success_rate"] == sum(r["success"] for r in log.records) / 6
    assert log.summary["lco_seconds_per_image"] > 0
    # The recorded probabilities are the LCO classifier's on the returned uint8 images.
    classifier = adapter.classifier
    with torch.no_grad():
        again = torch.sigmoid(classifier(classifier.preprocess(images)))
    recorded = torch.tensor([list(r["probabilities"].values()) for r in log.records])
    assert torch.allclose(again, recorded, atol=1e-4)


def test_checkpoint_of_another_model_is_refused(phantom, tmp_path):
    adapter, _ = MODELS.build("cgan", TINY_MODELS["cgan"])
    adapter.fit(_context(phantom, (TASKS.get("atelectasis").condition("present"),)))
    adapter.save(tmp_path / "cgan")
    with pytest.raises(CxrbenchError, match="is not a pggan-lco checkpoint"):
        MODELS.build("pggan-lco", {})[0].load(tmp_path / "cgan")


def test_odd_resolution_is_a_clear_error(phantom):
    adapter, _ = MODELS.build("cgan", TINY_MODELS["cgan"])
    context = FitContext(**{**_context(phantom, ()).__dict__, "resolution": 48})
    with pytest.raises(CxrbenchError, match="power-of-two resolution .* use --resolution"):
        adapter.fit(context)


def test_train_cli_resumable_with_grids_then_generate_records(tmp_path, tiny_toml, capsys):
    from test_bad_input import cli  # in this process: two commands without two interpreter start-ups

    checkpoint = tmp_path / "pggan"
    code, _, err = cli(capsys, "train", "pggan-lco", "--out", str(checkpoint), "--config", str(tiny_toml))
    assert code == 0, err
    assert json.loads((checkpoint / "config.json").read_text())["model"] == "pggan-lco"
    assert list((tmp_path / "pggan.training" / "grids").glob("*.png"))
    out = tmp_path / "pngs"
    code, _, err = cli(
        capsys,
        *("generate", "pggan-lco", "--task", "pleural_effusion", "--condition", "absent", "--n", "4"),
        *("--out", str(out), "--checkpoint", str(checkpoint), "--config", str(tiny_toml)),
    )
    assert code == 0, err
    facts = json.loads((out / "generation.json").read_text())
    assert len(facts["records"]) == 4 and "lco_success_rate" in facts["summary"]
