"""Inference: the shipped weights, the ``fuse`` Python API, and fusing whole datasets,
folders or volumes with the network or any classical method. The weights file format and the
shipped weights' registry (:mod:`lwnet.model.weights`) are re-exported here, where users load
and save models."""

from lwnet.inference.api import (
    default_pair_type,
    fuse,
    fuse_batch,
    load_model,
    network_fuser,
    network_method,
)
from lwnet.inference.dataset import (
    fuse_dataset,
    fuse_file_pair,
    fuse_folders,
    fuse_pairs,
    output_path,
)
from lwnet.inference.volume import VolumeOptions, fuse_slices, fuse_volume_files
from lwnet.methods.registry import NETWORK
from lwnet.model.weights import (
    FORMAT_VERSION,
    SHIPPED_MODELS,
    WEIGHTS_DIR,
    card_path,
    load_weights,
    read_card,
    read_weights,
    render_card,
    save_weights,
    shipped_weights,
)

__all__ = [
    "FORMAT_VERSION",
    "NETWORK",
    "SHIPPED_MODELS",
    "VolumeOptions",
    "WEIGHTS_DIR",
    "card_path",
    "default_pair_type",
    "fuse",
    "fuse_batch",
    "fuse_dataset",
    "fuse_file_pair",
    "fuse_folders",
    "fuse_pairs",
    "fuse_slices",
    "fuse_volume_files",
    "load_model",
    "load_weights",
    "network_fuser",
    "network_method",
    "output_path",
    "read_card",
    "read_weights",
    "render_card",
    "save_weights",
    "shipped_weights",
]
