"""The one registry class: lazy built-ins, decorator confirmation, entry points, helpful errors."""

from __future__ import annotations

import pytest

from cxrbench.data import DATASETS
from cxrbench.errors import CxrbenchError, UnknownNameError
from cxrbench.metrics import FEATURE_EXTRACTORS, METRICS
from cxrbench.models import MODELS
from cxrbench.registry import Registry
from cxrbench.tasks import FINDINGS, TASKS

ALL_REGISTRIES = [MODELS, METRICS, TASKS, DATASETS, FEATURE_EXTRACTORS]


class Base:
    pass


def _registry() -> Registry:
    return Registry("widget", f"{__name__}:Base", "cxrbench.test-widgets")


def test_unknown_name_suggests_the_closest_and_lists_all():
    with pytest.raises(UnknownNameError) as caught:
        MODELS.get("pca-gausian")
    message = str(caught.value)
    assert "did you mean 'pca-gaussian'?" in message
    for name in ("noise", "pca-gaussian", "real-holdout"):
        assert name in message
    assert "\n" not in message


def test_duplicate_names_are_refused():
    registry = _registry()
    registry.add_lazy("a", f"{__name__}:Base")
    with pytest.raises(CxrbenchError, match="duplicate widget name 'a'"):
        registry.add_lazy("a", f"{__name__}:Base")


@pytest.mark.parametrize("bad", ["has space", "a/b", "Upper", "", "all"])
def test_invalid_names_are_refused(bad):
    with pytest.raises(CxrbenchError, match="invalid widget name"):
        _registry().add_lazy(bad, f"{__name__}:Base")


def test_wrong_base_class_is_refused():
    registry = _registry()
    with pytest.raises(CxrbenchError, match="not a Base"):
        registry.register("thing")(int)


def test_decorator_registers_and_resolve_expands_all():
    registry = _registry()

    @registry.register("first")
    class First(Base):
        """The first widget."""

    registry.add_lazy("second", f"{__name__}:Base")
    assert registry.get("first") is First
    assert registry.resolve("all") == ("first", "second")
    assert registry.resolve("second, first") == ("second", "first")
    assert registry.entry("first").summary == "The first widget."


@pytest.mark.parametrize("registry", ALL_REGISTRIES, ids=lambda r: r.kind)
def test_every_builtin_imports_and_has_the_right_type(registry):
    for name in registry.names():
        assert registry.get(name) is not None


def test_tasks_are_the_four_findings_with_two_conditions():
    assert TASKS.names() == sorted(FINDINGS)
    for name in FINDINGS:
        present, absent = TASKS.get(name).conditions()
        assert present.present and not absent.present
        assert present.target[FINDINGS.index(name)] == 1 and absent.target[FINDINGS.index(name)] == 0
        assert sum(t is not None for t in present.target) == 1
        assert absent.prompt == "no findings"
    assert TASKS.get("enlarged_cardiac_silhouette").conditions()[0].prompt == "cardiomegaly"
    report = TASKS.get("pleural_effusion").condition("present", "report")
    assert "effusion" in report.prompt.lower() and len(report.prompts) >= 2


def test_metric_declarations_are_complete():
    from cxrbench.metrics.metric import FAMILIES

    for name in METRICS.names():
        metric = METRICS.build(name)[0]
        schema = metric.schema()
        assert schema["metric"] == name and schema["name"] == metric.id
        assert schema["direction"] in ("lower", "higher")
        assert schema["feature_space"] in FEATURE_EXTRACTORS or schema["scope"] == "model"
        assert schema["family"] in FAMILIES and isinstance(schema["order"], int)  # its column group and place
        if metric.any_space:  # computed in any space: its rows say which
            assert metric.id == f"{name}@{metric.default_space}" and metric.default_space in FEATURE_EXTRACTORS


def test_any_space_metrics_and_aliases_resolve_to_one_id_each():
    from cxrbench.metrics.selection import build_metrics

    built = build_metrics(("fd@rad-dino", "fid", "fd", "cxr_fd", "kid", "cxr_kid", "precision@pixels"), {})
    assert [m.id for m in built] == [
        "fd@rad-dino",
        "fd@inception-v3",
        "fd@cxr-evaluator",
        "kid@inception-v3",
        "kid@cxr-evaluator",
        "precision@pixels",
    ]  # fd and fid are one metric
    names = {m.id: m.schema()["display_name"] for m in built}
    assert names == {
        "fd@rad-dino": "FD (rad-dino)",
        "fd@inception-v3": "FID",
        "fd@cxr-evaluator": "CXR-FD",
        "kid@inception-v3": "KID",
        "kid@cxr-evaluator": "CXR-KID",
        "precision@pixels": "Precision (pixels)",
    }
    options = {"fid": {"feature_space": "pixels"}, "fd": {}, "fd@rad-dino": {}}
    assert [m.id for m in build_metrics(("fid",), options)] == ["fd@pixels"]  # an old table still moves it


def test_absent_can_mean_no_finding_at_all():
    negative = TASKS.get("pleural_effusion").condition("absent")
    strict = TASKS.get("pleural_effusion").condition("absent", absent="no_finding")
    assert negative.target == (None, None, 0, None) and strict.target == (0, 0, 0, 0)
    assert TASKS.get("pleural_effusion").condition("present", absent="no_finding").target == (None, None, 1, None)
    assert strict.key == negative.key == "pleural_effusion/absent"
