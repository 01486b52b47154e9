"""``python -m cxrbench`` (and ``accelerate launch -m cxrbench run ...``): the command line."""

from cxrbench.cli import main

main()
