"""Gray level size zone matrix and its 16 features (pyradiomics ``glszm.py``), in 2D.

A zone is a set of 8-connected pixels (distance 1 in the infinity norm, in-plane under force2D) of one
gray level; one matrix per image, rotation independent. Zones of a whole batch are found at once as
the connected components of a graph whose edges join equal-level 8-neighbours (scipy's csgraph).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cxrbench.metrics.radiomics_cells import Cells, count_cells
from cxrbench.metrics.radiomics_discretise import Levels
from cxrbench.metrics.radiomics_glrlm import run_features

_NEIGHBOURS = ((0, 1), (1, -1), (1, 0), (1, 1))  # each undirected 8-neighbour link once


def zone_labels(levels: np.ndarray) -> np.ndarray:
    """int [B, H, W] -> int [B, H, W]: a label per zone (8-connected equal levels), unique across the batch."""
    _, height, width = levels.shape
    index = np.arange(levels.size).reshape(levels.shape)
    sources, targets = [], []
    for dy, dx in _NEIGHBOURS:
        y0, y1 = 0, height - dy
        x0, x1 = max(0, -dx), width - max(0, dx)
        here = levels[:, y0:y1, x0:x1]
        there = levels[:, y0 + dy : y1 + dy, x0 + dx : x1 + dx]
        same = here == there
        sources.append(index[:, y0:y1, x0:x1][same])
        targets.append(index[:, y0 + dy : y1 + dy, x0 + dx : x1 + dx][same])
    source, target = np.concatenate(sources), np.concatenate(targets)
    graph = coo_matrix((np.ones(len(source), dtype=np.int8), (source, target)), shape=(levels.size, levels.size))
    _, labels = connected_components(graph, directed=False)
    return labels.reshape(levels.shape)


def glszm_cells(levels: Levels) -> Cells:
    """Zone counts: group = image, rows = level - 1, cols = zone size - 1."""
    images, height, width = levels.levels.shape
    labels = zone_labels(levels.levels).ravel()
    sizes = np.bincount(labels)
    first = np.empty(len(sizes), dtype=np.int64)
    first[labels] = np.arange(labels.size)  # some pixel of each zone: all share its level and image
    zone_level = levels.levels.ravel()[first]
    zone_image = first // (height * width)
    return count_cells(zone_image, zone_level - 1, sizes - 1, images, levels.max_level, height * width)


def glszm_features(levels: Levels) -> np.ndarray:
    """Discretised images -> [B, 16] in ``GLSZM`` order."""
    _, height, width = levels.levels.shape
    return run_features(glszm_cells(levels), float(height * width))
