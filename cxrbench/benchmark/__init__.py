"""The runner: run directory, manifest, model caching, resume, and the benchmark loop."""
