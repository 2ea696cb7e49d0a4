"""Pool bookkeeping of SPI as pure functions on arrays (SPEC §3.3–3.5).

Patches are referred to by their integer id in the run's patch table. L holds labelled patches
(with a fixed candidate label), U unlabelled ones, P pseudo-labelled ones (with a network
prediction as label).
"""

from __future__ import annotations

import numpy as np


def split_pools(n_patches: int, n_labelled: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of ``range(n_patches)`` into sorted (L, U) id arrays."""
    perm = np.random.default_rng(seed).permutation(n_patches)
    return np.sort(perm[:n_labelled]), np.sort(perm[n_labelled:])


def best_candidate(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Initial labels: per patch the candidate of highest score.

    ``scores`` ``(P, K)`` → (index ``(P,)`` of the best candidate (first on ties), its score).
    """
    idx = np.argmax(scores, axis=1)
    return idx, scores[np.arange(len(scores)), idx]


def admit(pred_scores: np.ndarray, best_candidate_scores: np.ndarray, tau: float) -> np.ndarray:
    """U → P rule: mask of patches whose prediction scores s(ŷ) ≥ τ · max_m s(F_m).

    Both ``(N,)``; the candidate maximum is over every available method for the patch.
    """
    return pred_scores >= tau * best_candidate_scores


def refine(pred_scores: np.ndarray, label_scores: np.ndarray) -> np.ndarray:
    """P refinement rule: mask of pseudo labels to replace (strictly better prediction only)."""
    return pred_scores > label_scores
