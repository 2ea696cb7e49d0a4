"""Screening in SPI (SPEC §3.4–3.5): network predictions of patches and the scores of
predictions and label candidates, sharded over ranks and chunked over worker processes.

Every fused patch is scored as it would be saved, in 8 bits, so a pseudo label and a candidate
are compared on the same footing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from lwnet._code import code_digest
from lwnet._text import Progress, counted, tracked
from lwnet.data.io import to_uint8
from lwnet.parallel import INLINE, Workers
from lwnet.training import distributed as ddp
from lwnet.training.candidates import content_key, save_array
from lwnet.training.config import TrainConfig
from lwnet.training.data import PatchSet, to_tensor
from lwnet.training.score import Score

#: Modules whose code makes the candidate scores (part of the score cache's key); the 8-bit
#: rounding (lwnet.data.io) and luma (lwnet.data.colour) included.
SCORE_CODE = ("lwnet.metrics", "lwnet.training.score", "lwnet.data.io", "lwnet.data.colour")
# Patches per scoring call: score_batches' batches and score_patches' worker chunks alike, so
# results never depend on the number of workers.
SCORE_BATCH = 64


def _quantise(f: torch.Tensor) -> np.ndarray:
    """Network output ``(n, 1, H, W)`` in [0, 1] → 8-bit ``(n, H, W)``, as every label is held
    (rounded exactly as a saved PNG would be)."""
    return to_uint8(f.detach().cpu().numpy()[:, 0])


def score_batches(score: Score, f: np.ndarray, a: torch.Tensor, b: torch.Tensor,
                  batch: int = SCORE_BATCH) -> np.ndarray:
    """Score uint8 fused patches ``(n, H, W)`` against sources ``(n, 1, H, W)`` → ``(n,)``."""
    out = [score(to_tensor(f[i:i + batch]), a[i:i + batch], b[i:i + batch]).double().numpy()
           for i in range(0, len(f), batch)]
    return np.concatenate(out) if out else np.zeros(0)


def _score_stack(score: Score, fused: np.ndarray, a8: np.ndarray, b8: np.ndarray) -> np.ndarray:
    """Score K fused versions ``(K, n, H, W)`` uint8 of n patches with sources ``(n, H, W)``
    uint8 → ``(n, K)``."""
    a, b = to_tensor(a8), to_tensor(b8)
    return np.stack([score_batches(score, f, a, b) for f in fused], axis=1)


def score_patches(score: Score, ps: PatchSet, ids: np.ndarray,
                  fused: Callable[[int, int], np.ndarray], workers: Workers = INLINE,
                  progress: Progress = "off", desc: str = "") -> np.ndarray:
    """Score K fused versions of the patches ``ids`` → ``(len(ids), K)``, chunk by chunk in
    ``workers``; ``fused(lo, hi)`` gives those of ``ids[lo:hi]``, ``(K, hi − lo, H, W)`` uint8.

    Chunks of :data:`SCORE_BATCH` patches are :func:`score_batches`' batches, so the values
    do not depend on the number of workers."""
    n = SCORE_BATCH
    starts = range(0, len(ids), n)
    jobs = ((score, fused(s, s + n), *ps.sources8(ids[s:s + n])) for s in starts)
    parts = tracked(workers.map(_score_stack, jobs), len(ids), desc, "patch", progress, count=len)
    return np.concatenate(list(parts)) if len(starts) else np.zeros((0, len(fused(0, 0))))


def cached_candidate_scores(cfg: TrainConfig, ps: PatchSet, score: Score, cache_dir: Path,
                            rank: int, world: int, device: torch.device, progress: Progress,
                            workers: Workers = INLINE) -> np.ndarray:
    """:func:`candidate_scores` of every patch ``(P, K)``, for the initial labels and the
    admission bar, cached on disk under a key of the score, the patches and the metric code."""
    key = content_key([ps.a, ps.b, ps.cands, ps.index],
                      [cfg.score, repr(cfg.score_weights()), str(ps.size), *ps.names,
                       code_digest(SCORE_CODE)])
    path = cache_dir / cfg.pair_type / f"scores-{cfg.score}-{key}.npy"
    if ddp.all_ranks(path.is_file(), world):
        return np.load(path, allow_pickle=False)
    scores = candidate_scores(ps, score, np.arange(len(ps.index)), rank, world, device,
                              progress, workers)
    if rank == 0:
        save_array(path, scores)
    return scores


def predict(model: torch.nn.Module, ps: PatchSet, ids: np.ndarray, device: torch.device,
            batch: int = 16) -> np.ndarray:
    """8-bit network predictions ``(n, size, size)`` for patches ``ids``."""
    out = np.empty((len(ids), ps.size, ps.size), dtype=np.uint8)
    model.eval()
    with torch.no_grad():
        for s in range(0, len(ids), batch):
            a, b = ps.sources(ids[s:s + batch])
            out[s:s + batch] = _quantise(model(a.to(device), b.to(device)))
    model.train()
    return out


def screen(model: torch.nn.Module, ps: PatchSet, score: Score, ids: np.ndarray, rank: int,
           world: int, device: torch.device,
           workers: Workers = INLINE) -> tuple[np.ndarray, np.ndarray]:
    """Predict and score patches ``ids``, sharded over ranks; every rank gets all results.

    Returns (8-bit predictions ``(n, size, size)``, scores ``(n,)``) in the order of ``ids``.
    """
    def predict_and_score(sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pred = predict(model, ps, sel, device)
        return pred, score_patches(score, ps, sel, lambda lo, hi: pred[None, lo:hi],
                                   workers)[:, 0]
    preds, scores = ddp.sharded(predict_and_score, ids, rank, world, device)
    return preds, scores


def candidate_scores(ps: PatchSet, score: Score, ids: np.ndarray, rank: int, world: int,
                     device: torch.device, progress: Progress,
                     workers: Workers = INLINE) -> np.ndarray:
    """The score of every candidate on patches ``ids``, sharded over ranks → ``(n, K)``."""
    desc = f"scoring {counted(len(ps.names), 'candidate')}" + (
        f", this process's share of {len(ids)} patches" if world > 1 else "")

    def score_all(sel: np.ndarray) -> tuple[np.ndarray]:
        def candidates(lo: int, hi: int) -> np.ndarray:
            chunk = sel[lo:hi]
            return np.stack([ps.candidate(np.full(len(chunk), k), chunk)
                             for k in range(len(ps.names))])
        return (score_patches(score, ps, sel, candidates, workers, progress, desc),)
    return ddp.sharded(score_all, ids, rank, world, device)[0]
