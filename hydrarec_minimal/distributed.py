"""One training run over several processes, launched by PyTorch's ``torchrun``:

    torchrun --nproc_per_node=2 -m hydrarec_minimal.train -- --recipe cpu15 --out DIR

(the ``--`` keeps torchrun from reading the training flags as its own: ``--d`` would match
its ``--duplicate-...`` options).

Each process (a *rank*) trains on its share of every batch, DistributedDataParallel averages
the gradients (gloo on CPUs, NCCL on GPUs), each rank scores its block of the users and the
ranks are gathered, so the metrics are those of one process. Without ``torchrun`` (no
``WORLD_SIZE`` in the environment) everything here is a no-op: a group of one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn


@dataclass(frozen=True)
class Group:
    """This process's place among the ranks of a run (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Rank 0 writes the checkpoints and the results, and prints."""
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        """The model as the training step uses it: DistributedDataParallel across ranks."""
        if self.world == 1:
            return model
        return nn.parallel.DistributedDataParallel(model)

    def shard(self, batch: Tensor) -> Tensor:
        """This rank's share of a batch's indices: every world-th, from its rank."""
        return batch if self.world == 1 else batch[self.rank :: self.world]

    def block(self, n: int) -> slice:
        """This rank's contiguous block of n users, for scoring."""
        size = -(-n // self.world)
        return slice(min(n, self.rank * size), min(n, (self.rank + 1) * size))

    def gather(self, part: Tensor) -> Tensor:
        """Every rank's block of a 1-d tensor, concatenated in rank order (on the CPU)."""
        if self.world == 1:
            return part
        dev = comm_device()
        sizes = [torch.zeros(1, dtype=torch.long, device=dev) for _ in range(self.world)]
        dist.all_gather(sizes, torch.tensor([len(part)], device=dev))
        longest = int(max(s.item() for s in sizes))
        padded = torch.zeros(longest, dtype=part.dtype, device=dev)
        padded[: len(part)] = part
        parts = [torch.zeros_like(padded) for _ in range(self.world)]
        dist.all_gather(parts, padded)
        return torch.cat([p[: int(s.item())].cpu() for p, s in zip(parts, sizes, strict=True)])

    def agree(self, flag: bool) -> bool:
        """True on every rank when it is true on any: ranks stop together."""
        if self.world == 1:
            return flag
        t = torch.tensor([int(flag)], device=comm_device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())


def comm_device() -> torch.device:
    """Where the process group's messages live: this rank's GPU for NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def launched() -> bool:
    """True inside a ``torchrun`` launch of more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def local_device(device: torch.device) -> torch.device:
    """Each rank's own GPU (``LOCAL_RANK``) when training on CUDA with several ranks."""
    if device.type == "cuda" and launched():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


@contextlib.contextmanager
def process_group(device: torch.device) -> Iterator[Group]:
    """Join the run's process group for the block (gloo on CPUs, NCCL on GPUs), or be a group
    of one without torchrun."""
    if not launched():
        yield Group()
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield Group(dist.get_rank(), dist.get_world_size())
    finally:
        dist.destroy_process_group()
