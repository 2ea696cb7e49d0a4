"""Fusion sources addressed by (pair type, id): external result folders and built-in methods.

Evaluation and SPI label building ask every method the same question — "the fused luminance of
pair ``id`` of ``pair_type``" — through :class:`FusionSource`. An external method is a results
folder laid out ``<Method>/<PAIR>/<id>.png`` (e.g. ``../shared/data/external/IFCNN``); a
built-in method computes the answer from a Harvard-layout data root.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from lwnet.data.colour import fuse_in_luma, split_luma
from lwnet.data.datasets import modality_folders
from lwnet.data.io import check_same_size, read_image
from lwnet.errors import InputError
from lwnet.methods.registry import get_method


class FusionSource(Protocol):
    """Anything that yields a fused luminance for a pair of a dataset."""

    name: str

    def luma(self, pair_type: str, pair_id: str) -> np.ndarray:
        """Fused luminance, float32 ``(H, W)`` in [0, 1]."""
        ...


class ExternalMethod:
    """Fused results of one method stored as ``<folder>/<PAIR>/<id>.png``.

    Args:
        folder: the method's folder; its name is the method's name.
        suffix: file extension of the results.
    """

    def __init__(self, folder: str | os.PathLike[str], suffix: str = ".png") -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: no such method results folder")
        self.name = self.folder.name
        self.suffix = suffix

    def __repr__(self) -> str:
        return f"ExternalMethod({str(self.folder)!r})"

    def pair_types(self) -> list[str]:
        """Pair-type subfolders present for this method."""
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir())

    def path(self, pair_type: str, pair_id: str) -> Path:
        """Where the result for ``(pair_type, pair_id)`` lives (it may not exist)."""
        return self.folder / pair_type / f"{pair_id}{self.suffix}"

    def luma(self, pair_type: str, pair_id: str) -> np.ndarray:
        """The stored result's luminance, float32 ``(H, W)`` in [0, 1].

        Raises:
            InputError: the file is missing or unreadable (the message names it).
        """
        path = self.path(pair_type, pair_id)
        if not path.is_file():
            raise InputError(f"{path}: no result of method {self.name} for this pair")
        return split_luma(read_image(path))[0]


class BuiltinMethod:
    """A registered fusion method applied to the pairs of a Harvard-layout root.

    Args:
        name: registry name (see :func:`lwnet.methods.method_names`).
        root: Harvard-layout root, e.g. ``<data>/harvard``.
    """

    def __init__(self, name: str, root: str | os.PathLike[str]) -> None:
        self.fn = get_method(name)
        self.name = name
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"BuiltinMethod({self.name!r}, {str(self.root)!r})"

    def luma(self, pair_type: str, pair_id: str) -> np.ndarray:
        """Fuse the MRI with the luminance of the other image of the pair; float32 ``(H, W)``."""
        a_dir, b_dir = modality_folders(self.root, pair_type)
        a_path, b_path = _find(a_dir, pair_id), _find(b_dir, pair_id)
        a, b = read_image(a_path), read_image(b_path)
        check_same_size(a, b, a_path, b_path)
        return fuse_in_luma(self.fn, a, b)[1]


def _find(folder: Path, pair_id: str) -> Path:
    matches = sorted(folder.glob(f"{pair_id}.*"))
    if not matches:
        raise InputError(f"{folder / pair_id}.*: no such image")
    return matches[0]


def external_methods(root: str | os.PathLike[str]) -> list[ExternalMethod]:
    """Every method folder under ``root`` (folders that hold at least one pair-type folder)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder of external methods")
    return [
        ExternalMethod(p) for p in sorted(root.iterdir())
        if p.is_dir() and any(q.is_dir() for q in p.iterdir())
    ]
