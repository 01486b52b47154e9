"""The processes of one run: one process, or those `accelerate launch` started (GPUs, CPUs, nodes).

The unit of work shared out is a span of a sample set (images ``range(k * batch_size, ...)`` of one
model, task and condition; sample_sets.spans): its owner generates it, with each image drawn from its
own seed (run seed, model, cell, index), extracts its features into the feature cache and writes the
PNGs to the run directory. The main process then gathers every set whole (spans in index order) and
scores it: every metric is computed from the whole set's features, exactly as in one process, and
nothing is averaged over shards. The spans are the same whatever the number of processes, so the
images, features and rows are bit-identical for 1, 2 or 3 processes. Steps that fill a cache
(rendering data, training a model or the evaluator, real features) run on the main process first;
the others then read the cache instead of repeating the work.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, TypeVar

import torch

Item = TypeVar("Item")


@dataclass(frozen=True)
class Processes:
    """This process's place among the run's processes (default: the only one)."""

    index: int = 0
    count: int = 1
    local_index: int = 0

    @classmethod
    def from_accelerate(cls, cpu: bool) -> Processes:
        """The processes `accelerate launch` started (one process when it did not start this one).

        ``cpu``: use the gloo backend between CPU processes (accelerate would pick NCCL for GPUs).
        """
        from accelerate import PartialState

        state = PartialState(cpu=cpu)
        return cls(state.process_index, state.num_processes, state.local_process_index)

    @property
    def is_main(self) -> bool:
        return self.index == 0

    @property
    def distributed(self) -> bool:
        return self.count > 1

    def owns(self, position: int) -> bool:
        """Whether work item number ``position`` is this process's (round robin)."""
        return position % self.count == self.index

    def device(self, device: torch.device) -> torch.device:
        """Each process of a multi-GPU run gets its own GPU; CPU stays CPU."""
        if self.distributed and device.type == "cuda":
            return torch.device("cuda", self.local_index)
        return device

    def wait(self) -> None:
        """Block until every process gets here."""
        if self.distributed:
            torch.distributed.barrier()

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Run the block on the main process, then on the others (which then hit its caches)."""
        if not self.is_main:
            self.wait()
        yield
        if self.is_main:
            self.wait()

    def gather(self, value: Item) -> list[Item]:
        """Every process's ``value`` (picklable), in process order, on every process."""
        if not self.distributed:
            return [value]
        values: list = [None] * self.count
        torch.distributed.all_gather_object(values, value)
        return values
