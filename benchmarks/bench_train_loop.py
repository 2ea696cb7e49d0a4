"""Time per step of the SPI training loop itself, on real pairs: cutting the batch of patches
and labels, copying it to the device, the step (forward, loss, backward) and Adam.

``bench_train_step.py`` times the step alone on tensors already on the device; this script
runs ``lwnet.training.train`` (labels-only mode, one iteration, no held-out patches, the
pixel mean and maximum as the only label candidates, so that setting up takes seconds) and
times each epoch, synchronised at both ends. The first epoch includes compiling with
``--compile``; the figure is the median over the others. Steps per epoch: |L| / batch.

    PYTHONPATH=src python benchmarks/bench_train_loop.py --data-root ../shared/data/harvard \
        --pair-type CT-MRI --device cuda [--compile] [--epochs 4] [--batch 4]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from lwnet._device import resolve_device
from lwnet.training import loop
from lwnet.training.config import TrainConfig, load_config
from lwnet.training.pools import Pools
from malloc_option import add_malloc_option, apply_malloc_option, freed_memory_note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, help="Harvard-layout folder of pairs")
    parser.add_argument("--pair-type", default="CT-MRI")
    parser.add_argument("--split", default="train", help='"" = every pair')
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--labelled", type=float, default=1.0,
                        help="|L| as a fraction of the patches (default: all)")
    parser.add_argument("--cache-dir", default="",
                        help="candidate and score cache shared by runs (default: a new one)")
    add_malloc_option(parser)
    args = parser.parse_args()
    kept = apply_malloc_option(args)
    device = resolve_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    seconds: list[float] = []
    steps: list[int] = []
    timed = loop._train_epoch

    def timed_epoch(cfg: TrainConfig, step: Any, opt: Any, ps: Any, pools: Pools,
                    *rest: Any) -> float:
        sync()
        start = time.perf_counter()
        loss = timed(cfg, step, opt, ps, pools, *rest)
        sync()
        seconds.append(time.perf_counter() - start)
        steps.append(math.ceil((len(pools.L) + len(pools.P)) / cfg.batch_size))
        return loss

    loop._train_epoch = timed_epoch
    cfg = load_config(preset="paper", overrides=[
        f"pair_type={args.pair_type}", f"data_root={args.data_root}", f'split="{args.split}"',
        "external_root=none", 'methods=["mean", "max"]', "mode=labels_only", "iterations=1",
        f"epochs={args.epochs}", f"labelled={args.labelled}", f"batch_size={args.batch}",
        "val_patches=0", f"compile={str(args.compile).lower()}", "workers=0",
        f'cache_dir="{args.cache_dir}"'])
    with tempfile.TemporaryDirectory() as tmp:
        loop.train(cfg, Path(tmp) / "run", progress=False)
    per_step = [1000 * s / n for s, n in zip(seconds, steps)]
    print(f"torch {torch.__version__}, {device}, batch {args.batch}, "
          f"{'compiled' if args.compile else 'eager'}, {steps[0]} steps per epoch, "
          f"{freed_memory_note(kept)}")
    print("ms per step by epoch: " + ", ".join(f"{t:.2f}" for t in per_step))
    rest = per_step[1:] or per_step
    print(f"median after the first epoch: {statistics.median(rest):.2f} ms per step")


if __name__ == "__main__":
    main()
