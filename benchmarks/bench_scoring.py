"""SPI candidate scoring in worker processes: seconds and speed-up against one process.

Scores every candidate of a seeded sample of training-pool patches with one SPI score, once per
``--workers`` value, checks that every run gives the same values, and prints the time of each.
Candidates come from (or go to) ``--cache-dir``.

    python benchmarks/bench_scoring.py --pair-type CT-MRI --score ssim_vif_qcb --patches 512 \
        --workers 1 2 --cache-dir /work/runs/cache
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from lwnet.parallel import Workers, usable_cpus
from lwnet.training.config import PRESETS, SCORES, TrainConfig
from lwnet.training.data import sample_patch_set
from lwnet.training.score import get_score
from lwnet.training.screening import candidate_scores


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pair-type", default="SPECT-MRI")
    p.add_argument("--score", default="ssim_vif", choices=SCORES)
    p.add_argument("--patches", type=int, default=512, help="seeded sample of the cpu pool")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--cache-dir", type=Path, required=True)
    args = p.parse_args()
    torch.set_num_threads(1)

    ps = sample_patch_set(TrainConfig(pair_type=args.pair_type, **PRESETS["cpu"]), args.patches,
                          args.cache_dir)
    chosen, names = ps.index, ps.names
    score = get_score(args.score)
    print(f"{args.pair_type}, {args.score}, {len(chosen)} patches × {len(names)} candidates; "
          f"{usable_cpus()} usable CPUs, load average {os.getloadavg()[0]:.1f}")
    print("| workers | seconds | ms per candidate score | speed-up |\n|---:|---:|---:|---:|")
    first, base = None, None
    for jobs in args.workers:
        with Workers(jobs) as workers:  # process start-up is counted: a run pays it too
            t0 = time.perf_counter()
            values = candidate_scores(ps, score, np.arange(len(chosen)), 0, 1,
                                      torch.device("cpu"), "off", workers)
            seconds = time.perf_counter() - t0
        first = values if first is None else first
        if not np.array_equal(values, first):
            raise SystemExit(f"workers={jobs}: scores differ from workers={args.workers[0]}")
        base = base or seconds
        print(f"| {jobs} | {seconds:.1f} | {1e3 * seconds / values.size:.2f} | "
              f"{base / seconds:.2f}× |")


if __name__ == "__main__":
    main()
