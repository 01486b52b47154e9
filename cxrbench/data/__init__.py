"""Datasets of real (or phantom) chest X-rays, starting with the embedded procedural phantom."""

from cxrbench.registry import Registry

DATASETS: Registry = Registry("dataset", "cxrbench.data.dataset:Dataset", "cxrbench.datasets")
DATASETS.add_lazy(
    "phantom",
    "cxrbench.data.phantom.dataset:PhantomDataset",
    "procedural frontal chest radiographs with ground-truth findings (no download)",
)
DATASETS.add_lazy(
    "nih-cxr14", "cxrbench.data.nih:NihCxr14Dataset", "NIH ChestX-ray14: Data_Entry_2017*.csv and PNG folders"
)
DATASETS.add_lazy(
    "chexpert",
    "cxrbench.data.chexpert:CheXpertDataset",
    "CheXpert: train.csv / valid.csv with 14 observations (uncertain labels by policy)",
)
DATASETS.add_lazy(
    "mimic-cxr-jpg",
    "cxrbench.data.mimic:MimicCxrJpgDataset",
    "MIMIC-CXR-JPG v2: labeller, split and metadata CSVs, files/pXX/... JPGs",
)
DATASETS.add_lazy(
    "folder",
    "cxrbench.data.folder:FolderDataset",
    "any folder plus a CSV with a path column and finding columns (DICOM too)",
)
