"""Worker for test_training_loop: one SPI screening round, single process or under torchrun.

Usage: python spi_screen_worker.py OUT.npz  (rank 0 writes the resulting pools).
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from lwnet.model import LWNet
from lwnet.training import distributed as ddp
from lwnet.training.data import PatchSet
from lwnet.training.pools import Pools
from lwnet.training.score import ssim_sum
from lwnet.training.screening import screen


def main(out: str) -> None:
    rank, world, device = ddp.init()
    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    n, size = 30, 32
    yy, xx = np.mgrid[:size, :size]
    a = np.stack([((np.sin(xx / (2 + i % 5)) + 1) * 100).astype(np.uint8) for i in range(n)])
    b = np.stack([((np.cos(yy / (3 + i % 4)) + 1) * 90).astype(np.uint8) for i in range(n)])
    cands = np.stack([((a.astype(int) + b) // 2).astype(np.uint8), np.maximum(a, b)])
    index = np.stack([np.arange(n), np.zeros(n, int), np.zeros(n, int)], axis=1)
    # Varied admission bars so that some patches pass and some do not.
    scores = rng.uniform(-0.5, 1.0, (n, 2))
    ps = PatchSet(a, b, cands, ["mean", "max"], index, size, scores)
    torch.manual_seed(0)
    model = LWNet(width=4)
    pools = Pools(ps, np.arange(0, n, 3), np.setdiff1d(np.arange(n), np.arange(0, n, 3)))
    decisions = []
    for _ in range(2):
        ids = np.concatenate([pools.U, pools.P])
        preds, sc = screen(model, ps, ssim_sum, ids, rank, world, device)
        decisions.append(pools.update(ps, preds, sc, tau=1.0))
        with torch.no_grad():  # a different network for the second round
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
    if rank == 0:
        np.savez(out, P=pools.P, U=pools.U, labels=pools.P_labels, scores=pools.P_scores,
                 decisions=np.array(decisions))
    ddp.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
