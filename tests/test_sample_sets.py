"""Sample sets on disk, span by span: markers, resume, and the generation log merged over spans."""

from __future__ import annotations

import json

import pytest
import torch

from cxrbench.errors import AdapterError
from cxrbench.models.adapter import GenerationLog
from cxrbench.sample_sets import COMPLETE, GENERATION, finish_set, read_span, spans, write_png_set, write_span


def _images(span: range) -> torch.Tensor:
    return torch.stack([torch.full((1, 4, 4), i, dtype=torch.uint8) for i in span])


def _log(span: range, success: float) -> GenerationLog:
    records = [{"index": i} for i in span]
    return GenerationLog(records, {"success_rate": success, "sampler": "ddpm", "steps": 20})


def test_spans_have_fixed_boundaries():
    assert spans(12, 5) == [range(0, 5), range(5, 10), range(10, 12)]
    assert spans(10, 5) == [range(0, 5), range(5, 10)] and spans(3, 64) == [range(0, 3)]


def test_a_set_is_finished_from_its_spans_in_index_order(tmp_path):
    parts = spans(7, 5)
    for span, success in zip(reversed(parts), (0.0, 1.0)):  # written out of order, as processes may
        write_span(tmp_path, 11, span, _images(span), 2.0, _log(span, success))
    assert torch.equal(read_span(tmp_path, 11, 7, parts[1]), _images(parts[1]))
    finish_set(tmp_path, 11, parts)
    generation = json.loads((tmp_path / GENERATION).read_text())
    assert [r["index"] for r in generation["records"]] == list(range(7))
    # a per-image mean is weighted by the spans' sizes; facts every span shares are kept as they are
    assert generation["summary"] == {"success_rate": pytest.approx(5 / 7), "sampler": "ddpm", "steps": 20}
    assert generation["seconds"] == 4.0 and generation["seconds_per_image"] == round(4 / 7, 5)
    assert json.loads((tmp_path / COMPLETE).read_text()) == {"seed": 11, "n": 7}
    assert not list(tmp_path.glob(".span-*"))  # the set's marker now stands for every span
    assert torch.equal(read_span(tmp_path, 11, 7, range(0, 5)), _images(range(0, 5)))
    finish_set(tmp_path, 11, parts)  # finishing a finished set changes nothing
    assert json.loads((tmp_path / GENERATION).read_text()) == generation


def test_a_span_without_its_marker_or_of_another_seed_is_not_reused(tmp_path):
    write_span(tmp_path, 11, range(0, 5), _images(range(0, 5)), 1.0, None)
    (tmp_path / ".span-00000-00005.json").unlink()  # killed after the PNGs, before the marker
    assert read_span(tmp_path, 11, 7, range(0, 5)) is None
    write_span(tmp_path, 11, range(0, 5), _images(range(0, 5)), 1.0, None)
    assert read_span(tmp_path, 12, 7, range(0, 5)) is None
    assert read_span(tmp_path, 11, 7, range(5, 7)) is None
    with pytest.raises(RuntimeError, match="unfinished span"):
        finish_set(tmp_path, 11, spans(7, 5))


def test_a_summary_that_cannot_be_merged_is_an_adapter_error(tmp_path):
    for span, sampler in zip(spans(7, 5), ("ddpm", "unipc")):
        write_span(tmp_path, 1, span, _images(span), 1.0, GenerationLog([], {"sampler": sampler}))
    with pytest.raises(AdapterError, match="'sampler' .* differs between spans"):
        finish_set(tmp_path, 1, spans(7, 5))


def test_a_whole_set_written_at_once_is_finished(tmp_path):
    write_png_set(tmp_path, 3, _images(range(4)), 1.0, GenerationLog([{"index": i} for i in range(4)], {"x": 1}))
    assert torch.equal(read_span(tmp_path, 3, 4, range(1, 3)), _images(range(1, 3)))
    assert json.loads((tmp_path / GENERATION).read_text())["summary"] == {"x": 1}
