"""Test-split quality of trained LWNet models beside the classical and external methods.

SPEC §6 protocol: the SPECT-MRI model on SPECT-MRI (37 test pairs) and, unchanged, on PET-MRI
(30); the CT-MRI model on CT-MRI (30). Metrics via :func:`lwnet.evaluation.evaluate_folders`
(i.e. :func:`lwnet.metrics.compute_metrics`). Per-method rows are cached as CSV in ``--out``
(named with a digest of the method and metric code) so reference methods are computed once and
models can be added later. ``--reference-rows`` takes per-image rows written by
``lwnet evaluate`` (same metric code) instead of recomputing them.

    python benchmarks/bench_spi.py --out DIR \
        --model LWNet:SPECT-MRI=spect.safetensors --model LWNet:CT-MRI=ct.safetensors \
        [--model labels-only:SPECT-MRI=...] [--reference-rows per_image.csv ...] \
        [--ship src/lwnet/weights [--ship-models NAME ...] [--card-extra SPECT-MRI=extra.md ...]]

Prints one Markdown table per pair type (mean ± std, best **bold**, second *italic*), on how
many of the six metrics LWNet leads every classical and external method (the issue's target)
and, for every model named ``<X>`` beside ``LWNet``, on how many of them LWNet beats it; each
count also says how many differences exceed two standard errors of the per-image difference
(paired over the test images), the part that is not within noise, and a table gives LWNet
minus each such model per metric (mean ± paired standard error, ▲/▼ beyond two of them).
``--ship DIR`` re-saves the ``LWNet`` weights as ``DIR/<pair>.safetensors`` with these tables
appended to their model card, and every other model ``<X>`` (baselines, ablations) as
``DIR/<pair>-<X>.safetensors`` with the same tables: the rows ``LWNet-<X>`` of ``lwnet
benchmark`` (SPEC §6: LWNet and its ablations).
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
from pathlib import Path

import numpy as np

from lwnet._code import code_digest
from lwnet.data.datasets import default_data_root, harvard_pairs
from lwnet.evaluation import (
    clear_sign,
    evaluate_folders,
    paired_rows,
    paired_table,
    rows_to_csv,
    summarise,
    to_markdown,
)
from lwnet.inference import SHIPPED_MODELS, load_model
from lwnet.inference.api import network_method
from lwnet.methods import external_methods, method_names
from lwnet.methods.registry import BUILTIN_CODE
from lwnet.metrics import METRIC_NAMES
from lwnet.reports.results import METRIC_CODE
from lwnet.training.card import ship

# Which model's pair type serves each test pair type (PET-MRI: the SPECT-MRI model).
MODEL_FOR = {pair: model.upper() for pair, model in SHIPPED_MODELS.items()}


def cached_rows(out: Path, pair_type: str, name: str, spec, pairs, version: str = ""
                ) -> list[dict]:
    """Per-image rows of ``spec`` (a result folder, ``builtin:<method>`` or a fusion function)
    on ``pairs``, cached in ``out``. Keyed by the code that makes the rows, so an edited method
    or metric recomputes them, and by ``version`` (e.g. a digest of a model's weights)."""
    digest = code_digest((*METRIC_CODE, *BUILTIN_CODE))
    path = out / pair_type / f"{name.replace(':', '_')}@{version}{digest}.csv"
    if not path.is_file():
        rows = evaluate_folders(pairs, {name: spec}, jobs=1, extras=False, progress=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rows_to_csv(rows, METRIC_NAMES))
    with path.open() as fh:
        return list(csv.DictReader(fh))


def reference_rows(out: Path, pair_type: str, pairs, given: list[Path],
                   exclude: set[str]) -> list[dict]:
    """Per-image rows of every classical and external method on ``pairs``: taken from the
    ``given`` CSVs of `lwnet evaluate` when they hold this pair type, else computed (cached in
    ``out``). Methods named in ``exclude`` (the models under test) are left out."""
    rows = [r for f in given for r in csv.DictReader(f.open())
            if r["pair_type"] == pair_type and r["method"] not in exclude]
    if rows:
        return rows
    data = default_data_root()
    for m in method_names():
        if m not in exclude:
            rows += cached_rows(out, pair_type, m, f"builtin:{m}", pairs)
    for ext in external_methods(data / "external"):
        rows += cached_rows(out, pair_type, ext.name, str(ext.folder), pairs)
    return rows


def reference_leads(table, rows: list[dict], name: str,
                    refs: list[int]) -> tuple[list[str], list[str]]:
    """The metrics on which ``name`` has the best mean of it and the ``refs`` rows of ``table``,
    and those of them where the paired difference to the runner-up exceeds two standard
    errors."""
    i = table.methods.index(name)
    leads, clear_leads = [], []
    for k, metric in enumerate(table.metrics):
        runner_up = max(refs, key=lambda j: table.mean[j][k])
        if table.mean[i][k] > table.mean[runner_up][k]:
            leads.append(metric)
            if clear_sign(*paired_rows(rows, name, table.methods[runner_up], metric)) > 0:
                clear_leads.append(metric)
    return leads, clear_leads


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--model", action="append", default=[], metavar="NAME:PAIR=WEIGHTS")
    p.add_argument("--reference-rows", nargs="+", type=Path, default=[],
                   help="per-image CSVs of `lwnet evaluate` to use as the reference rows")
    p.add_argument("--ship", type=Path, help="write the LWNet weights + extended cards here")
    p.add_argument("--ship-models", nargs="+", metavar="NAME",
                   help="with --ship: only these models (default: every --model)")
    p.add_argument("--card-extra", action="append", default=[], metavar="PAIR=MARKDOWN",
                   help="with --ship: a Markdown file appended to that model's card (e.g. the "
                        "score choice measured by bench_score.py)")
    p.add_argument("--pair-types", nargs="+", default=list(MODEL_FOR))
    args = p.parse_args()
    data = default_data_root()
    models: dict[str, dict[str, str]] = {}
    for item in args.model:
        key, path = item.split("=", 1)
        name, pair = key.split(":")
        models.setdefault(name, {})[pair] = path
    reports: dict[str, list[str]] = {}
    for pair_type in args.pair_types:
        pairs = harvard_pairs(data / "harvard", pair_type, "test")
        rows: list[dict] = []
        for name, by_pair in models.items():
            weights = by_pair.get(MODEL_FOR[pair_type])
            if weights:
                # Model rows are not cached: the weights file may change between runs.
                rows += evaluate_folders(pairs, {name: network_method(load_model(weights))},
                                         extras=False, progress=False)
        rows += reference_rows(args.out, pair_type, pairs, args.reference_rows, set(models))
        table = summarise(rows)
        text = [f"#### {pair_type} (test, {len(pairs)} pairs)", "", to_markdown(table)]
        if "LWNet" in table.methods:
            i = table.methods.index("LWNet")
            refs = [j for j, m in enumerate(table.methods) if m not in models]
            leads, clear_leads = reference_leads(table, rows, "LWNet", refs)
            text.append(f"LWNet is best of the {len(refs)} classical and external methods on "
                        f"{len(leads)} of {len(METRIC_NAMES)} metrics ({', '.join(leads) or '—'}); "
                        f"by more than two paired standard errors on {len(clear_leads)} "
                        f"({', '.join(clear_leads) or '—'})")
            for j, other in enumerate(table.methods):
                if other != "LWNet" and other in models:
                    wins = int(np.sum(table.mean[i] > table.mean[j]))
                    signs = [clear_sign(*paired_rows(rows, "LWNet", other, m))
                             for m in table.metrics]
                    text.append(f"LWNet beats {other} on {wins} of {len(METRIC_NAMES)} metrics "
                                f"(beyond two paired standard errors: ahead on {signs.count(1)}, "
                                f"behind on {signs.count(-1)})")
            if len(models) > 1:  # LWNet minus each other model, paired over the images
                text += ["", paired_table([r for r in rows if r["method"] in models], "LWNet",
                                          table.metrics)]
        print("\n" + "\n".join(text))
        reports.setdefault(MODEL_FOR[pair_type], []).append("\n".join(text))
    if args.ship:
        head = ("## Test metrics (lwnet.metrics; best **bold**, second *italic*)\n\n"
                f"Command: `python {shlex.join(sys.argv)}` (docs/benchmarks.md).\n\n")
        for name, by_pair in models.items():
            if args.ship_models and name not in args.ship_models:
                continue
            for pair, weights in by_pair.items():
                extras = [Path(f).read_text().strip() for key, f in
                          (item.split("=", 1) for item in args.card_extra)
                          if key == pair and name == "LWNet"]
                stem = pair.lower() + ("" if name == "LWNet" else f"-{name}")
                which = ("" if name == "LWNet" else
                         f"In the tables, `{name}` is this model (the benchmark's row "
                         f"`LWNet-{name}`) and `LWNet` the shipped model it is compared with.\n\n")
                print(ship(Path(weights), args.ship / f"{stem}.safetensors", "\n\n".join(
                    [head + which + "\n\n".join(reports.get(pair, [])), *extras])))


if __name__ == "__main__":
    main()
