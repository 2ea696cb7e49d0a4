"""What an SPI run reads (SPEC §3.1): its training pairs and label candidates, cut into the
patch table of the run's pool and held-out patches.

The pairs come from a Harvard-layout folder (the shared data, or one's own pairs with
``split = ""``); the label candidates are the built-in methods' outputs and the external
results beside the data (:mod:`lwnet.training.candidates`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lwnet._text import Progress
from lwnet.data.datasets import ImagePair, default_data_root, harvard_pairs
from lwnet.errors import ConfigError, InputError
from lwnet.parallel import INLINE, Workers
from lwnet.training.candidates import all_candidates, load_sources
from lwnet.training.config import TrainConfig
from lwnet.training.patches import extract, grid_positions, patch_index


@dataclass
class PatchSet:
    """Sources and candidates of one pair type, and the patch table over them.

    ``a``, ``b``: ``(N, H, W)`` uint8 luma; ``cands``: ``(K, N, H, W)`` uint8; ``index``:
    ``(P, 3)`` (pair, row, col) of the patches the run uses; ``cand_scores``: ``(P, K)``.
    """

    a: np.ndarray
    b: np.ndarray
    cands: np.ndarray
    names: list[str]
    index: np.ndarray
    size: int
    cand_scores: np.ndarray

    def sources8(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sources of patches ``ids``: two ``(n, size, size)`` uint8 arrays."""
        return extract(self.a, self.index[ids], self.size), \
            extract(self.b, self.index[ids], self.size)

    def sources(self, ids: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The sources of patches ``ids`` as network input: two ``(n, 1, size, size)`` in [0, 1]."""
        a8, b8 = self.sources8(ids)
        return to_tensor(a8), to_tensor(b8)

    def candidate(self, k: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Candidate ``k[i]`` of patch ``ids[i]``: ``(n, size, size)`` uint8."""
        out = np.empty((len(ids), self.size, self.size), dtype=np.uint8)
        for j, (kk, (i, r, c)) in enumerate(zip(k, self.index[ids])):
            out[j] = self.cands[kk, i, r:r + self.size, c:c + self.size]
        return out


def to_tensor(u8: np.ndarray) -> torch.Tensor:
    """uint8 ``(n, H, W)`` → float32 ``(n, 1, H, W)`` in [0, 1]."""
    return torch.from_numpy(u8.astype(np.float32) / 255).unsqueeze(1)


def patch_table(cfg: TrainConfig, n_pairs: int,
                shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (pair, row, col) patch ``(G, 3)`` and the seeded choice of the run's pool and
    held-out validation patches (sorted row numbers into it).

    Raises :class:`ConfigError` when fewer than two patches are left for the pools, naming
    what the pairs give and a ``val_patches`` that would fit."""
    if cfg.patch_size > min(shape):
        raise ConfigError(f"config key 'patch_size': {cfg.patch_size}×{cfg.patch_size} patches "
                          f"do not fit the {shape[1]}×{shape[0]} training pairs; choose "
                          f"patch_size ≤ {min(shape)}")
    full = patch_index(n_pairs, grid_positions(shape[0], shape[1], cfg.patch_size, cfg.stride))
    perm = np.random.default_rng(cfg.seed).permutation(len(full))
    val = perm[:cfg.val_patches]
    rest = perm[cfg.val_patches:]
    pool = rest[:cfg.max_patches] if cfg.max_patches else rest
    if len(pool) < 2:
        size = f"{shape[1]}×{shape[0]}"
        pairs = f"1 pair of {size} gives" if n_pairs == 1 else f"{n_pairs} pairs of {size} give"
        given = (f"{pairs} {len(full)} patches of {cfg.patch_size}×{cfg.patch_size} "
                 f"(stride {cfg.stride})")
        if len(rest) < 2:
            raise ConfigError(f"config key 'val_patches': {given}; holding out "
                              f"{cfg.val_patches} leaves {len(rest)} to train on (at least 2 "
                              f"needed): set val_patches = {len(full) // 10} or fewer, or "
                              "train on more pairs")
        raise ConfigError(f"config key 'max_patches': {given}; max_patches = "
                          f"{cfg.max_patches} leaves {len(pool)} to train on (at least 2 "
                          "needed; 0 = every patch)")
    return full, np.sort(pool), np.sort(val)


def data_root(cfg: TrainConfig) -> Path:
    """The Harvard-layout folder a run reads: ``data_root``, or ``<$LWNET_DATA>/harvard``."""
    return Path(cfg.data_root) if cfg.data_root else default_data_root() / "harvard"


def training_pairs(cfg: TrainConfig) -> list[ImagePair]:
    """The pairs of ``pair_type`` a run trains on: the ids of ``split``, or every pair for
    ``split = ""`` (a folder of one's own pairs without a split file)."""
    root = data_root(cfg)
    try:
        return harvard_pairs(root, cfg.pair_type, cfg.split or None)
    except InputError as exc:
        if cfg.split and not (root / "splits").is_dir():
            raise InputError(f"{exc} (to train on every pair of {root / cfg.pair_type}, "
                             "set split = \"\")") from None
        raise


def external_root(cfg: TrainConfig) -> Path | None:
    """Folder of external results used as label candidates, or None.

    ``external_root = ""`` takes the ``external`` folder beside the data root when there is one
    (``$LWNET_DATA/external`` for the shared data); ``"none"`` turns them off; a folder named
    explicitly must exist.
    """
    if cfg.external_root == "none":
        return None
    if not cfg.external_root:
        beside = data_root(cfg).parent / "external"
        return beside if beside.is_dir() else None
    path = Path(cfg.external_root)
    if not path.is_dir():
        raise InputError(f"{path}: no such external results folder (config key "
                         "'external_root'; \"none\" turns external candidates off)")
    return path


def build_patch_set(cfg: TrainConfig, cache_dir: Path, workers: Workers = INLINE,
                    progress: Progress = "off") -> tuple[PatchSet, np.ndarray, np.ndarray]:
    """Load the training pairs and candidates; returns (patch set, pool ids, validation ids).
    ``progress``: how computing the candidates shows its progress. The unsupervised baseline
    gets no candidates (``names`` empty): its loss compares with the sources only.

    Only ids of ``split`` are ever read, for the sources and for external results.
    """
    pairs = training_pairs(cfg)
    a8, b8 = load_sources(pairs)
    full, pool, val = patch_table(cfg, len(pairs), a8.shape[1:])  # before any candidate
    if cfg.uses_labels:
        names, cands = all_candidates(pairs, a8, b8, cfg.methods, external_root(cfg),
                                      cache_dir / cfg.pair_type, workers, progress)
    else:
        names, cands = [], np.zeros((0, *a8.shape), np.uint8)
    order = np.concatenate([pool, val])
    ps = PatchSet(a8, b8, cands, names, full[order], cfg.patch_size, np.zeros(0))
    return ps, np.arange(len(pool)), np.arange(len(pool), len(order))


def sample_patch_set(cfg: TrainConfig, count: int, cache_dir: Path, seed: int = 1) -> PatchSet:
    """A seeded sample of ``count`` patches of the run's pool, with every label candidate and no
    scores yet: what the benchmark scripts study candidates and their scores on."""
    ps, pool, _ = build_patch_set(cfg, cache_dir)
    chosen = np.random.default_rng(seed).choice(len(pool), min(count, len(pool)), replace=False)
    return dataclasses.replace(ps, index=ps.index[pool[chosen]])
