"""Streaming batch fusion: bounded memory, resumable, for thousands of image pairs.

The pipeline has three stages: a pool of reader threads decodes pairs ahead of use (at most
``prefetch`` pairs in memory), the calling thread fuses runs of same-sized pairs in batches, and
a pool of writer threads encodes and writes results atomically (at most ``prefetch`` pending).
Memory therefore depends on the batch size and the prefetch depth, never on the number of
pairs. A pair whose output already exists is skipped without reading its sources, so a run
that was stopped resumes where it stopped; atomic writes guarantee that a killed run leaves no
truncated output, and an output damaged since (one that no longer decodes) stops the run with
an error naming it rather than being taken as finished.

Fusion is any *batch fuser*: a callable ``(a, b) -> f`` on float32 arrays ``(N, H, W)`` in
[0, 1]. :func:`module_fuser` wraps a torch module, :func:`pairwise_fuser` a per-image function.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lwnet._files import atomic_write_bytes
from lwnet.data.colour import merge_luma, split_luma
from lwnet.data.datasets import ImagePair
from lwnet.data.io import check_fused, encode_image, read_fusion_pair, read_image
from lwnet.errors import InputError, OutputExistsError, require_counts

if TYPE_CHECKING:
    import torch

#: ``(a, b) -> f`` on float32 ``(N, H, W)`` arrays in [0, 1].
BatchFuser = Callable[[np.ndarray, np.ndarray], np.ndarray]


def pairwise_fuser(
    fuse: Callable[[np.ndarray, np.ndarray], np.ndarray], pool: Executor | None = None
) -> BatchFuser:
    """Batch fuser applying a per-image ``fuse(a, b)`` on ``(H, W)`` to each pair of a batch.

    With ``pool`` (e.g. a process pool, for GIL-bound numpy methods) the pairs of a batch are
    fused in parallel; ``fuse`` must then be picklable (a module-level function).
    """

    def fuse_batch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        fused = pool.map(fuse, list(a), list(b)) if pool else map(fuse, a, b)
        return np.stack([check_fused(f, a.shape[1:], fuse) for f in fused])

    return fuse_batch


def default_batch_size(backend: str) -> int:
    """Pairs per batch: 8 through PyTorch; 1 through onnxruntime, which gains nothing from
    batching on CPU (docs/benchmarks.md)."""
    return 1 if backend == "onnx" else 8


def single_pair(fuse_batch: BatchFuser,
                name: str = "") -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A batch fuser as a per-image method ``(a, b) -> f`` on ``(H, W)``: a batch of one;
    ``name`` (e.g. the weights file and its digest) names it in errors about its results."""
    one = functools.partial(_fuse_one, fuse_batch)
    if name:
        one.__name__ = name  # type: ignore[attr-defined]  # a partial takes attributes
    return one


def _fuse_one(fuse_batch: BatchFuser, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return fuse_batch(a[None], b[None])[0]


def module_fuser(model: torch.nn.Module) -> BatchFuser:
    """Batch fuser running a torch module ``model(a, b) -> f`` (``(N, 1, H, W)``) in eval mode,
    on the device of its parameters (see :func:`lwnet.inference.fuse_batch`)."""
    from lwnet.inference.api import fuse_batch

    return functools.partial(fuse_batch, model)


@dataclass(frozen=True)
class FuseJob:
    """One pair to fuse and the file its result goes to (format from the extension)."""

    pair: ImagePair
    out: Path


@dataclass
class StreamStats:
    """Progress of :func:`stream_fuse`.

    ``fused``: pairs fused; ``written``: outputs written; ``skipped``: outputs already present
    (before the run, or written meanwhile by another run, whose file is kept); ``seconds``.
    """

    fused: int = 0
    written: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def pairs_per_second(self) -> float:
        """Pairs fused per second of the run so far (0 before any time has passed)."""
        return self.fused / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Loaded:
    job: FuseJob
    a: np.ndarray
    b: np.ndarray
    chroma: np.ndarray | None


def _load(job: FuseJob, overwrite: bool) -> _Loaded | None:
    """Read a job's pair; ``None`` when its output is already there and decodes (resume)."""
    if not overwrite and job.out.exists():
        try:
            read_image(job.out)
        except InputError as exc:
            raise InputError(f"{exc}; delete it to fuse its pair again, or use --redo") from None
        return None
    a_img, b_img = read_fusion_pair(job.pair.a, job.pair.b)
    a, _ = split_luma(a_img)
    b, chroma = split_luma(b_img)
    return _Loaded(job, a, b, chroma)


def _store(item: _Loaded, fused: np.ndarray, overwrite: bool, luma: bool, bits: int,
           text: Mapping[str, str] | None) -> bool:
    result = fused if luma else merge_luma(fused, item.chroma)
    data = encode_image(result, item.job.out, bits=bits if result.ndim == 2 else 8, text=text)
    try:
        atomic_write_bytes(item.job.out, data, overwrite=overwrite)
    except OutputExistsError:
        return False  # another run wrote it meanwhile: keep theirs
    return True


def stream_fuse(
    jobs: Iterable[FuseJob],
    fuse_batch: BatchFuser,
    *,
    batch_size: int = 8,
    readers: int = 2,
    writers: int = 2,
    prefetch: int = 16,
    overwrite: bool = False,
    luma: bool = False,
    bits: int = 8,
    text: Mapping[str, str] | None = None,
    progress: Callable[[StreamStats], None] | None = None,
) -> StreamStats:
    """Fuse ``jobs`` through the bounded read → fuse → write pipeline.

    Images are fused through their luminance and put back with the functional image's chroma
    (SPEC §1); with ``luma`` the fused luminance itself is written. ``bits`` (8 or 16) applies
    to greyscale outputs, ``text`` (what made them) to every output, as
    :func:`lwnet.data.io.encode_image` stores it. Without ``overwrite``, jobs whose output exists
    are skipped (resume).
    ``jobs`` may be a lazy iterable; consecutive pairs of one size form a batch of at most
    ``batch_size``. Errors (unreadable input, size mismatch) stop the run after the results
    already fused are written, and propagate. ``progress`` is called after each batch.
    """
    require_counts(batch_size=batch_size, readers=readers, writers=writers, prefetch=prefetch)
    stats = StreamStats()
    start = time.perf_counter()
    reads: deque[Future[_Loaded | None]] = deque()
    writes: deque[Future[bool]] = deque()
    batch: list[_Loaded] = []

    def settle() -> None:
        if writes.popleft().result():
            stats.written += 1
        else:
            stats.skipped += 1

    def flush() -> None:
        fused = fuse_batch(np.stack([it.a for it in batch]), np.stack([it.b for it in batch]))
        for item, f in zip(batch, fused):
            while len(writes) >= prefetch:
                settle()
            writes.append(write_pool.submit(_store, item, f, overwrite, luma, bits, text))
        stats.fused += len(batch)
        batch.clear()
        if progress is not None:
            stats.seconds = time.perf_counter() - start
            progress(stats)

    def take_one() -> None:
        item = reads.popleft().result()
        if item is None:
            stats.skipped += 1
            return
        if batch and (item.a.shape != batch[0].a.shape or len(batch) == batch_size):
            flush()
        batch.append(item)

    with ThreadPoolExecutor(readers, "lwnet-read") as read_pool, \
            ThreadPoolExecutor(writers, "lwnet-write") as write_pool:
        try:
            for job in jobs:
                if len(reads) >= prefetch:
                    take_one()
                reads.append(read_pool.submit(_load, job, overwrite))
            while reads:
                take_one()
            if batch:
                flush()
            while writes:
                settle()
        finally:
            for fut in reads:
                fut.cancel()
            # Let pending writes finish: each is atomic, and a finished result is progress kept.
            for written in writes:
                written.exception()
    stats.seconds = time.perf_counter() - start
    return stats
