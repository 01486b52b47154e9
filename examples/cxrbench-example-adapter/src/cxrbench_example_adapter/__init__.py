"""Example third-party cxrbench adapter (see docs/adding-a-model.md)."""
