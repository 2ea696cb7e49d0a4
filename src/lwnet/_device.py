"""Torch devices named by users (``--device``): parsed and checked with a clear error."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

from lwnet.errors import ConfigError


def resolve_device(device: str | torch.device) -> torch.device:
    """``torch.device(device)``, raising :class:`ConfigError` for a name torch does not know
    or an accelerator this machine lacks (``cuda`` without CUDA, ``mps`` without Metal)."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device {device!r}: not a torch device (cpu, cuda, cuda:1, mps, "
                          "...)") from None
    checks: dict[str, Callable[[], bool]] = {"cpu": lambda: True, "cuda": torch.cuda.is_available,
                                             "mps": torch.backends.mps.is_available}
    available = checks.get(device.type)
    if available is None or not available():
        raise ConfigError(f"device {device}: not available on this machine")
    if device.type == "cuda" and device.index is not None and (
            device.index >= torch.cuda.device_count()):
        raise ConfigError(f"device {device}: this machine has {torch.cuda.device_count()} "
                          "CUDA device(s)")
    return device


def use_deterministic(device: torch.device) -> None:
    """``torch.use_deterministic_algorithms(True)``, with the fixed cuBLAS workspace that
    deterministic cuBLAS needs on CUDA ≥ 10.2 (without it the first batched matrix product
    raises). cuBLAS reads the setting when it starts, so call this before the first product."""
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
