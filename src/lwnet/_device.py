"""Torch devices named by users (``--device``): parsed and checked with a clear error."""

from __future__ import annotations

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
    available = {"cpu": lambda: True, "cuda": torch.cuda.is_available,
                 "mps": torch.backends.mps.is_available}.get(device.type)
    if available is None or not available():
        raise ConfigError(f"device {device}: not available on this machine")
    if device.type == "cuda" and device.index is not None and (
            device.index >= torch.cuda.device_count()):
        raise ConfigError(f"device {device}: this machine has {torch.cuda.device_count()} "
                          "CUDA device(s)")
    return device
