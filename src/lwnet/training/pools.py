"""Pool bookkeeping of SPI (SPEC §3.3–3.5): the rules as pure functions on arrays, and
:class:`Pools`, the state of one run that applies them.

Patches are referred to by their integer id in the run's patch table. L holds labelled patches
(with a fixed candidate label), U unlabelled ones, P pseudo-labelled ones (with a network
prediction as label).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lwnet.errors import InputError
from lwnet.training.data import PatchSet


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

    Both ``(N,)``; the candidate maximum is over every available method for the patch. τ scales
    the score as SPEC §3.5 writes it, so τ < 1 loosens the bar only where that maximum is
    positive, as it is for any sensible candidate (an SSIM sum at or below 0 means no
    structure shared with either source); the default τ = 1 reads the same either way.
    """
    return pred_scores >= tau * best_candidate_scores


def refine(pred_scores: np.ndarray, label_scores: np.ndarray) -> np.ndarray:
    """P refinement rule: mask of pseudo labels to replace (strictly better prediction only)."""
    return pred_scores > label_scores


class Pools:
    """L (fixed candidate labels), U, and P (8-bit pseudo labels with their scores)."""

    def __init__(self, ps: PatchSet, labelled: np.ndarray, unlabelled: np.ndarray) -> None:
        self.L = labelled
        self.U = unlabelled
        self.choice, self.L_scores = best_candidate(ps.cand_scores[labelled])
        self.P = np.zeros(0, dtype=np.int64)
        self.P_labels = np.zeros((0, ps.size, ps.size), dtype=np.uint8)
        self.P_scores = np.zeros(0)

    def tensors(self) -> dict[str, torch.Tensor]:
        """The pools as checkpoint tensors (``pools.*``), read back by :meth:`load`."""
        return {"pools.L": torch.from_numpy(self.L), "pools.U": torch.from_numpy(self.U),
                "pools.choice": torch.from_numpy(self.choice),
                "pools.P": torch.from_numpy(self.P),
                "pools.P_labels": torch.from_numpy(self.P_labels),
                "pools.P_scores": torch.from_numpy(self.P_scores)}

    def load(self, t: dict[str, torch.Tensor], source: Path) -> None:
        """Restore U and P from a checkpoint; L and its labels are recomputed from the seed
        and the candidates, and must equal the saved ones (else the candidates changed)."""
        if not (np.array_equal(t["pools.L"].numpy(), self.L)
                and np.array_equal(t["pools.choice"].numpy(), self.choice)):
            raise InputError(f"{source}: the labelled pool or its labels differ from those the "
                             "run started with; the label candidates or their scores changed "
                             "since (start a new run)")
        self.U = t["pools.U"].numpy()
        self.P = t["pools.P"].numpy()
        self.P_labels = t["pools.P_labels"].numpy()
        self.P_scores = t["pools.P_scores"].numpy()

    def labels(self, ps: PatchSet, items: np.ndarray) -> np.ndarray:
        """Labels of items (positions in L ∪ P = concat(L, P)), uint8 ``(n, size, size)``."""
        nl = len(self.L)
        out = np.empty((len(items), ps.size, ps.size), dtype=np.uint8)
        in_l = items < nl
        out[in_l] = ps.candidate(self.choice[items[in_l]], self.L[items[in_l]])
        out[~in_l] = self.P_labels[items[~in_l] - nl]
        return out

    def mean_label_score(self) -> float:
        """Mean score of the labels in use (L ∪ P); admitting hard patches can lower it."""
        return float(np.concatenate([self.L_scores, self.P_scores]).mean())

    def pool_label_score(self, ps: PatchSet) -> tuple[float, float]:
        """(mean, gain) of the best label every patch of the pool L ∪ U ∪ P holds.

        A patch of L holds its best candidate, of U its best candidate (its label if it were
        in L), of P its pseudo label. ``gain`` is that mean minus the mean best-candidate
        score: what SPI's pseudo labels add over every method. The denominator is fixed, so
        unlike :meth:`mean_label_score` this never falls (admission needs at least the best
        candidate's score, refinement a higher one).
        """
        n = len(self.L) + len(self.U) + len(self.P)
        best = ps.cand_scores[np.concatenate([self.L, self.U, self.P])].max(axis=1)
        gain = float((self.P_scores - ps.cand_scores[self.P].max(axis=1)).sum() / n)
        return float(best.mean()) + gain, gain

    def update(self, ps: PatchSet, preds: np.ndarray, scores: np.ndarray,
               tau: float) -> tuple[int, int]:
        """Apply the screening rules to predictions of concat(U, P); returns (admitted, refined)."""
        nu = len(self.U)
        adm = admit(scores[:nu], ps.cand_scores[self.U].max(axis=1), tau)
        ref = refine(scores[nu:], self.P_scores)
        self.P_labels = self.P_labels.copy()
        self.P_labels[ref] = preds[nu:][ref]
        self.P_scores = np.where(ref, scores[nu:], self.P_scores)
        new_p = np.concatenate([self.P, self.U[adm]])
        order = np.argsort(new_p, kind="stable")
        self.P = new_p[order]
        self.P_labels = np.concatenate([self.P_labels, preds[:nu][adm]])[order]
        self.P_scores = np.concatenate([self.P_scores, scores[:nu][adm]])[order]
        self.U = self.U[~adm]
        return int(adm.sum()), int(ref.sum())
