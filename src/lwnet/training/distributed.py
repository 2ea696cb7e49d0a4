"""torchrun / DistributedDataParallel helpers (SPEC §3.8): gloo on CPU, nccl on GPU.

Without ``WORLD_SIZE`` in the environment everything degrades to one process (rank 0 of 1).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from lwnet._text import counted
from lwnet.errors import ConfigError


def init() -> tuple[int, int, torch.device]:
    """Join the process group torchrun set up; returns (rank, world size, device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus and local >= gpus:  # one GPU per process: nccl refuses two ranks on one device
        raise ConfigError(f"process {local} of this node has no GPU of its own (the node has "
                          f"{counted(gpus, 'CUDA device')}); use torchrun "
                          f"--nproc-per-node {gpus} at most, or set CUDA_VISIBLE_DEVICES= to "
                          "train on the CPU")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if gpus else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    if gpus:
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def wrap(model: torch.nn.Module, world: int) -> torch.nn.Module:
    """``model`` under DistributedDataParallel when there are several processes, else itself."""
    if world == 1:
        return model
    # DDP flags the 1×1 convolutions' gradients, whose strides differ from the bucket's only on
    # size-1 dimensions: the memory layout is the same, the warning spurious (pytorch#47163).
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    return DistributedDataParallel(model)


def _all_reduce(value: float, op: dist.ReduceOp.RedOpType) -> float:
    t = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":  # nccl reduces device tensors only
        t = t.cuda()
    dist.all_reduce(t, op=op)
    return float(t.item())


def mean_over_ranks(value: float, world: int) -> float:
    """The mean of each rank's ``value`` (every rank gets it)."""
    return value if world == 1 else _all_reduce(value, dist.ReduceOp.SUM) / world


def all_ranks(flag: bool, world: int) -> bool:
    """True when ``flag`` holds on every rank (so that all take the same branch)."""
    return flag if world == 1 else bool(_all_reduce(float(flag), dist.ReduceOp.MIN))


def sharded(fn: Callable[[np.ndarray], tuple[np.ndarray, ...]], ids: np.ndarray, rank: int,
            world: int, device: torch.device) -> tuple[np.ndarray, ...]:
    """``fn`` over ``ids`` split round-robin across ranks; every rank gets all results.

    ``fn(ids_subset)`` returns arrays whose first axis follows ``ids_subset``; the gathered
    arrays follow ``ids``.
    """
    mine = np.arange(rank, len(ids), world)
    parts = fn(ids[mine])
    if world == 1:
        return parts
    pos = gather_concat(torch.from_numpy(mine).to(device), world).cpu().numpy()
    out = []
    for part in parts:
        gathered = gather_concat(torch.from_numpy(part).to(device), world).cpu().numpy()
        full = np.empty_like(gathered)
        full[pos] = gathered
        out.append(full)
    return tuple(out)


#: Before torch 2.8 the gloo process group's destructor holds the GIL while it waits for its
#: worker threads, and a worker still letting go of a collective's tensor waits for the GIL:
#: ``destroy_process_group`` hung in 3 of 6 and 3 of 8 two-process runs under torch 2.5.1, in
#: none of 10 under 2.8.0 (pytorch/pytorch#154976 releases the GIL there).
GLOO_DESTROY_FIXED = "2.8"


def shutdown() -> None:
    """End the process group, if this process started one."""
    if not dist.is_initialized():
        return
    if dist.get_backend() == "gloo" and torch.__version__ < GLOO_DESTROY_FIXED:
        # Every rank's last collective done, then time for the workers to let go of its
        # tensors before the destructor takes the GIL: no hang in 32 runs.
        dist.barrier()
        time.sleep(0.2)
    dist.destroy_process_group()


def gather_concat(x: torch.Tensor, world: int) -> torch.Tensor:
    """Concatenate each rank's ``x`` (first dims may differ) in rank order, on every rank."""
    if world == 1:
        return x
    n = torch.tensor([x.shape[0]], device=x.device)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(sizes, n)
    m = int(max(s.item() for s in sizes))
    padded = torch.zeros((m, *x.shape[1:]), dtype=x.dtype, device=x.device)
    padded[: x.shape[0]] = x
    parts = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[: int(s.item())] for p, s in zip(parts, sizes)])
