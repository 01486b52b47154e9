"""The measurements of benchmarks/gpu_check.sh, written into one report (JSON, rendered as Markdown).

Run by benchmarks/gpu_check.sh, one subcommand per call; every subcommand adds to REPORT (a JSON file):
  init    --report R [--setting KEY=VALUE ...]   start a new report with the check's settings
  cli     --report R --step NAME [--images N] [--grids DIR] [--manifest PATH] -- CXRBENCH ARGS...
          run ``cxrbench ARGS`` in this process: exit code, wall seconds, images/s (N images over the
          wall time), peak GPU memory (torch.cuda.max_memory_allocated, on CUDA), peak RSS, the PNG
          grids in DIR and the run's own timings (manifest.json's timings_s)
  skip    --report R --step NAME --reason TEXT   a step that could not run here, and why
  grid    --report R --step NAME PNG_DIR OUT.png   tile a folder of samples into one PNG grid of the step
  spaces  --report R --device D [--config TOML] [--images N] [--batch-size B] [--repeats K]
          [--sizes published|tiny] [--autocast bf16,fp16] [--inception-weights PATH] [--weights NAME=PATH]
          images/s of every feature space on the device (best of K, after the first batch), the FID
          Inception fused and plain against torch-fidelity's own FeatureExtractorInceptionV3 forward on the
          same images; then, per network space and autocast dtype, images/s under torch.autocast and how far
          its features and an FD value move from float32 (the library's default stays float32)
  report  --report R [--text NAME=FILE ...]      attach text files (nvidia-smi, cxrbench env), write R.md

Images: the phantom of the run's settings (--config, the TOML of the run step; default: the run defaults),
test split as set A, training split as set B (N each, repeated when a split is smaller). Weights: the FID
Inception, xrv-densenet, rad-dino, dinov2 and clip get seeded random weights in their published layouts and
sizes (--sizes tiny: the tests' tiny transformers) unless given; speed does not depend on the values, but
feature differences under autocast do, so random-weight rows are marked. The cxr-evaluator is the run's
own, trained (or read from the cache) exactly as ``cxrbench run`` prepares it.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS.parent / "tests"))  # the published layouts the tests write (hf_helpers)

# torch is imported by the measuring commands only: init, skip, grid and report start in a fraction of a second
AUTOCAST_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}
NETWORK_SPACES = ("inception-v3", "cxr-evaluator", "xrv-densenet", "rad-dino", "dinov2", "clip")
ALL_SPACES = NETWORK_SPACES + ("pixels", "radiomics")
RANDOM = "seeded random, published layout"


# -- the report file -------------------------------------------------------------------------------
def load_report(path: Path) -> dict:
    return json.loads(path.read_text())


def save_report(path: Path, report: dict) -> None:
    from cxrbench.files import atomic_write_text

    atomic_write_text(path, json.dumps(report, indent=2, default=_plain) + "\n")


def _plain(value: object) -> object:
    """numpy scalars and paths as JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def update_report(path: Path, section: str, key: str, entry: object) -> None:
    report = load_report(path)
    report.setdefault(section, {})[key] = entry
    save_report(path, report)


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    pairs = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{what} takes NAME=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


# -- measuring -------------------------------------------------------------------------------------
def on_cuda(device: torch.device) -> bool:
    return device.type == "cuda"


def peak_rss_mib() -> float:
    """Peak resident memory of this process or its largest finished child, MiB (Linux: ru_maxrss in KiB)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return max(own.ru_maxrss, children.ru_maxrss) / 1024


def peak_gpu_mib() -> float | None:
    """torch.cuda.max_memory_allocated since the last reset, MiB; None without CUDA."""
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def reset_peak() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def timed(call, device: torch.device, repeats: int) -> tuple[float, object]:
    """Best wall seconds of ``repeats`` calls (CUDA synchronised around each) and the last result."""
    import torch

    best, result = math.inf, None
    for _ in range(repeats):
        if on_cuda(device):
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        result = call()
        if on_cuda(device):
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - started)
    return best, result


# -- cli: one cxrbench command, in this process --------------------------------------------------------
def command_cli(args: argparse.Namespace) -> int:
    from cxrbench.cli import main

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    reset_peak()
    sys.argv = ["cxrbench", *command]
    started = time.perf_counter()
    try:
        main()
        code = 0
    except SystemExit as done:  # main() always ends with sys.exit
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    wall = time.perf_counter() - started
    entry: dict = {
        "command": shlex.join(["cxrbench", *command]),
        "exit_code": code,
        "wall_s": wall,
        "peak_gpu_mib": peak_gpu_mib(),
        "peak_rss_mib": peak_rss_mib(),
    }
    if args.images:
        entry.update(images=args.images, images_per_s=args.images / wall)
    if args.grids is not None:
        entry["grids"] = sorted(str(p) for p in Path(args.grids).glob("*.png"))
    if args.manifest is not None and Path(args.manifest).is_file():
        manifest = json.loads(Path(args.manifest).read_text())
        entry["timings_s"] = manifest.get("timings_s", {})
        entry["device"] = manifest.get("device")
    update_report(args.report, "steps", args.step, entry)
    print(f"gpu_throughput: {args.step}: exit {code}, {wall:.1f} s", flush=True)
    return code


def command_skip(args: argparse.Namespace) -> int:
    update_report(args.report, "steps", args.step, {"skipped": args.reason})
    print(f"gpu_throughput: {args.step} skipped: {args.reason}", flush=True)
    return 0


def command_grid(args: argparse.Namespace) -> int:
    """Tile the PNGs of a folder (name order, all of one size) into one grid, 8 per row, listed under the step."""
    from cxrbench.data.image_io import read_image
    from cxrbench.files import atomic_save_png

    files = sorted(Path(args.pngs).glob("*.png"))
    if not files:
        raise SystemExit(f"no PNG files in {args.pngs}")
    images = np.stack([read_image(f) for f in files])
    columns = min(8, len(images))
    rows, h, w = -(-len(images) // columns), *images.shape[1:]
    grid = np.zeros((rows * h, columns * w), dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = image
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_save_png(Path(args.out), grid)
    report = load_report(args.report)
    step = report.setdefault("steps", {}).setdefault(args.step, {})
    step["grids"] = sorted(set(step.get("grids", [])) | {str(args.out)})
    save_report(args.report, report)
    return 0


# -- spaces: images/s per feature space, and autocast ------------------------------------------------
def run_sets(config_path: Path | None, n: int) -> tuple:
    """The run config (with its cache root), its dataset, the splits as ``cxrbench run`` loads them, and
    sets A (N test images) and B (N training images), uint8 [N, 1, R, R]."""
    from cxrbench.benchmark.progress import Reporter
    from cxrbench.benchmark.setup import build_dataset, load_splits
    from cxrbench.cache import default_cache_root
    from cxrbench.config import RunConfig, load_config

    config = load_config(config_path) if config_path else RunConfig()
    if config.cache_dir == RunConfig().cache_dir:  # as the CLI does: the user's cache root
        config = config.with_overrides(cache_dir=default_cache_root())
    dataset = build_dataset(config)
    splits = load_splits(dataset, config.resolution, config.cache_dir, Reporter())

    def first(images: torch.Tensor) -> torch.Tensor:
        return images.repeat(math.ceil(n / len(images)), 1, 1, 1)[:n]

    return config, dataset, splits, first(splits["test"].images), first(splits["train"].images)


def weight_options(
    names: list[str], scratch: Path, sizes: str, batch_size: int, inception: Path | None, given: dict[str, str]
) -> tuple[dict[str, dict], dict[str, str]]:
    """Each space's options (its weights: given, else seeded random in the published layout) and which weights."""
    import torch

    options: dict[str, dict] = {}
    kinds: dict[str, str] = {}
    if "inception-v3" in names:
        if inception is None:
            from fid_pipeline_speed import random_weights

            inception = random_weights(scratch / "random-inception.pth")
            kinds["inception-v3"] = RANDOM
        else:
            kinds["inception-v3"] = f"given: {inception}"
        options["inception-v3"] = {"weights": str(inception), "verify": False, "batch_size": batch_size}
    if "xrv-densenet" in names:
        path = given.get("xrv-densenet")
        if path is None:
            from cxrbench.metrics.xrv_weights import import_torchxrayvision

            torch.manual_seed(0)
            path = str(scratch / "random-densenet121.pt")  # torchxrayvision's legacy whole-model pickle layout
            torch.save(
                import_torchxrayvision().models.DenseNet(weights=None), path, _use_new_zipfile_serialization=False
            )
        kinds["xrv-densenet"] = f"given: {path}" if "xrv-densenet" in given else RANDOM
        options["xrv-densenet"] = {"weights": path, "verify": False, "batch_size": batch_size}
    for name in ("rad-dino", "dinov2", "clip"):
        if name not in names:
            continue
        if name in given:
            directory, kinds[name] = given[name], f"given: {given[name]}"
        else:
            from hf_helpers import PUBLISHED, TINY, write_local_copy
            from transformers.utils.logging import disable_progress_bar

            disable_progress_bar()  # save_pretrained's shard bar

            table = PUBLISHED if sizes == "published" else TINY
            directory = str(write_local_copy(name, scratch / name, table[name], whole_clip=False))
            kinds[name] = RANDOM if sizes == "published" else "seeded random, the tests' tiny size"
        options[name] = {"weights": directory, "batch_size": batch_size}
    return options, kinds


def fidelity_forward(network, device: torch.device, batch_size: int):
    """torch-fidelity's own feature loop: uint8 RGB batches to the device, FeatureExtractorInceptionV3,
    2048-d pool features back to the CPU (float32 [N, 2048])."""
    import torch

    def run(images: torch.Tensor) -> np.ndarray:
        out = []
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                batch = images[start : start + batch_size].expand(-1, 3, -1, -1).to(device)
                out.append(network(batch)[0].cpu())
        return torch.cat(out).numpy()

    return run


def relative_gap(a: np.ndarray, b: np.ndarray) -> dict:
    """How far features ``b`` [N, D] are from ``a``: the largest absolute difference over the largest
    |a|, and the median over images of ||b - a|| / ||a||."""
    scale = float(np.abs(a).max()) or 1.0
    norms = np.linalg.norm(a, axis=1)
    per_image = np.linalg.norm(b - a, axis=1) / np.where(norms > 0, norms, 1.0)
    return {"max_abs_over_max": float(np.abs(b - a).max()) / scale, "median_rel_l2": float(np.median(per_image))}


def command_spaces(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from cxrbench.benchmark.setup import resolve_device
    from cxrbench.benchmark.spaces import prepare_spaces
    from cxrbench.errors import UnavailableError
    from cxrbench.metrics.extractor_inception_v3 import InceptionV3Extractor
    from cxrbench.metrics.feature_extractor import ExtractorContext
    from cxrbench.metrics.frechet import frechet_distance_features

    device = resolve_device(args.device)
    names = args.only.split(",") if args.only else list(ALL_SPACES)
    dtypes = [d for d in args.autocast.split(",") if d]
    unknown = [d for d in dtypes if d not in AUTOCAST_DTYPES] + [n for n in names if n not in ALL_SPACES]
    if unknown:
        raise SystemExit(f"unknown --autocast dtype or --only space {unknown[0]!r}")
    config, dataset, splits, set_a, set_b = run_sets(args.config, args.images)
    rows, autocast_rows = [], []
    with tempfile.TemporaryDirectory() as scratch:
        options, kinds = weight_options(
            names, Path(scratch), args.sizes, args.batch_size, args.inception_weights, _pairs(args.weights, "--weights")
        )
        options = {**config.feature_options, **options}
        if "radiomics" in names:  # standardised from as many training images as are timed
            options["radiomics"] = {**options.get("radiomics", {}), "reference_images": args.images}
        kinds.update({"cxr-evaluator": "trained here (the run's)", "pixels": "none", "radiomics": "none"})
        context = ExtractorContext(
            splits["train"], splits["val"], splits["test"], device, config.seed, config.cache_dir, dataset.fingerprint()
        )
        spaces = prepare_spaces(names, options, context)
        extractors = {}
        for name, space in spaces.items():
            if isinstance(space, UnavailableError):
                rows.append({"space": name, "unavailable": str(space)})
            else:
                extractors[name] = lambda x, s=space: s.extract(x)["features"]
        if "inception-v3" in extractors:  # the plain network (fused=False) and torch-fidelity's own loop on it
            plain = InceptionV3Extractor(options["inception-v3"]["weights"], False, args.batch_size, fused=False)
            plain.prepare(context)
            extractors["inception-v3 plain (fused=False)"] = lambda x: plain.extract(x)["features"]
            extractors["torch-fidelity forward"] = fidelity_forward(plain.network, device, args.batch_size)
            kinds["inception-v3 plain (fused=False)"] = kinds["torch-fidelity forward"] = kinds["inception-v3"]
        runs_on = {"pixels": "cpu", "radiomics": "cpu"}  # no network: they ignore the device
        fp32 = {}
        for name, extract in extractors.items():
            extract(set_a[: args.batch_size])  # first batch: kernel choice, allocations, cudnn autotuning
            reset_peak()
            seconds, fp32[name] = timed(lambda: extract(set_a), device, args.repeats)
            rows.append(
                {
                    "space": name,
                    "device": runs_on.get(name, str(device)),
                    "weights": kinds.get(name, kinds.get(name.split(" ")[0], "")),
                    "images": len(set_a),
                    "batch_size": args.batch_size,
                    "wall_s": seconds,
                    "images_per_s": len(set_a) / seconds,
                    "peak_gpu_mib": peak_gpu_mib() if on_cuda(device) else None,
                    "dim": int(fp32[name].shape[1]),
                }
            )
            print(f"gpu_throughput: {name}: {len(set_a) / seconds:.1f} images/s", flush=True)
        if "torch-fidelity forward" in fp32:
            reference = np.asarray(fp32["torch-fidelity forward"], dtype=np.float64)
            rate = next(r for r in rows if r["space"] == "torch-fidelity forward")["images_per_s"]
            for row in rows:
                if row["space"].startswith("inception-v3") and "images_per_s" in row:
                    row["speedup_over_torch_fidelity"] = row["images_per_s"] / rate
                    row["vs_torch_fidelity"] = relative_gap(reference, fp32[row["space"]])
        for name in [n for n in NETWORK_SPACES if n in extractors]:
            fd32 = frechet_distance_features(fp32[name], extractors[name](set_b))
            for dtype in dtypes:
                autocast_rows.append(
                    autocast_row(name, extractors[name], set_a, set_b, fp32[name], fd32, dtype, device, args.repeats)
                )
                autocast_rows[-1]["weights"] = kinds.get(name, "")
    update_report(args.report, "spaces", "rows", rows)
    update_report(args.report, "spaces", "wall_s", time.perf_counter() - started)  # the step, weights included
    update_report(args.report, "autocast", "rows", autocast_rows)
    missing = [row["space"] for row in rows if "unavailable" in row]
    if missing:
        print(f"gpu_throughput: unavailable: {', '.join(missing)}", flush=True)
    return 0


def autocast_row(
    name: str, extract, set_a, set_b, fp32_a: np.ndarray, fd32: float, dtype: str, device: torch.device, repeats: int
) -> dict:
    """One space under torch.autocast(dtype): images/s, its features against float32, FD(A, B) against float32."""
    import torch

    from cxrbench.metrics.frechet import frechet_distance_features

    row: dict = {"space": name, "dtype": dtype, "device": str(device), "fd_fp32": fd32}

    def under_autocast(images: torch.Tensor) -> np.ndarray:
        with torch.autocast(device.type, dtype=getattr(torch, AUTOCAST_DTYPES[dtype])):
            return extract(images)

    try:
        under_autocast(set_a[:1])
        seconds, features_a = timed(lambda: under_autocast(set_a), device, repeats)
        fd = frechet_distance_features(features_a, under_autocast(set_b))
    except RuntimeError as error:  # an operation without a kernel for this dtype on this device
        row["error"] = str(error).splitlines()[0]
        return row
    row.update(
        images_per_s=len(set_a) / seconds,
        features=relative_gap(fp32_a, features_a),
        fd=fd,
        fd_abs_diff=abs(fd - fd32),
        fd_rel_diff=abs(fd - fd32) / abs(fd32) if fd32 else None,
    )
    print(f"gpu_throughput: {name} under {dtype} autocast: FD {fd:.6g} against {fd32:.6g} in float32", flush=True)
    return row


# -- report: Markdown -------------------------------------------------------------------------------
def _fmt(value: object, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def render(report: dict) -> str:
    lines = [f"# GPU check report ({report.get('started', '')})", ""]
    lines += [f"- {k}: `{v}`" for k, v in report.get("settings", {}).items()] + [""]
    lines += [
        "## Steps",
        "",
        "| step | exit | wall s | images | images/s | peak GPU MiB | peak RSS MiB | grids |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, step in report.get("steps", {}).items():
        if "skipped" in step:
            lines.append(f"| {name} | skipped: {step['skipped']} | | | | | | |")
            continue
        lines.append(
            f"| {name} | {step.get('exit_code')} | {_fmt(step.get('wall_s'))} | {_fmt(step.get('images'))} "
            f"| {_fmt(step.get('images_per_s'))} | {_fmt(step.get('peak_gpu_mib'))} | {_fmt(step.get('peak_rss_mib'))} "
            f"| {len(step.get('grids', []))} |"
        )
    for name, step in report.get("steps", {}).items():
        if step.get("timings_s"):
            timings = ", ".join(f"{k} {v:.1f}" for k, v in step["timings_s"].items())
            lines += ["", f"`{name}` timings (s, from its manifest): {timings}"]
    lines += [
        "",
        "## Feature spaces",
        "",
        "| space | device | weights | images | batch | images/s | vs torch-fidelity | peak GPU MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in report.get("spaces", {}).get("rows", []):
        if "unavailable" in row:
            lines.append(f"| {row['space']} | unavailable: {row['unavailable']} | | | | | | |")
            continue
        speedup = row.get("speedup_over_torch_fidelity")
        lines.append(
            f"| {row['space']} | {row['device']} | {row['weights']} | {row['images']} | {row['batch_size']} "
            f"| {_fmt(row['images_per_s'])} | {f'{speedup:.2f}x' if speedup else ''} | {_fmt(row['peak_gpu_mib'])} |"
        )
    lines += [
        "",
        "## Autocast against float32",
        "",
        "Features of set A under `torch.autocast` against float32 (largest absolute difference over the largest "
        "float32 value; median relative L2 per image), and FD(A, B) under autocast against float32.",
        "",
        "| space | dtype | weights | images/s | max abs / max | median rel. L2 | FD fp32 | FD autocast | rel. diff |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in report.get("autocast", {}).get("rows", []):
        if "error" in row:
            lines.append(f"| {row['space']} | {row['dtype']} | failed: {row['error']} | | | | | | |")
            continue
        lines.append(
            f"| {row['space']} | {row['dtype']} | {row.get('weights', '')} | {_fmt(row['images_per_s'])} "
            f"| {_fmt(row['features']['max_abs_over_max'])} | {_fmt(row['features']['median_rel_l2'])} "
            f"| {_fmt(row['fd_fp32'], 6)} | {_fmt(row['fd'], 6)} | {_fmt(row['fd_rel_diff'])} |"
        )
    for name, text in report.get("texts", {}).items():
        lines += ["", f"## {name}", "", "```", text.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def command_init(args: argparse.Namespace) -> int:
    from cxrbench.cache import default_cache_root

    cache = default_cache_root()  # a warm cache skips the trainings of the run step: say which it was
    settings = {
        **_pairs(args.setting, "--setting"),
        "cache": str(cache),
        "cache_empty_at_start": str(not cache.is_dir() or next(cache.iterdir(), None) is None).lower(),
    }
    report = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "settings": settings}
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    save_report(args.report, report)
    return 0


def command_report(args: argparse.Namespace) -> int:
    from cxrbench.files import atomic_write_text

    report = load_report(args.report)
    for name, file in _pairs(args.text, "--text").items():
        if Path(file).is_file():
            report.setdefault("texts", {})[name] = Path(file).read_text()
    save_report(args.report, report)
    markdown = Path(args.report).with_suffix(".md")
    atomic_write_text(markdown, render(report))
    print(f"gpu_throughput: wrote {args.report} and {markdown}", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="subcommand", required=True)

    def sub(name: str, function, help: str) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=help)
        p.add_argument("--report", type=Path, required=True, help="the report's JSON file")
        p.set_defaults(function=function)
        return p

    p = sub("init", command_init, "start a new report")
    p.add_argument("--setting", action="append", help="KEY=VALUE, recorded as the check's settings")
    p = sub("cli", command_cli, "run one cxrbench command in this process and record it")
    p.add_argument("--step", required=True)
    p.add_argument("--images", type=int, default=0, help="images the command processes (for images/s)")
    p.add_argument("--grids", type=Path, default=None, help="folder of the step's PNG sample grids")
    p.add_argument("--manifest", type=Path, default=None, help="a run's manifest.json (its timings_s)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the cxrbench arguments")
    p = sub("skip", command_skip, "record a step that could not run")
    p.add_argument("--step", required=True)
    p.add_argument("--reason", required=True)
    p = sub("grid", command_grid, "tile a folder of PNGs into one grid")
    p.add_argument("--step", required=True)
    p.add_argument("pngs", type=Path)
    p.add_argument("out", type=Path)
    p = sub("spaces", command_spaces, "images/s per feature space, torch-fidelity, autocast")
    p.add_argument("--device", default="auto")
    p.add_argument("--config", type=Path, default=None, help="the run step's TOML (its phantom and evaluator)")
    p.add_argument("--images", type=int, default=1024, help="images per set (A and B)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3, help="timed passes over set A; the best counts")
    p.add_argument("--sizes", choices=("published", "tiny"), default="published", help="transformer sizes")
    p.add_argument("--autocast", default="bf16,fp16", help="dtypes to compare with float32 ('' for none)")
    p.add_argument("--only", default="", help="spaces, comma-separated (default: all)")
    p.add_argument("--inception-weights", type=Path, default=None, help="FID Inception weights (default: random)")
    p.add_argument("--weights", action="append", help="NAME=PATH: real weights of xrv-densenet, rad-dino, ...")
    p = sub("report", command_report, "attach text files and write the Markdown report")
    p.add_argument("--text", action="append", help="NAME=FILE: a text file to attach (skipped when absent)")
    args = parser.parse_args()
    return args.function(args)


if __name__ == "__main__":
    sys.exit(main())
