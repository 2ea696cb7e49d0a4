"""Why a multi-scale method can trail the plain mean on SSIM or Qcb (docs/benchmarks.md).

    LWNET_DATA=../shared/data PYTHONPATH=src python benchmarks/methods_tradeoffs.py

1. SSIM per source on the SPECT-MRI test pairs: SSIM(A, F) with the MRI and SSIM(B, F) with the
   SPECT luma, whose mean is the SSIM column of the tables.
2. Qcb and SSIM on the PET-MRI test pairs for the Laplacian and DWT methods with the classical
   averaged base and with a max base (``base_rule="max"``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lwnet.data import luma8, read_image, split_luma
from lwnet.data.datasets import default_data_root, harvard_pairs
from lwnet.methods import get_method
from lwnet.metrics import fusion_ssim, qcb, ssim_index


def _sources(pair) -> tuple[np.ndarray, np.ndarray]:
    return read_image(pair.a), split_luma(read_image(pair.b))[0]


def ssim_per_source(root) -> None:
    pairs = harvard_pairs(root, "SPECT-MRI", "test")
    print(f"SPECT-MRI test ({len(pairs)} pairs): mean SSIM per source")
    print("| method | SSIM(MRI, F) | SSIM(SPECT, F) | SSIM column |\n|---|---|---|---|")
    for name in ("mean", "max", "laplacian", "gff", "pcnn"):
        scores = []
        for p in pairs:
            a, b = _sources(p)
            a8, b8 = luma8(a).astype(float), luma8(b).astype(float)
            f8 = luma8(get_method(name)(a, b)).astype(float)
            scores.append((ssim_index(a8, f8), ssim_index(b8, f8)))
        sa, sb = np.mean(scores, axis=0)
        print(f"| {name} | {sa:.4f} | {sb:.4f} | {(sa + sb) / 2:.4f} |")


def base_rule(root) -> None:
    pairs = harvard_pairs(root, "PET-MRI", "test")
    print(f"\nPET-MRI test ({len(pairs)} pairs): averaged vs max base")
    print("| method | base | Qcb | SSIM |\n|---|---|---|---|")
    for name in ("laplacian", "dwt"):
        for rule in ("mean", "max"):
            scores = []
            for p in pairs:
                a, b = _sources(p)
                a8, b8 = luma8(a).astype(float), luma8(b).astype(float)
                f8 = luma8(get_method(name)(a, b, base_rule=rule)).astype(float)
                scores.append((qcb(a8, b8, f8), fusion_ssim(a8, b8, f8, "mean")))
            q, s = np.mean(scores, axis=0)
            print(f"| {name} | {rule} | {q:.4f} | {s:.4f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=default_data_root() / "harvard",
                        help="Harvard-layout data (default: $LWNET_DATA/harvard)")
    args = parser.parse_args()
    ssim_per_source(args.root)
    base_rule(args.root)
