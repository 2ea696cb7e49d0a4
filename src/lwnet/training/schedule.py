"""Learning-rate schedules: the rate as a pure function of training progress.

The rate depends only on how far the run is (a fraction of its T × E epochs), so a resumed run
sets exactly the rate an uninterrupted one had, with no scheduler state to checkpoint.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine")


def learning_rate(schedule: str, lr: float, lr_min: float, progress: float) -> float:
    """The rate at ``progress`` ∈ [0, 1] of the run.

    ``constant``: ``lr`` throughout (SPEC §3: Adam at a fixed rate). ``cosine``: half a cosine
    from ``lr`` at the start to ``lr_min`` at the end (Loshchilov & Hutter, "SGDR: Stochastic
    gradient descent with warm restarts", ICLR 2017, eq. 5, one cycle without restarts).
    """
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        p = min(max(progress, 0.0), 1.0)
        return lr_min + 0.5 * (lr - lr_min) * (1.0 + math.cos(math.pi * p))
    raise ValueError(f"unknown learning-rate schedule {schedule!r}; expected one of {SCHEDULES}")
