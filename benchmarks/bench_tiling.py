"""Whole-image vs tiled inference of the shipped models on the test split.

LWNet is trained on 120×120 patches but its attention (ACA's global pooling, MCA's C×C maps)
sees the whole input, so a 256×256 image is a different context from a training patch. This
compares the two ways to run it: the whole image at once (what ``lwnet.fuse`` does) and
overlapping training-size tiles, each pixel the mean of the tiles that hold it. Prints the six
metric means of both and the paired difference tiled minus whole (▲/▼ beyond two standard
errors, paired over the test images).

    python benchmarks/bench_tiling.py [--tile 120] [--tiles-per-side 8] [--pair-types ...]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from lwnet.data.datasets import default_data_root, harvard_pairs
from lwnet.evaluation import evaluate_folders, paired_table, summarise, to_markdown
from lwnet.inference import load_model
from lwnet.inference.api import fuse_batch, network_method
from lwnet.metrics import METRIC_NAMES
from lwnet.model import LWNet


def tiled_method(model: LWNet, tile: int, per_side: int) -> Callable[[np.ndarray, np.ndarray],
                                                                    np.ndarray]:
    """``model`` run on ``per_side``² overlapping ``tile``×``tile`` windows spread evenly over
    the image (first and last flush with the edges), averaged where they overlap."""
    def tiled(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        starts = [np.unique(np.linspace(0, n - tile, per_side).round().astype(int))
                  for n in a.shape]
        windows = [(y, x) for y in starts[0] for x in starts[1]]
        out = fuse_batch(model, np.stack([a[y:y + tile, x:x + tile] for y, x in windows]),
                         np.stack([b[y:y + tile, x:x + tile] for y, x in windows]))
        total, count = np.zeros(a.shape), np.zeros(a.shape)
        for (y, x), f in zip(windows, out):
            total[y:y + tile, x:x + tile] += f
            count[y:y + tile, x:x + tile] += 1
        return (total / count).astype(np.float32)
    return tiled


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tile", type=int, default=120, help="tile side (default: the patch size)")
    p.add_argument("--tiles-per-side", type=int, default=8)
    p.add_argument("--pair-types", nargs="+", default=["SPECT-MRI", "PET-MRI", "CT-MRI"])
    args = p.parse_args()
    for pair_type in args.pair_types:
        model = load_model(pair_type=pair_type)
        pairs = harvard_pairs(default_data_root() / "harvard", pair_type, "test")
        rows = evaluate_folders(pairs, {"whole": network_method(model),
                                        "tiled": tiled_method(model, args.tile,
                                                              args.tiles_per_side)},
                                extras=False, progress=False)
        print(f"\n#### {pair_type} (test, {len(pairs)} pairs)\n")
        print(to_markdown(summarise(rows)))
        print()
        print(paired_table(rows, "tiled", METRIC_NAMES))


if __name__ == "__main__":
    main()
