"""Data-parallel training under ``torchrun``: gloo on CPU, nccl on GPU."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def launched() -> bool:
    """True inside a ``torchrun`` launch of more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: torch.device) -> tuple[int, int]:
    """Joins the process group (once) and returns ``(rank, world_size)``."""
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def broadcast_state(module: torch.nn.Module) -> None:
    """Copies rank 0's parameters and buffers to every rank."""
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)
