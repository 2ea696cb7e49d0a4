"""Classical fusion methods: time per 256×256 pair on one core.

    OMP_NUM_THREADS=1 LWNET_DATA=../shared/data PYTHONPATH=src \
        python benchmarks/bench_methods.py [--repeats 10]

Times ``get_method(name)(a, b)`` — the luminance fusion itself, no I/O — on the first
``repeats`` SPECT-MRI test pairs with one thread, after one warm-up call, and prints the median
and maximum per method as Markdown. Quality is measured with ``lwnet fuse`` and
``lwnet evaluate`` (see docs/benchmarks.md). Needs the shared data.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core; set before NumPy/SciPy load

import argparse
import time

import numpy as np

from lwnet.data import read_image, split_luma
from lwnet.data.datasets import default_data_root, harvard_pairs
from lwnet.methods import get_method, method_names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="test pairs timed per method")
    args = parser.parse_args()
    pairs = harvard_pairs(default_data_root() / "harvard", "SPECT-MRI", "test")[: args.repeats]
    images = [(read_image(p.a), split_luma(read_image(p.b))[0]) for p in pairs]
    print(f"time per 256x256 pair, one thread, {len(images)} SPECT-MRI test pairs")
    print("| method | median (s) | max (s) |\n|---|---|---|")
    for name in method_names():
        fn = get_method(name)
        fn(*images[0])  # warm-up: imports and allocator
        times = []
        for a, b in images:
            t0 = time.perf_counter()
            fn(a, b)
            times.append(time.perf_counter() - t0)
        print(f"| {name} | {np.median(times):.4f} | {max(times):.4f} |")


if __name__ == "__main__":
    main()
