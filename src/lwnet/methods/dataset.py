"""Running fusion methods over a whole dataset, in parallel, resumably."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from lwnet.data.colour import fuse_in_luma
from lwnet.data.datasets import ImagePair, harvard_pairs
from lwnet.data.io import check_same_size, read_image, write_image
from lwnet.errors import OutputExistsError
from lwnet.methods.registry import FuseFn, get_method


@dataclass(frozen=True)
class DatasetRun:
    """What :func:`fuse_dataset` did: outputs written and outputs left as they were."""

    written: int
    skipped: int


def output_path(out: str | os.PathLike[str], method: str, pair_type: str, pair_id: str) -> Path:
    """``<out>/<method>/<pair_type>/<id>.png``, the layout :class:`ExternalMethod` reads."""
    return Path(out) / method / pair_type / f"{pair_id}.png"


def fuse_dataset(
    methods: Sequence[str],
    root: str | os.PathLike[str],
    pair_type: str,
    out: str | os.PathLike[str],
    *,
    split: str | None = None,
    jobs: int = 1,
    redo: bool = False,
    luma: bool = False,
    progress: bool = True,
) -> DatasetRun:
    """Fuse every pair of a Harvard-layout dataset with each of ``methods``.

    Writes ``<out>/<method>/<pair_type>/<id>.png``: the colour result (SPEC §1), or with
    ``luma`` the fused luminance (what training and external folders use). Existing outputs are
    skipped unless ``redo``, so an interrupted run resumes; every write is atomic.

    Args:
        methods: registry names (unknown names raise before any work starts).
        root: Harvard-layout root, e.g. ``<data>/harvard``.
        pair_type: e.g. ``"SPECT-MRI"``.
        out: output root.
        split: restrict to the ids of ``splits/<pair_type>_<split>.txt``.
        jobs: worker processes (1 runs in this process).
        redo: recompute and replace existing outputs.
        luma: write the fused luminance instead of the colour result.
        progress: show a tqdm bar over pairs.
    """
    fns = {name: get_method(name) for name in methods}
    tasks, skipped = [], 0
    for pair in harvard_pairs(root, pair_type, split):
        todo = [(fns[m], str(output_path(out, m, pair_type, pair.id))) for m in methods]
        if not redo:
            todo = [(fn, path) for fn, path in todo if not os.path.exists(path)]
        skipped += len(methods) - len(todo)
        if todo:
            tasks.append((pair, todo))

    written = 0
    bar = tqdm(total=len(tasks), desc=f"fuse {pair_type}", unit="pair", disable=not progress)
    with bar:
        if jobs <= 1:
            for pair, todo in tasks:
                n = _fuse_pair(pair, todo, luma, redo)
                written += n
                skipped += len(todo) - n
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=jobs, initializer=_single_thread) as pool:
                futures = {pool.submit(_fuse_pair, pair, todo, luma, redo): todo
                           for pair, todo in tasks}
                for future in as_completed(futures):
                    n = future.result()
                    written += n
                    skipped += len(futures[future]) - n
                    bar.update()
    return DatasetRun(written=written, skipped=skipped)


def _single_thread() -> None:
    # Workers already run in parallel; nested BLAS/OpenMP threads would only oversubscribe.
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def _fuse_pair(pair: ImagePair, todo: list[tuple[FuseFn, str]], luma: bool, redo: bool) -> int:
    """Fuse one pair with several methods; returns how many outputs were written."""
    a, b = read_image(pair.a), read_image(pair.b)
    check_same_size(a, b, pair.a, pair.b)
    written = 0
    for fn, path in todo:
        result, fused_luma = fuse_in_luma(fn, a, b)
        try:
            write_image(path, fused_luma if luma else result, overwrite=redo)
        except OutputExistsError:
            continue  # another run wrote it meanwhile: keep theirs
        written += 1
    return written
