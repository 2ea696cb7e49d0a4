"""Data layer: image I/O, colour conversion and dataset discovery."""

from lwnet._files import atomic_write_bytes, remove_stale_temps
from lwnet.data.colour import (
    fuse_in_luma,
    luma8,
    merge_luma,
    rgb_to_ycbcr,
    split_luma,
    ycbcr_to_rgb,
)
from lwnet.data.datasets import ImagePair, folder_pairs, harvard_pairs, read_split, sample_root
from lwnet.data.io import (
    BACKGROUND_LEVEL,
    MIN_SIDE,
    as_float_image,
    check_fusion_pair,
    check_same_size,
    read_fusion_pair,
    read_image,
    to_uint8,
    write_image,
)

__all__ = [
    "BACKGROUND_LEVEL",
    "MIN_SIDE",
    "ImagePair",
    "as_float_image",
    "atomic_write_bytes",
    "check_fusion_pair",
    "check_same_size",
    "folder_pairs",
    "fuse_in_luma",
    "harvard_pairs",
    "luma8",
    "merge_luma",
    "read_fusion_pair",
    "read_image",
    "read_split",
    "remove_stale_temps",
    "rgb_to_ycbcr",
    "sample_root",
    "split_luma",
    "to_uint8",
    "write_image",
    "ycbcr_to_rgb",
]
