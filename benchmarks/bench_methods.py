"""Classical fusion methods: time per 256×256 pair on one core, and quality on the test split.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_methods.py speed
    PYTHONPATH=src python benchmarks/bench_methods.py quality --jobs 2

``speed`` times ``get_method(name)(a, b)`` (the luminance fusion itself, no I/O) on real test
pairs with one thread. ``quality`` fuses the test ids of SPECT-MRI, PET-MRI and CT-MRI with every
built-in method, reads the four external methods' results for the same ids, and prints the
mean ± std of the six metrics of SPEC §5 per pair type as Markdown. Every row is scored on the
fused luminance (what the methods produce and what the external folders store), through
``compute_metrics`` (8-bit luma of A, B and F). Needs ``$LWNET_DATA`` (the shared data).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, set before NumPy/SciPy load

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from lwnet.data import read_image, split_luma
from lwnet.data.datasets import default_data_root, harvard_pairs
from lwnet.methods import BuiltinMethod, external_methods, get_method, method_names
from lwnet.metrics import METRIC_NAMES, compute_metrics

PAIR_TYPES = ("SPECT-MRI", "PET-MRI", "CT-MRI")


def _sources(pair) -> tuple[np.ndarray, np.ndarray]:
    return split_luma(read_image(pair.a))[0], split_luma(read_image(pair.b))[0]


def speed(repeats: int) -> None:
    root = default_data_root() / "harvard"
    pairs = harvard_pairs(root, "SPECT-MRI", "test")[:repeats]
    images = [_sources(p) for p in pairs]
    print(f"time per 256x256 pair, one thread, median of {len(images)} pairs")
    print("| method | median (s) | max (s) |\n|---|---|---|")
    for name in method_names():
        fn = get_method(name)
        fn(*images[0])  # warm-up (imports, caches)
        times = []
        for a, b in images:
            t0 = time.perf_counter()
            fn(a, b)
            times.append(time.perf_counter() - t0)
        print(f"| {name} | {np.median(times):.4f} | {max(times):.4f} |")


def _score(job: tuple) -> tuple[str, str, dict[str, float]]:
    source, pair = job
    a, b = _sources(pair)
    f = source.luma(pair.pair_type, pair.id)
    return source.name, pair.pair_type, compute_metrics(a, b, f, extras=False)


def quality(jobs: int) -> None:
    data = default_data_root()
    root = data / "harvard"
    sources = [BuiltinMethod(n, root) for n in method_names()]
    if (data / "external").is_dir():
        sources += external_methods(data / "external")
    work = [(s, p) for pt in PAIR_TYPES for p in harvard_pairs(root, pt, "test") for s in sources]
    scores: dict[tuple[str, str], list[dict[str, float]]] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for name, pair_type, m in pool.map(_score, work, chunksize=4):
            scores.setdefault((pair_type, name), []).append(m)
    for pair_type in PAIR_TYPES:
        n = len(scores[(pair_type, sources[0].name)])
        print(f"\n### {pair_type} (test, {n} pairs)\n")
        print("| method | " + " | ".join(METRIC_NAMES) + " |")
        print("|---" * (len(METRIC_NAMES) + 1) + "|")
        for s in sources:
            rows = scores[(pair_type, s.name)]
            cells = []
            for k in METRIC_NAMES:
                v = np.array([r[k] for r in rows])
                cells.append(f"{v.mean():.4f} ± {v.std():.4f}")
            print(f"| {s.name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("--repeats", type=int, default=10, help="test pairs timed per method")
    q = sub.add_parser("quality")
    q.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if args.what == "speed":
        speed(args.repeats)
    else:
        quality(args.jobs)


if __name__ == "__main__":
    main()
