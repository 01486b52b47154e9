"""cxrbench: an open benchmark suite for generative models of chest X-rays."""

__version__ = "0.1.0"
