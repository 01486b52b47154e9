"""Text-to-image diffusion: SD-1.x directories through roentgen, and the small model trained here."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest
import torch
from conftest import TINY_MODELS, run_cli

from cxrbench.benchmark.model_store import ready_adapter
from cxrbench.benchmark.runner import collect_images, run_benchmark
from cxrbench.data.phantom.dataset import PhantomDataset
from cxrbench.errors import ConfigError
from cxrbench.models import MODELS
from cxrbench.models.adapter import FitContext
from cxrbench.models.diffusion.captions import caption
from cxrbench.models.diffusion.pipeline_dir import check_pipeline_dir, load_pipeline
from cxrbench.models.diffusion.sampler import sample
from cxrbench.models.diffusion.tokenizer import build_tokenizer
from cxrbench.models.diffusion.train import TrainingConfig, _lr_factor
from cxrbench.run_dir import GENERATION
from cxrbench.tasks import TASKS

RES = 32


@pytest.fixture(scope="module")
def context() -> FitContext:
    dataset = PhantomDataset(n_images=300, seed=2)
    conditions = tuple(c for name in TASKS.names() for c in TASKS.get(name).conditions())
    return FitContext(
        train=dataset.load("train", RES),
        holdout=dataset.load("test", RES),
        conditions=conditions,
        resolution=RES,
        device=torch.device("cpu"),
        seed=5,
    )


def test_sampler_matches_diffusers_stable_diffusion_pipeline(tiny_sd_pipeline):
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    pipeline = StableDiffusionPipeline.from_pretrained(
        str(tiny_sd_pipeline), use_safetensors=True, local_files_only=True
    )
    pipeline.scheduler = DDIMScheduler.from_config(pipeline.scheduler.config)
    pipeline.set_progress_bar_config(disable=True)
    prompts, seeds = ["pleural effusion", "no findings"], [11, 12]
    latents = torch.stack([torch.randn(4, 8, 8, generator=torch.Generator().manual_seed(s)) for s in seeds])
    expected = pipeline(
        prompts, height=16, width=16, num_inference_steps=4, guidance_scale=4.0, latents=latents, output_type="pt"
    ).images
    ours = sample(load_pipeline(tiny_sd_pipeline), prompts, seeds, 4, 4.0, "ddim", 16, torch.device("cpu"))
    assert ours.shape == (2, 3, 16, 16)
    assert torch.allclose(ours, expected, atol=1e-5)


def test_roentgen_runs_through_the_cli_with_model_path(tiny_sd_pipeline, tmp_path, tiny_toml):
    out = tmp_path / "run"
    result = run_cli(
        "run",
        "--models",
        "roentgen",
        "--metrics",
        "cxr_fd",
        "--no-floor",
        "--n-samples",
        "10",
        "--model-path",
        str(tiny_sd_pipeline),
        "--out",
        str(out),
        "--config",
        str(tiny_toml),
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["status"] for r in rows} == {"ok"} and {r["model"] for r in rows} == {"roentgen"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["models"]["roentgen"]["options"]["model_path"] == str(tiny_sd_pipeline)
    assert len(list((out / "samples" / "roentgen" / "pleural_effusion" / "present").glob("*.png"))) == 10
    facts = json.loads((out / "samples" / "roentgen" / "pleural_effusion" / "present" / GENERATION).read_text())
    assert [r["prompt"] for r in facts["records"]] == ["pleural effusion"] * 10
    assert len({r["seed"] for r in facts["records"]}) == 10 and facts["summary"]["steps"] == 2


def test_roentgen_without_weights_is_unavailable_and_the_run_goes_on(tiny_config):
    config = tiny_config(models="roentgen,noise", metrics="cxr_fd", bootstrap=0, floor=False, model_options={})
    summary = run_benchmark(config)
    status = {(r.model, r.condition): (r.status, r.reason) for r in summary.rows}
    assert status["noise", "present"][0] == "ok"
    assert status["roentgen", "present"][0] == "unavailable" and "--model-path" in status["roentgen", "present"][1]


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda d: (d / "model_index.json").unlink(), "has no model_index.json"),
        (lambda d: shutil.rmtree(d / "text_encoder"), "has no text_encoder/ folder"),
        (
            lambda d: (d / "unet" / "diffusion_pytorch_model.safetensors").rename(
                d / "unet" / "diffusion_pytorch_model.bin"
            ),
            r"has no diffusion_pytorch_model.safetensors \(found only diffusion_pytorch_model.bin",
        ),
        (lambda d: (d / "tokenizer" / "tokenizer.json").unlink(), "neither tokenizer.json nor vocab.json"),
    ],
)
def test_incomplete_directory_is_a_one_line_error_naming_what_is_missing(tiny_sd_pipeline, tmp_path, damage, message):
    copy = tmp_path / "sd"
    shutil.copytree(tiny_sd_pipeline, copy)
    damage(copy)
    with pytest.raises(ConfigError, match=message) as error:
        MODELS.build("roentgen", {"model_path": str(copy)})
    assert "\n" not in str(error.value)


def test_roentgen_images_depend_on_their_own_seed_not_the_batch(tiny_sd_pipeline, context, tmp_path):
    prompt_file = tmp_path / "prompts.toml"
    prompt_file.write_text('[atelectasis]\npresent = ["atelectasis", "plate atelectasis"]\nabsent = "no findings"\n')
    adapter, options = MODELS.build(
        "roentgen",
        {
            "model_path": str(tiny_sd_pipeline),
            "steps": 2,
            "resolution": 16,
            "scheduler": "euler-ancestral",
            "prompt_file": str(prompt_file),
        },
    )
    ready_adapter("roentgen", adapter, options, context, None, tmp_path, "fp")
    condition = TASKS.get("atelectasis").conditions()[0]
    whole = collect_images(adapter, "roentgen", condition, range(5), 3, 5, RES)
    records = adapter.generation_log().records
    assert [r["prompt"] for r in records] == ["atelectasis", "plate atelectasis"] * 2 + ["atelectasis"]
    assert len({r["seed"] for r in records}) == 5
    pieces = collect_images(adapter, "roentgen", condition, range(5), 3, 2, RES)  # stochastic scheduler, other batches
    assert torch.equal(whole, pieces)
    with pytest.raises(ConfigError, match="no prompts for pleural_effusion/present"):
        collect_images(adapter, "roentgen", TASKS.get("pleural_effusion").conditions()[0], range(1), 0, 1, RES)


def test_roentgen_refuses_half_precision_on_a_cpu(tiny_sd_pipeline, context, tmp_path):
    adapter, options = MODELS.build("roentgen", {"model_path": str(tiny_sd_pipeline), "dtype": "float16"})
    with pytest.raises(ConfigError, match="float16 needs a CUDA device"):
        ready_adapter("roentgen", adapter, options, context, None, tmp_path, "fp")


def test_small_model_is_a_pipeline_directory_that_roentgen_loads(context, tmp_path):
    tiny = TINY_MODELS["diffusion-small"]
    small, options = MODELS.build("diffusion-small", tiny)
    info = ready_adapter("diffusion-small", small, options, context, None, tmp_path, "fp")
    directory = info["path"]
    assert check_pipeline_dir(directory)["vae"] == [None, None]
    condition = TASKS.get("pleural_effusion").conditions()[0]
    ours = collect_images(small, "diffusion-small", condition, range(4), 9, 4, RES)
    # diffusion-small's own sampling settings (its default guidance moved from 3 to 6; see docs/diffusion.md)
    loader, loader_options = MODELS.build(
        "roentgen",
        {
            "model_path": directory,
            "steps": tiny["steps"],
            "guidance": small.settings.guidance,
            "scheduler": small.settings.scheduler,
            "resolution": 32,
        },
    )
    ready_adapter("roentgen", loader, loader_options, context, None, tmp_path, "fp")
    assert torch.equal(ours, collect_images(loader, "roentgen", condition, range(4), 9, 4, RES))


def test_small_model_training_resumes_to_the_same_weights(context, tmp_path):
    tiny = {**TINY_MODELS["diffusion-small"], "training": {"steps": 4, "batch_size": 4, "checkpoint_every": 2}}

    def trained(work_dir, stop_at=None):
        adapter, _ = MODELS.build("diffusion-small", tiny)

        def progress(done, total, text):
            if done == stop_at:
                raise KeyboardInterrupt  # as if the run were killed right after step ``stop_at``

        run = FitContext(**{**context.__dict__, "work_dir": work_dir, "progress": progress})
        adapter.fit(run)
        return adapter.generator.parts.unet.state_dict()

    straight = trained(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        trained(tmp_path / "b", stop_at=3)  # the state of step 2 is on disk
    resumed = trained(tmp_path / "b")
    again = trained(tmp_path / "c")
    for key, value in straight.items():
        assert torch.equal(value, resumed[key]) and torch.equal(value, again[key]), key


def test_captions_name_a_subset_of_the_findings_and_no_findings_for_normal_images():
    rng = random.Random(0)
    normal = {caption(np.array([0, 0, 0, 0]), rng, 0.0) for _ in range(5)}
    assert normal == {"no findings"}
    effusion = {caption(np.array([0, 0, 1, 1]), rng, 0.0) for _ in range(60)}
    assert {"pleural effusion", "cardiomegaly"} <= effusion
    assert effusion <= {
        "pleural effusion",
        "cardiomegaly",
        "pleural effusion, cardiomegaly",
        "cardiomegaly, pleural effusion",
    }
    assert caption(np.array([0, -1, 0, 0]), rng, 0.0) == ""


def test_learning_rate_warms_up_then_follows_the_schedule():
    cosine = TrainingConfig(steps=110, warmup=10)
    factors = [_lr_factor(s, cosine) for s in range(110)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == factors[10] == 1.0
    assert factors[60] == pytest.approx(0.5) and factors[-1] < 1e-3
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))  # cosine: never rises after warm-up
    constant = TrainingConfig(steps=110, warmup=10, lr_schedule="constant")
    assert [_lr_factor(s, constant) for s in (10, 109)] == [1.0, 1.0]
    with pytest.raises(ConfigError, match="lr_schedule 'linear'"):
        TrainingConfig(lr_schedule="linear")


def test_local_tokenizer_keeps_prompt_words_whole():
    tokenizer = build_tokenizer(["pleural effusion", "no findings"], 8)
    assert tokenizer.convert_ids_to_tokens(tokenizer("pleural effusion").input_ids)[1:3] == [
        "pleural</w>",
        "effusion</w>",
    ]
    assert len(tokenizer("a word it never saw", padding="max_length", max_length=8, truncation=True).input_ids) == 8


def test_solvers_keep_a_clipped_schedule_clipped():
    """A saved schedule that clips x0 (diffusion-small's) stays clipped in DPM-Solver++ and UniPC, which
    threshold instead: their x0 estimate of a far-out sample is clamped to [-1, 1] as DDPM's is."""
    from diffusers import DDPMScheduler

    from cxrbench.models.diffusion.sampler import make_scheduler

    clipped = dict(DDPMScheduler(clip_sample=True, beta_schedule="squaredcos_cap_v2").config)
    unclipped = dict(DDPMScheduler(clip_sample=False).config)
    for name in ("dpm-solver", "dpm-solver-sde", "unipc"):
        solver = make_scheduler(clipped, name)
        assert solver.config.thresholding and solver.config.sample_max_value == 1.0
        x0 = solver._threshold_sample(torch.full((1, 1, 2, 2), 5.0))
        assert torch.equal(x0, torch.ones(1, 1, 2, 2))
        assert not make_scheduler(unclipped, name).config.thresholding
    assert make_scheduler(clipped, "ddpm").config.clip_sample  # a scheduler that clips keeps its own clipping


def test_saved_scheduler_config_is_the_same_bytes_whatever_the_set_order(tiny_sd_pipeline, tmp_path):
    """diffusers lists a config's default-valued keys from a set (its order changes with the process's hash
    seed): saved sorted, a retrained pipeline's files are bit-identical (cxrbench zoo rebuild compares them)."""
    from cxrbench.models.diffusion.pipeline_dir import load_pipeline, save_pipeline

    parts = load_pipeline(tiny_sd_pipeline)
    written = []
    for order in (["b_key", "a_key", "c_key"], ["c_key", "b_key", "a_key"]):
        parts.scheduler_config = {**parts.scheduler_config, "_use_default_values": order}
        save_pipeline(tmp_path / str(len(written)), parts)
        written.append((tmp_path / str(len(written)) / "scheduler" / "scheduler_config.json").read_bytes())
    assert written[0] == written[1]
    assert json.loads(written[0])["_use_default_values"] == ["a_key", "b_key", "c_key"]
