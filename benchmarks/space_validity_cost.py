"""What the feature-space validity check (benchmark/space_validity.py) adds to a run and to validate-metrics.

Run from the repository root:
     python benchmarks/space_validity_cost.py run [--models pca-gaussian,noise] [--metrics all] [--cache DIR]
     python benchmarks/space_validity_cost.py validate --config docs/results/nih-sample.toml [--n 500]

`run`: one run at the default settings (phantom, 64 px, n = 128, seed 0, all four tasks) of the
models and metrics given (default the two fast models and every metric: a proxy for the default
run, whose other models only add sample sets), in a fresh run folder, with the feature and row
caches of --cache emptied first, so that every set is extracted and scored as in a first run
(a trained evaluator and the radiomics statistics are kept when --cache has them, else they are
made in the run). CPU seconds (time.process_time, all threads) of the whole run and of the check
(runner._check_validity: the probe images and their features in every checked space), and their ratio.

`validate`: `cxrbench validate-metrics` with the config's data and metrics, once cold (the cache
given, default a fresh one), and the CPU seconds of its run-validity part (make_probes and
check_space) against the whole. Prints the load average before and after (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from cxrbench.benchmark import runner, validation
from cxrbench.config import RunConfig, load_config


class CpuTimer:
    """Wraps functions of a module so that their CPU seconds add up in ``seconds``."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, module, name: str) -> None:
        inner = getattr(module, name)

        def timed(*args, **kwargs):
            start = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds += time.process_time() - start

        setattr(module, name, timed)


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run_cost(models: str, metrics: str, cache: Path) -> None:
    timer = CpuTimer()
    timer.wrap(runner, "_check_validity")
    for folder in ("features", "rows"):
        shutil.rmtree(cache / folder, ignore_errors=True)
    out = Path(tempfile.mkdtemp()) / "run"
    config = RunConfig(
        models=tuple(models.split(",")), metrics=tuple(metrics.split(",")), out=out, cache_dir=cache, device="cpu"
    )
    print(_load())
    start, wall = time.process_time(), time.perf_counter()
    summary = runner.run_benchmark(config)
    total = time.process_time() - start
    verdicts = {s: v["verdict"] for s, v in summary.manifest["space_validity"].items()}
    print(
        f"run CPU {total:.1f} s (wall {time.perf_counter() - wall:.1f} s), check CPU {timer.seconds:.1f} s = "
        f"{100 * timer.seconds / total:.1f} % of the run; wall timings "
        f"{ {k: round(v, 1) for k, v in summary.manifest['timings_s'].items()} }; verdicts {verdicts}"
    )
    print(_load())


def validate_cost(config_file: Path, n: int, cache: Path) -> None:
    timer = CpuTimer()
    for name in ("make_probes", "check_space"):
        timer.wrap(validation, name)
    config = load_config(config_file).with_overrides(cache_dir=cache, device="cpu")  # data_root: from the cwd
    print(_load())
    start, wall = time.process_time(), time.perf_counter()
    report = validation.validate_metrics(config, n)
    total = time.process_time() - start
    print(
        f"validate-metrics on {config.data}: CPU {total:.1f} s (wall {time.perf_counter() - wall:.1f} s), "
        f"run-validity part CPU {timer.seconds:.1f} s = {100 * timer.seconds / total:.1f} %; "
        f"{sum(c.passed for c in report.checks)} of {len(report.checks)} checks passed"
    )
    for name, ok, detail, _ in report.checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    print(_load())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("run", "validate"))
    parser.add_argument("--models", default="pca-gaussian,noise")
    parser.add_argument("--metrics", default="all")
    parser.add_argument("--config", type=Path, default=Path("docs/results/nih-sample.toml"))
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (default: a fresh one)")
    args = parser.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="cxrbench-cache-"))
    if args.mode == "run":
        run_cost(args.models, args.metrics, cache)
    else:
        validate_cost(args.config, args.n, cache)


if __name__ == "__main__":
    main()
