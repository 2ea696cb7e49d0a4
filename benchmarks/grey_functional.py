"""Which shipped model should fuse a greyscale functional image that is not a CT?

Given a greyscale B and no ``--pair``, ``lwnet fuse`` takes the CT-MRI model (SPEC §1: colour
means SPECT or PET, grey means CT), and says so. This script measures what that choice costs
for a PET stored in grey: the PET-MRI test pairs with each PET replaced by its BT.601 luma,
fused by both shipped models and scored with the six primary metrics, as mean per model and
SPECT-MRI model minus CT-MRI model paired over the images (▲/▼ beyond two standard errors).

    python benchmarks/grey_functional.py [--data ../shared/data] [--pair PET-MRI]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import lwnet
from lwnet.data import read_image
from lwnet.data.colour import split_luma
from lwnet.data.datasets import default_data_root, harvard_pairs
from lwnet.evaluation import markdown_table, paired_cell
from lwnet.metrics import METRIC_NAMES, compute_metrics

MODELS = ("SPECT-MRI", "CT-MRI")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None,
                        help="the shared data folder, holding harvard/ (default: $LWNET_DATA "
                        "or ../shared/data)")
    parser.add_argument("--pair", default="PET-MRI", help="a pair type with a colour B")
    args = parser.parse_args()
    pairs = harvard_pairs(Path(args.data or default_data_root()) / "harvard", args.pair, "test")
    scores = {model: [] for model in MODELS}
    for pair in pairs:
        a, b = read_image(pair.a), read_image(pair.b)
        grey = split_luma(b)[0]  # the luminance fusion works on
        for model in MODELS:
            fused = lwnet.fuse(a, grey, pair_type=model)
            metrics = compute_metrics(a, grey, fused)
            scores[model].append([metrics[k] for k in METRIC_NAMES])
    table = {model: np.array(rows) for model, rows in scores.items()}
    print(f"{args.pair} test pairs with a grey B ({len(pairs)}), fused by each shipped model\n")
    body = [[f"{model} model", *(f"{x:.4f}" for x in table[model].mean(0))] for model in MODELS]
    body.append(["SPECT-MRI minus CT-MRI",
                 *(paired_cell(table["SPECT-MRI"][:, j], table["CT-MRI"][:, j])
                   for j in range(len(METRIC_NAMES)))])
    print(markdown_table(["model", *METRIC_NAMES], body))


if __name__ == "__main__":
    main()
