"""External methods: fused results stored as ``<Method>/<PAIR>/<id>.png`` (or another image
suffix: ``.tif``, ``.jpg``, ...).

A results folder such as ``../shared/data/external/IFCNN`` (or one written by
``lwnet fuse --luma``) answers "the fused luminance of pair ``id`` of ``pair_type``", so SPI
label building and the benchmark treat it like a built-in method.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lwnet.data.colour import split_luma
from lwnet.data.datasets import image_files
from lwnet.data.io import read_image
from lwnet.errors import InputError


class ExternalMethod:
    """Fused results of one method stored as ``<folder>/<PAIR>/<id>.<image suffix>``.

    Args:
        folder: the method's folder; its name is the method's name.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: no such method results folder")
        self.name = self.folder.name

    def __repr__(self) -> str:
        return f"ExternalMethod({str(self.folder)!r})"

    def paths(self, pair_type: str, pair_ids: Sequence[str]) -> list[Path]:
        """Where the results for ``pair_ids`` of ``pair_type`` live: ``<id>`` with any image
        suffix, as ``lwnet evaluate`` finds results; ``<id>.png`` (not there) where there is
        none. The folder is listed once for all of them.

        Raises:
            InputError: two results of one id in the folder (``7.png`` and ``7.tif``).
        """
        folder = self.folder / pair_type
        files = image_files(folder)
        return [files.get(i, folder / f"{i}.png") for i in pair_ids]

    def path(self, pair_type: str, pair_id: str) -> Path:
        """:meth:`paths` of one id."""
        return self.paths(pair_type, [pair_id])[0]

    def read(self, pair_type: str, pair_id: str) -> np.ndarray:
        """The stored result as :func:`lwnet.data.read_image` reads it: float32 ``(H, W)`` or
        ``(H, W, 3)`` in [0, 1]; :func:`lwnet.data.luma8` of it is what the metrics score.

        Raises:
            InputError: the file is missing or unreadable (the message names it).
        """
        return self.read_file(self.path(pair_type, pair_id))

    def read_file(self, path: Path) -> np.ndarray:
        """:meth:`read` of a path :meth:`paths` gave."""
        if not path.is_file():
            raise InputError(f"{path}: no result of method {self.name} for this pair")
        return read_image(path)

    def luma(self, pair_type: str, pair_id: str) -> np.ndarray:
        """The stored result's luminance, float32 ``(H, W)`` in [0, 1] (errors as :meth:`read`)."""
        return split_luma(self.read(pair_type, pair_id))[0]


def external_methods(root: str | os.PathLike[str]) -> list[ExternalMethod]:
    """Every method folder under ``root`` (folders that hold at least one pair-type folder)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder of external methods")
    return [
        ExternalMethod(p) for p in sorted(root.iterdir())
        if p.is_dir() and any(q.is_dir() for q in p.iterdir())
    ]
