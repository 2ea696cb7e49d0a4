"""Held-out comparison of SPI runs (e.g. ``ssim_sum`` vs ``ssim_vif`` score), SPEC §3.2.

Evaluates each run's final weights on the held-out training patches of the first run's config
(``val_patches``, never used for training or screening): mean SSIM(f, a) + SSIM(f, b), and the
means of fusion VIFF, Chen–Blum Qcb and UQI on the 8-bit patch.

    python benchmarks/bench_score.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import numpy as np

from lwnet.data.datasets import default_data_root, harvard_pairs
from lwnet.inference import load_model
from lwnet.metrics import fusion_uqi
from lwnet.training.candidates import load_sources
from lwnet.training.config import TrainConfig
from lwnet.training.loop import PatchSet, patch_table, predict, score_batches
from lwnet.training.score import per_patch, qcb_fusion, ssim_sum, vif_fusion


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    args = p.parse_args()
    cfg = TrainConfig(**json.loads((args.runs[0] / "config.json").read_text()))
    root = Path(cfg.data_root) if cfg.data_root else default_data_root() / "harvard"
    a8, b8 = load_sources(harvard_pairs(root, cfg.pair_type, "train"))
    full, _, val = patch_table(cfg, len(a8), a8.shape[1:])
    ps = PatchSet(a8, b8, np.zeros((0,) + a8.shape, np.uint8), [], full[val], cfg.patch_size,
                  np.zeros(0))
    ids = np.arange(len(val))
    a, b = ps.sources(ids)
    print(f"{cfg.pair_type}: {len(val)} held-out training patches\n")
    print("| run | score | mean SSIM sum | mean VIFF | mean Qcb | mean UQI |\n"
          "|---|---|---|---|---|---|")
    for run in args.runs:
        run_cfg = json.loads((run / "config.json").read_text())
        f = predict(load_model(run / "weights.safetensors"), ps, ids, "cpu")
        s = score_batches(ssim_sum, f, a, b).mean()
        v = score_batches(vif_fusion, f, a, b).mean()
        q = score_batches(qcb_fusion, f, a, b).mean()
        u = score_batches(partial(per_patch, fusion_uqi), f, a, b).mean()
        print(f"| {run.name} | {run_cfg['score']} | {s:.4f} | {v:.4f} | {q:.4f} | {u:.4f} |")


if __name__ == "__main__":
    main()
