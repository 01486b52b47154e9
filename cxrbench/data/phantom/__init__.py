"""The embedded default dataset: procedural frontal chest radiographs with ground-truth findings."""
