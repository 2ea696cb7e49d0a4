"""Test-split quality of an SPI run after each of its iterations (``RUN_DIR/iterations/``).

For every model a run kept (``iterations/NN.safetensors``, written by ``lwnet train``), the six
metric means on the test ids of each pair type the run's model serves (a SPECT-MRI run: SPECT-MRI
and PET-MRI; a CT-MRI run: CT-MRI), and on how many of them it leads every classical and
external method (the issue's target; bold: beyond two paired standard errors of the
runner-up). Shows whether SPI's iterations move the model towards the target, and when.

    python benchmarks/bench_iterations.py RUN_DIR [--reference-rows per_image.csv ...] [--out DIR]

``--reference-rows`` and ``--out`` as in ``bench_spi.py`` (rows of `lwnet evaluate`, or computed
and cached in ``--out``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench_spi import MODEL_FOR, reference_leads, reference_rows
from lwnet.data.datasets import default_data_root, harvard_pairs
from lwnet.evaluation import evaluate_folders, summarise
from lwnet.inference import load_model
from lwnet.inference.api import network_method
from lwnet.training.config import read_run_config
from lwnet.training.loop import ITERATIONS


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--reference-rows", nargs="+", type=Path, default=[])
    p.add_argument("--out", type=Path, default=Path("bench-iterations"),
                   help="cache of computed reference rows (without --reference-rows)")
    args = p.parse_args()
    kept = sorted((args.run_dir / ITERATIONS).glob("*.safetensors"))
    if not kept:
        raise SystemExit(f"{args.run_dir / ITERATIONS}: no iteration models")
    run_pair = read_run_config(args.run_dir).pair_type
    harvard = default_data_root() / "harvard"
    for pair_type in (t for t, model in MODEL_FOR.items() if model == run_pair):
        pairs = harvard_pairs(harvard, pair_type, "test")
        names = {f"iteration {w.stem.lstrip('0')}": w for w in kept}
        rows = reference_rows(args.out, pair_type, pairs, args.reference_rows, set(names))
        refs = sorted({r["method"] for r in rows})
        for name, weights in names.items():
            rows += evaluate_folders(pairs, {name: network_method(load_model(weights))},
                                     extras=False, progress=False)
        table = summarise(rows)
        ref_idx = [table.methods.index(m) for m in refs]
        print(f"\n#### {pair_type} (test, {len(pairs)} pairs): {args.run_dir}\n")
        print("| model | " + " | ".join(table.metrics) + " | leads the references |")
        print("|---|" + "---:|" * len(table.metrics) + "---|")
        for name in names:
            i = table.methods.index(name)
            leads, clear = reference_leads(table, rows, name, ref_idx)
            marked = ", ".join(f"**{m}**" if m in clear else m for m in leads) or "—"
            means = " | ".join(f"{v:.4f}" for v in table.mean[i])
            print(f"| {name} | {means} | {len(leads)}: {marked} |")
        best = [f"{m} {table.methods[max(ref_idx, key=lambda j: table.mean[j][k])]} "
                f"{max(table.mean[j][k] for j in ref_idx):.4f}"
                for k, m in enumerate(table.metrics)]
        print(f"\nBest reference per metric: {'; '.join(best)}")


if __name__ == "__main__":
    main()
