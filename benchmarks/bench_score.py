"""Held-out comparison of SPI runs (e.g. ``ssim_sum`` vs ``ssim_vif`` score), SPEC §3.2.

Evaluates each run's final weights on the held-out training patches of the first run's config
(``val_patches``, never used for training or screening): mean SSIM(f, a) + SSIM(f, b), and the
means of fusion VIFF, Chen–Blum Qcb and UQI on the 8-bit patch; for every run after the first,
the paired difference to the first with its standard error. Every run must hold out the same
patches (same data, pair type, split, patch grid, seed and ``val_patches``): a run with another
seed, say, may have trained on the first run's held-out patches, and is refused.

    python benchmarks/bench_score.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import numpy as np

from lwnet.evaluation import paired_difference
from lwnet.inference import load_model
from lwnet.metrics import fusion_uqi
from lwnet.training.candidates import load_sources
from lwnet.training.config import TrainConfig, read_run_config
from lwnet.training.data import PatchSet, data_root, patch_table, training_pairs
from lwnet.training.score import per_patch, qcb_fusion, ssim_sum, vif_fusion
from lwnet.training.screening import predict, score_batches

# What decides a run's held-out patches (lwnet.training.data.patch_table) and the data under them.
HELD_OUT_KEYS = ("pair_type", "split", "patch_size", "stride", "seed", "val_patches")


def held_out(cfg: TrainConfig) -> dict[str, object]:
    return {"data": str(data_root(cfg).resolve()),
            **{k: getattr(cfg, k) for k in HELD_OUT_KEYS}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    args = p.parse_args()
    cfg = read_run_config(args.runs[0])
    # Another seed, split or grid holds out other patches, and may have trained on these.
    first = held_out(cfg)
    for run in args.runs[1:]:
        differ = [f"{k} {v!r} vs {first[k]!r}"
                  for k, v in held_out(read_run_config(run)).items() if v != first[k]]
        if differ:
            raise SystemExit(f"{run}: held out other patches than {args.runs[0]} "
                             f"({'; '.join(differ)}), so it may have trained on the patches "
                             "this script scores")
    a8, b8 = load_sources(training_pairs(cfg))
    full, _, val = patch_table(cfg, len(a8), a8.shape[1:])
    ps = PatchSet(a8, b8, np.zeros((0,) + a8.shape, np.uint8), [], full[val], cfg.patch_size,
                  np.zeros(0))
    ids = np.arange(len(val))
    a, b = ps.sources(ids)
    print(f"{cfg.pair_type}: {len(val)} held-out training patches\n")
    figures = ("SSIM sum", "VIFF", "Qcb", "UQI")
    print("| run | score | width | " + " | ".join(f"mean {n}" for n in figures) + " |\n"
          "|---|---|---|---|---|---|---|")
    per_run: list[np.ndarray] = []
    for run in args.runs:
        run_cfg = read_run_config(run)
        model = load_model(run / "weights.safetensors")
        f = predict(model, ps, ids, "cpu")
        values = np.stack([score_batches(fn, f, a, b) for fn in (
            ssim_sum, vif_fusion, qcb_fusion, partial(per_patch, fusion_uqi))])
        per_run.append(values)
        means = " | ".join(f"{m:.4f}" for m in values.mean(axis=1))
        print(f"| {run.name} | {run_cfg.score} | {model.config['width']} | {means} |")
    if len(per_run) > 1:
        # Paired over the same patches: a difference within about two standard errors is noise.
        print(f"\nDifference to {args.runs[0].name}, paired over the patches (mean ± standard "
              "error):\n\n| run | " + " | ".join(figures) + " |\n|---|---|---|---|---|")
        for run, values in zip(args.runs[1:], per_run[1:]):
            cells = " | ".join("{:+.4f} ± {:.4f}".format(*paired_difference(v, v0))
                               for v, v0 in zip(values, per_run[0]))
            print(f"| {run.name} | {cells} |")

if __name__ == "__main__":
    main()
