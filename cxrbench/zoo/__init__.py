"""Reference weights: the built-in deep generators and the evaluator, trained by cxrbench's own code on the
embedded default (the phantom at its defaults) and shipped with the package, so the main job need not train.

A zoo folder holds ``catalogue.json`` and one folder of files per entry. A run uses an entry when its
settings key (``cache.settings_key``: the data, resolution, options, settings and seed, not the code) equals
the one the run would train for; ``cxrbench zoo rebuild`` retrains every entry and compares (docs/zoo.md).
"""

from cxrbench.zoo.catalogue import PACKAGED, ReferenceWeights, find_reference, read_catalogue, record_entry

__all__ = ["PACKAGED", "ReferenceWeights", "find_reference", "read_catalogue", "record_entry"]
