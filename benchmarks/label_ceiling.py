"""What the SPI labels can be at best: the candidates each score picks, and how they measure.

SPEC §3.4 gives every labelled patch the candidate with the highest score. This script scores
every candidate of a seeded sample of training-pool patches on four per-patch metrics (SSIM sum,
fusion VIFF, Chen–Blum Qcb, UQI), then, for each score, reports the mean of those metrics over
the labels it picks and how often it picks each method. A label set cannot lead a metric it
does not lead here, so this bounds what training on initial labels alone can reach.

    python benchmarks/label_ceiling.py --pair-type SPECT-MRI --patches 600 \
        --cache-dir /work/runs/cache

``--patch-size 256 --val-patches 0`` makes every "patch" a whole 256×256 training pair: the
labels of a per-image choice, scored as the test split is (whole images), and the candidates'
whole-image means beside their patch means, to see whether the patch grid is what limits them.

Besides the weighted scores of ``lwnet.training.score``, three selection rules that need no
weights, each over all four figures, ask whether any way of choosing a candidate per patch
escapes the trade between the figures: the sum of each figure relative to the patch's best
candidate on it, the sum of ranks, and the sum of z-scores across the candidates.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import numpy as np

from lwnet.metrics import fusion_uqi, qcb, viff
from lwnet.training.config import PRESETS, TrainConfig
from lwnet.training.data import sample_patch_set
from lwnet.training.score import per_patch, ssim_sum
from lwnet.training.screening import score_batches

METRICS = {"SSIM sum": ssim_sum, "VIFF": partial(per_patch, viff), "Qcb": partial(per_patch, qcb),
           "UQI": partial(per_patch, fusion_uqi)}
# (score, w_vif, w_qcb) rows: the SPEC's default reading and the composites of training/score.py,
# recombined from the per-patch values above rather than re-scored.
SCORES = [("ssim_sum", 0.0, 0.0), ("ssim_vif", 1.0, 0.0), ("ssim_vif_qcb", 1.0, 0.5),
          ("ssim_vif_qcb", 1.0, 1.0), ("ssim_vif_qcb", 0.5, 1.0)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pair-type", default="SPECT-MRI")
    p.add_argument("--patches", type=int, default=600, help="seeded sample of the cpu pool")
    p.add_argument("--cache-dir", type=Path, required=True,
                   help="candidate cache (a training run's cache_dir)")
    p.add_argument("--patch-size", type=int, default=TrainConfig.patch_size)
    p.add_argument("--stride", type=int, default=TrainConfig.stride)
    p.add_argument("--val-patches", type=int, default=PRESETS["cpu"]["val_patches"],
                   help="patches held out of the pool, as the cpu preset does")
    args = p.parse_args()

    cfg = TrainConfig(pair_type=args.pair_type, **{
        **PRESETS["cpu"], "patch_size": args.patch_size, "stride": args.stride,
        "val_patches": args.val_patches})
    ps = sample_patch_set(cfg, args.patches, args.cache_dir)
    names = ps.names
    ids = np.arange(len(ps.index))
    a, b = ps.sources(ids)

    # values[m, patch, candidate] for the four metrics.
    values = np.zeros((len(METRICS), len(ids), len(names)))
    for k in range(len(names)):
        f = ps.candidate(np.full(len(ids), k), ids)
        for m, metric in enumerate(METRICS.values()):
            values[m, :, k] = score_batches(metric, f, a, b)

    head = " | ".join(METRICS)
    print(f"{args.pair_type}: {len(ids)} training patches of {args.patch_size}×{args.patch_size}, "
          f"{len(names)} candidates\n")
    print(f"| labels | {head} | picks |\n|---|" + "---:|" * len(METRICS) + "---|")
    means = values.mean(axis=1)  # (metric, candidate)
    best = means.max(axis=1)
    for k, name in enumerate(names):
        cells = " | ".join(_mark(means[m, k], best[m]) for m in range(len(METRICS)))
        print(f"| {name} (every patch) | {cells} | |")
    s, v, q = values[0], values[1], values[2]
    rules = {f"{score} (w_vif {w_vif:g}, w_qcb {w_qcb:g})": s + w_vif * v + w_qcb * q
             for score, w_vif, w_qcb in SCORES}
    rules.update(_balanced_rules(values))
    for rule, score_of in rules.items():
        pick = score_of.argmax(axis=1)
        label = values[:, ids, pick].mean(axis=1)
        cells = " | ".join(_mark(label[m], best[m]) for m in range(len(METRICS)))
        counts = np.bincount(pick, minlength=len(names))
        top = ", ".join(f"{names[i]} {100 * counts[i] / len(ids):.0f}%"
                        for i in np.argsort(-counts)[:4] if counts[i])
        print(f"| best by {rule} | {cells} | {top} |")


def _balanced_rules(values: np.ndarray) -> dict[str, np.ndarray]:
    """Weight-free scores (patch, candidate) from ``values[metric, patch, candidate]``.

    Each puts the four figures on one scale per patch before summing them, so that no figure
    counts more for its range: relative to the patch's best candidate, by rank (0 = worst),
    and as z-scores across the candidates.
    """
    top = values.max(axis=2, keepdims=True)
    relative = values / np.where(top > 0, top, 1.0)
    ranks = values.argsort(axis=2).argsort(axis=2)
    spread = values.std(axis=2, keepdims=True)
    z = (values - values.mean(axis=2, keepdims=True)) / np.where(spread > 0, spread, 1.0)
    return {"relative sum (4 figures)": relative.sum(axis=0),
            "rank sum (4 figures)": ranks.sum(axis=0).astype(float),
            "z-score sum (4 figures)": z.sum(axis=0)}


def _mark(x: float, best: float) -> str:
    """Bold when ``x`` reaches the best single method's mean."""
    return f"**{x:.4f}**" if x >= best - 1e-12 else f"{x:.4f}"


if __name__ == "__main__":
    main()
