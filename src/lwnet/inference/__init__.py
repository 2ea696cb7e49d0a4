"""Inference with LWNet: weights I/O and the ``fuse`` Python API."""

from lwnet.inference.api import (
    WEIGHTS_DIR,
    default_pair_type,
    fuse,
    fuse_batch,
    load_model,
    network_method,
    shipped_weights,
)
from lwnet.inference.weights import (
    FORMAT_VERSION,
    card_path,
    load_weights,
    read_card,
    read_weights,
    render_card,
    save_weights,
)

__all__ = [
    "FORMAT_VERSION",
    "WEIGHTS_DIR",
    "card_path",
    "default_pair_type",
    "fuse",
    "fuse_batch",
    "load_model",
    "load_weights",
    "network_method",
    "read_card",
    "read_weights",
    "render_card",
    "save_weights",
    "shipped_weights",
]
