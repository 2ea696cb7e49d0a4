"""LWNet: lightweight multimodal medical image fusion trained with SPI."""

from typing import TYPE_CHECKING, Any

from lwnet._allocator import keep_freed_memory

if TYPE_CHECKING:  # what type checkers see of the lazy names below
    from lwnet.inference import fuse, load_model

__version__ = "0.1.0"

__all__ = ["__version__", "fuse", "keep_freed_memory", "load_model"]


def __getattr__(name: str) -> Any:
    # Lazy: ``import lwnet`` stays light (no torch) until the network is asked for.
    if name in ("fuse", "load_model"):
        from lwnet import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'lwnet' has no attribute {name!r}")
