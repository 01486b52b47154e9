"""Datasets of real (or phantom) chest X-rays, starting with the embedded procedural phantom."""

from cxrbench.registry import Registry

DATASETS: Registry = Registry("dataset", "cxrbench.data.dataset:Dataset", "cxrbench.datasets")
DATASETS.add_lazy("phantom", "cxrbench.data.phantom.dataset:PhantomDataset",
                  "procedural frontal chest radiographs with ground-truth findings (no download)")
