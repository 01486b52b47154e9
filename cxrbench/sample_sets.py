"""A sample set on disk: numbered PNGs written span by span, with a marker per finished span and one for the set.

A span is a range of image indices (``spans``: fixed boundaries every ``batch_size`` images), the unit one
process generates. Its PNGs are written first, then its marker (``.span-START-STOP.json``, with the seed and
what the adapter logged); when every span is there the set is finished: the markers are merged into
``generation.json``, the set's marker (``.complete.json``: seed and n) is written, and the span markers go.
A kill at any point leaves whole spans that a resumed run reuses and no marker for a half-written one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from cxrbench.errors import AdapterError
from cxrbench.files import atomic_save_png, atomic_write_text
from cxrbench.models.adapter import GenerationLog

COMPLETE = ".complete.json"
GENERATION = "generation.json"  # seconds per image and the adapter's records and summary


def spans(n: int, size: int) -> list[range]:
    """The spans of a set of ``n`` images: ``range(0, size)``, ``range(size, 2 * size)``, ... (the last may be
    shorter); they depend on ``n`` and ``size`` only, never on the number of processes."""
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def sample_name(index: int) -> str:
    """The file name of image ``index`` in a sample set."""
    return f"{index:05d}.png"


def read_span(folder: Path, seed: int, n: int, span: range) -> torch.Tensor | None:
    """Images ``span`` (uint8 [len, 1, H, W]) of the set made with ``seed`` and ``n`` when that span, or the
    whole set, is finished in ``folder``; else None."""
    finished = _marker(folder / COMPLETE) == {"seed": seed, "n": n}
    marker = _marker(_span_marker(folder, span))
    if not finished and (marker is None or marker["seed"] != seed):
        return None
    images = [np.asarray(Image.open(folder / sample_name(i))) for i in span]
    return torch.from_numpy(np.stack(images)[:, None])


def write_span(
    folder: Path, seed: int, span: range, images: torch.Tensor, seconds: float, log: GenerationLog | None
) -> None:
    """Save images ``span`` (uint8 [len, 1, H, W]) as PNGs, then the span's marker with how long it took and
    what the adapter logged."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in zip(span, images[:, 0].numpy()):
        atomic_save_png(folder / sample_name(i), image)
    facts = {
        "seed": seed,
        "seconds": seconds,
        "summary": log.summary if log else {},
        "records": log.records if log else [],
    }
    atomic_write_text(_span_marker(folder, span), json.dumps(facts))


def finish_set(folder: Path, seed: int, parts: Sequence[range]) -> None:
    """Mark the set made of the finished spans ``parts`` complete: write ``generation.json`` from their
    markers, then ``.complete.json``, then remove the span markers. Nothing to do for a finished set."""
    n = parts[-1].stop if parts else 0
    if _marker(folder / COMPLETE) == {"seed": seed, "n": n}:
        return
    facts = [_marker(_span_marker(folder, span)) for span in parts]
    if any(fact is None or fact["seed"] != seed for fact in facts):
        raise RuntimeError(f"sample set {folder} has an unfinished span after every process finished")
    seconds = sum(fact["seconds"] for fact in facts)
    generation = {
        "seconds": round(seconds, 3),
        "seconds_per_image": round(seconds / max(n, 1), 5),
        "summary": merge_summaries([(len(span), fact["summary"]) for span, fact in zip(parts, facts)], folder),
        "records": [record for fact in facts for record in fact["records"]],
    }
    atomic_write_text(folder / GENERATION, json.dumps(generation, indent=1))
    atomic_write_text(folder / COMPLETE, json.dumps({"seed": seed, "n": n}))
    for span in parts:
        _span_marker(folder, span).unlink()


def write_png_set(folder: Path, seed: int, images: torch.Tensor, seconds: float, log: GenerationLog | None) -> None:
    """Save a whole set made in one call (uint8 [N, 1, H, W]) as one span, and finish it."""
    whole = range(int(images.shape[0]))
    (folder / COMPLETE).unlink(missing_ok=True)
    write_span(folder, seed, whole, images, seconds, log)
    finish_set(folder, seed, [whole])


def merge_summaries(parts: list[tuple[int, dict]], folder: Path) -> dict:
    """One summary from the spans' (image count, summary): a value every span gives is kept; a number that
    differs is a per-image mean, so the spans' values are averaged weighted by their image counts."""
    merged = {}
    for key in dict.fromkeys(key for _, summary in parts for key in summary):
        values = [(count, summary.get(key)) for count, summary in parts]
        if all(value == values[0][1] for _, value in values):
            merged[key] = values[0][1]
        elif all(isinstance(value, (int, float)) and not isinstance(value, bool) for _, value in values):
            merged[key] = sum(count * value for count, value in values) / sum(count for count, _ in values)
        else:
            raise AdapterError(
                f"the generation summary {key!r} of {folder} differs between spans and is not a number in each; "
                "an adapter's summary holds per-image means or facts every image shares"
            )
    return merged


def _span_marker(folder: Path, span: range) -> Path:
    return folder / f".span-{span.start:05d}-{span.stop:05d}.json"


def _marker(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None
