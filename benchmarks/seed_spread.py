"""Test-split quality of SPI and its baselines over several training seeds.

One training run per side cannot tell a method's effect from the seed's (docs/benchmarks.md,
"Training noise"). This script takes the weights of each side (``LWNet`` = SPI, and any
baselines) trained with several seeds, scores every model on the test split as
``bench_spi.py`` does (same metric code, same reference rows, cached in ``--out``), and prints
per pair type:

- each side's test mean per metric as mean ± standard deviation over the seeds;
- per seed, on how many of the six metrics (and which) LWNet leads every classical and
  external method, and on how many it beats each baseline trained with the same seed;
- LWNet minus the best reference method and minus each baseline, paired by seed: mean ±
  standard error over the seeds, marked ▲/▼ where the difference exceeds the two-sided 95 %
  Student t quantile with n − 1 degrees of freedom times the standard error (3.18 for 4 seeds):
  a difference that holds across seeds, not only across the test images of one run.

    python benchmarks/seed_spread.py --out DIR --seeds 0 1 2 3 \
        --model 'LWNet:SPECT-MRI=runs/seed{seed}-SPECT-MRI/weights.safetensors' \
        --model 'LWNet:SPECT-MRI:0=src/lwnet/weights/spect-mri.safetensors' \
        --model 'labels-only:SPECT-MRI=runs/seed{seed}-labels_only-SPECT-MRI/weights.safetensors'

A ``--model NAME:PAIR=PATH`` holding ``{seed}`` stands for every seed; ``NAME:PAIR:SEED=PATH``
names one seed's weights and takes precedence. Every side needs weights for every seed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import t as student_t

from bench_spi import MODEL_FOR, cached_rows, reference_rows
from lwnet.data.datasets import default_data_root, harvard_pairs
from lwnet.evaluation import markdown_table, paired_cell, summarise
from lwnet.inference import load_model
from lwnet.inference.api import network_method
from lwnet.metrics import METRIC_NAMES
from lwnet.model.weights import file_sha256

Weights = dict[str, dict[str, dict[int, str]]]  # side -> model pair type -> seed -> path


def parse_models(items: list[str], seeds: list[int]) -> Weights:
    """``NAME:PAIR[:SEED]=PATH`` options as side -> pair type -> seed -> weights path."""
    models: Weights = {}
    explicit: list[tuple[str, str, int, str]] = []
    for item in items:
        key, path = item.split("=", 1)
        name, pair, *seed = key.split(":")
        if seed:
            explicit.append((name, pair, int(seed[0]), path))
        elif "{seed}" in path:
            for s in seeds:
                models.setdefault(name, {}).setdefault(pair, {})[s] = path.format(seed=s)
        else:
            sys.exit(f"--model {item}: the path needs {{seed}}, or the key a :SEED")
    for name, pair, s, path in explicit:  # after the templates, so they override them
        models.setdefault(name, {}).setdefault(pair, {})[s] = path
    for name, by_pair in models.items():
        for pair, by_seed in by_pair.items():
            missing = sorted(set(seeds) - set(by_seed))
            absent = [p for s, p in by_seed.items() if s in seeds and not Path(p).is_file()]
            if missing or absent:
                sys.exit(f"{name}:{pair}: no weights for seeds {missing}" if missing
                         else f"{name}:{pair}: weights file not found: {absent[0]}")
    return models


def model_means(out: Path, pairs, pair_type: str, name: str, weights: str) -> np.ndarray:
    """Test mean per metric of one trained model; its per-image rows are cached under a digest
    of the weights file (a retrained model gets new rows)."""
    digest = file_sha256(weights)[:16]
    rows = cached_rows(out, pair_type, name, network_method(load_model(weights)), pairs,
                       version=f"{digest}-")
    return summarise(rows).mean[0]


def across_seeds(a: np.ndarray, b: np.ndarray) -> list[str]:
    """Cells ``mean ± SE`` of ``a − b`` per metric, paired by seed (rows of ``a`` and ``b``),
    marked ▲/▼ beyond the 95 % Student t quantile times the standard error."""
    q = student_t.ppf(0.975, len(a) - 1)
    return [paired_cell(a[:, k], b[:, k], q) for k in range(a.shape[1])]


def report(pair_type: str, n_pairs: int, per_seed: dict[str, np.ndarray],
           refs: dict[str, np.ndarray], seeds: list[int]) -> str:
    """The Markdown section of one pair type; ``per_seed`` maps each side to its test means,
    shape ``(seeds, metrics)``."""
    names = list(METRIC_NAMES)
    ref_names = list(refs)
    ref_means = np.stack([refs[m] for m in ref_names])
    best, best_mean = ref_means.argmax(axis=0), ref_means.max(axis=0)
    lines = [f"#### {pair_type} (test, {n_pairs} pairs; seeds {', '.join(map(str, seeds))})", ""]
    rows = [[side, *(f"{v.mean(0)[k]:.4f} ± {v.std(0, ddof=1)[k]:.4f}" for k in range(len(names)))]
            for side, v in per_seed.items()]
    rows.append(["best reference", *(f"{best_mean[k]:.4f} ({ref_names[best[k]]})"
                                     for k in range(len(names)))])
    lines += [markdown_table(["mean ± std over seeds", *names], rows), ""]
    spi = per_seed["LWNet"]

    def wins(ahead: np.ndarray) -> str:  # "2 (VIF, SSIM)": how many metrics, and which
        won = [n for n, w in zip(names, ahead) if w]
        return f"{len(won)} ({', '.join(won)})" if won else "0"

    counts = [["leads every reference", *(wins(spi[i] > best_mean) for i in range(len(seeds)))]]
    counts += [[f"beats {side}", *(wins(spi[i] > v[i]) for i in range(len(seeds)))]
               for side, v in per_seed.items() if side != "LWNet"]
    lines += [markdown_table(["LWNet, of 6 metrics", *(f"seed {s}" for s in seeds)], counts), ""]
    best_ref = np.broadcast_to(best_mean, spi.shape)
    diffs = [["best reference", *across_seeds(spi, best_ref)]]
    diffs += [[side, *across_seeds(spi, v)] for side, v in per_seed.items() if side != "LWNet"]
    lines.append(markdown_table(["LWNet minus (over seeds)", *names], diffs))
    summary = [f"leads every reference on {int((spi.mean(0) > best_mean).sum())} of 6"]
    summary += [f"beats {side} on {int((spi.mean(0) > v.mean(0)).sum())} of 6"
                for side, v in per_seed.items() if side != "LWNet"]
    lines += ["", "Mean over seeds: LWNet " + "; ".join(summary)]
    return "\n".join(line.rstrip("\n") for line in lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path, help="cache of per-image rows")
    p.add_argument("--seeds", nargs="+", type=int, required=True)
    p.add_argument("--model", action="append", default=[], metavar="NAME:PAIR[:SEED]=WEIGHTS")
    p.add_argument("--pair-types", nargs="+", default=list(MODEL_FOR))
    args = p.parse_args()
    if len(args.seeds) < 2:
        p.error("give at least two seeds: the point is the spread between them")
    models = parse_models(args.model, args.seeds)
    if "LWNet" not in models:
        p.error("name the SPI models LWNet (e.g. --model 'LWNet:SPECT-MRI=...{seed}...')")
    data = default_data_root()
    for pair_type in args.pair_types:
        pairs = harvard_pairs(data / "harvard", pair_type, "test")
        model_pair = MODEL_FOR[pair_type]
        sides = {name: by_pair[model_pair] for name, by_pair in models.items()
                 if model_pair in by_pair}
        per_seed = {name: np.stack([model_means(args.out, pairs, pair_type, name, by_seed[s])
                                    for s in args.seeds])
                    for name, by_seed in sides.items()}
        table = summarise(reference_rows(args.out, pair_type, pairs, [], set(models)))
        refs = dict(zip(table.methods, table.mean))
        print("\n" + report(pair_type, len(pairs), per_seed, refs, args.seeds))


if __name__ == "__main__":
    main()
