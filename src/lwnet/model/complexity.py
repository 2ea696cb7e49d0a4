"""Structural complexity of a fusion network: parameters, MACs and latency (SPEC §2, §6).

MACs are counted with :class:`torch.utils.flop_counter.FlopCounterMode` (MACs = FLOPs / 2),
which covers convolutions (depthwise included, via the weight shape) and the attention matrix
products; element-wise operations (activations, softmax, normalisation) are not counted, as
is usual in the fusion literature.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lwnet._device import resolve_device


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _pair(size: Sequence[int], batch: int, device: torch.device | str) -> tuple[torch.Tensor, ...]:
    """A random (a, b) pair batch of shape ``(batch, 1, H, W)`` on ``device``."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand((2, batch, 1, *size), generator=gen)
    return a.to(device), b.to(device)


def count_macs(model: nn.Module, size: Sequence[int] = (256, 256), batch: int = 1) -> int:
    """Multiply-accumulates of one forward pass on a ``batch`` of ``size`` (H, W) pairs."""
    device = next(model.parameters()).device
    a, b = _pair(size, batch, device)
    counter = FlopCounterMode(display=False)
    # no_grad, not inference_mode: under inference_mode torch 2.5's counter sees no
    # convolutions (0 MACs for a model without attention); the count is the same in both.
    with torch.no_grad(), counter:
        model(a, b)
    return counter.get_total_flops() // 2


@contextmanager
def _num_threads(threads: int | None) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def measure_latency(
    model: nn.Module | Callable[[torch.Tensor, torch.Tensor], object],
    size: Sequence[int] = (256, 256), batch: int = 1, device: torch.device | str = "cpu",
    threads: int | None = 2, warmup: int = 5, repeats: int = 30,
) -> list[float]:
    """Wall-clock seconds of ``repeats`` forward passes after ``warmup`` untimed ones.

    ``model`` is a module or any ``(a, b) -> f`` on tensors of ``device`` (an
    :class:`lwnet.inference.onnx.OnnxFuser`, whose own thread count then applies). Runs under
    ``torch.inference_mode()``; on CUDA each pass is synchronised.
    """
    device = resolve_device(device)
    if isinstance(model, nn.Module):
        model = model.to(device).eval()
    a, b = _pair(size, batch, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    with _num_threads(threads), torch.inference_mode():
        for i in range(warmup + repeats):
            sync()
            start = time.perf_counter()
            model(a, b)
            sync()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return times


def profile_model(
    model: nn.Module, size: Sequence[int] = (256, 256), batch: int = 1,
    device: torch.device | str = "cpu", threads: int | None = 2, warmup: int = 5,
    repeats: int = 30,
) -> dict[str, Any]:
    """Parameters, MACs per pair and median latency, measured in one call.

    Returns a dict with ``params``, ``macs_per_pair`` (at ``size``), ``latency_ms`` (median
    time of one batch), ``latency_min_ms`` (fastest batch: on a loaded shared machine the
    least disturbed figure), ``ms_per_pair``, ``pairs_per_s`` and the settings used.
    """
    model = model.eval()
    times = measure_latency(model, size, batch, device, threads, warmup, repeats)
    median = statistics.median(times)
    return {
        "params": count_parameters(model),
        "macs_per_pair": count_macs(model, size, 1),
        "latency_ms": 1000 * median,
        "latency_min_ms": 1000 * min(times),
        "ms_per_pair": 1000 * median / batch,
        "pairs_per_s": batch / median,
        "size": tuple(size), "batch": batch, "device": str(device),
        "threads": threads or torch.get_num_threads(), "repeats": repeats,
    }
