"""Draw docs/figures/phantom.png: phantom samples with no finding and with each single finding.

Run: python docs/figures/make_phantom_figure.py  (about 10 s on one core)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cxrbench.data.phantom.dataset import render_image  # noqa: E402
from cxrbench.tasks import FINDINGS, TASKS  # noqa: E402

COLUMNS, RESOLUTION = 5, 256


def main(out: Path = Path(__file__).with_name("phantom.png")) -> None:
    rows: dict[str, list[tuple[np.ndarray, dict]]] = {"no finding": [], **{f: [] for f in FINDINGS}}
    patient = 0
    while any(len(v) < COLUMNS for v in rows.values()):
        image, info = render_image(0, patient, 0, RESOLUTION)
        patient += 1
        labels = info["labels"]
        key = "no finding" if sum(labels) == 0 else FINDINGS[labels.index(1)] if sum(labels) == 1 else None
        if key is not None and len(rows[key]) < COLUMNS:
            rows[key].append((image, info))
    fig, axes = plt.subplots(len(rows), COLUMNS, figsize=(2.0 * COLUMNS, 2.15 * len(rows)))
    for r, (key, items) in enumerate(rows.items()):
        for c, (image, info) in enumerate(items):
            ax = axes[r, c]
            ax.imshow(image, cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([]), ax.set_yticks([])
            detail = f"CTR {info['cardiothoracic_ratio']:.2f}"
            if info["effusion_side"]:
                detail += f", {info['effusion_side']}"
            if info["atelectasis_kind"]:
                detail += f", {info['atelectasis_kind']} {info['atelectasis_side']}"
            ax.set_title(detail, fontsize=7)
        axes[r, 0].set_ylabel(key if key == "no finding" else TASKS.get(key).display_name, fontsize=9)
    fig.suptitle("cxrbench phantom: rows show one finding each (sides are the patient's)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
