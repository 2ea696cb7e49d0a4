"""``lwnet benchmark``: the tables and figures of a fusion paper as one self-contained report."""

from __future__ import annotations

import argparse
from pathlib import Path

from lwnet._text import draws_bars
from lwnet.cli._arguments import count, named


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "benchmark", help="fuse, evaluate and report every method on the test split",
        description="Run LWNet (shipped weights and any ablation weights), every classical "
        "method and every external method folder on the test ids of each pair type, evaluate "
        "them and write REPORT_DIR/index.html with tables, box plots, radar charts, comparison "
        "grids, the complexity table and SPI curves. Fused outputs are cached and reused.")
    p.add_argument("--data", type=Path, required=True, help="data root holding harvard/")
    p.add_argument("--out", type=Path, required=True, help="report folder")
    external = p.add_mutually_exclusive_group()
    external.add_argument("--external", type=Path, action="append",
                          help="folder of external methods <Method>/<PAIR>/<id>.png "
                          "(repeatable; default: DATA/external when present)")
    external.add_argument("--no-external", action="store_true",
                          help="leave external methods out")
    p.add_argument("--methods", nargs="+", metavar="NAME", help="only these methods (rows)")
    p.add_argument("--pairs", nargs="+", metavar="PAIR", help="only these pair types")
    p.add_argument("--jobs", "-j", type=count(), default=1,
                   help="worker processes (default 1)")
    p.add_argument("--cache", type=Path, help="fused-output cache (default REPORT_DIR/cache)")
    p.add_argument("--weights", type=Path,
                   help="folder of LWNet weights <model>[-<variant>].safetensors "
                   "(default: the shipped weights)")
    p.add_argument("--spi-log", type=named("CSV"), action="append", metavar="NAME=CSV",
                   help="SPI log (log.csv or model card) to plot (repeatable; default: the "
                   "model cards and *.csv logs beside the weights)")
    grid = p.add_mutually_exclusive_group()
    grid.add_argument("--grid-pairs", type=count(0), default=2,
                      help="pairs per pair type in the visual comparison (default 2)")
    grid.add_argument("--grid-ids", nargs="+", metavar="ID",
                      help="these test ids in the visual comparison instead (e.g. 16011 41054)")
    p.add_argument("--latency-repeats", type=count(), default=20,
                   help="timed runs per method for the latency median (default 20)")
    p.add_argument("--latency-threads", type=count(), default=1,
                   help="torch threads while timing (default 1, as the NumPy methods use)")
    p.add_argument("--overwrite", action="store_true",
                   help="rewrite an existing report; files it wrote that this run does not "
                        "write again are removed, nothing else in the folder is touched")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lwnet.reports.benchmark import BenchmarkConfig, run_benchmark

    cfg = BenchmarkConfig(
        data=args.data, out=args.out, cache=args.cache,
        external=[] if args.no_external else args.external, methods=args.methods,
        pairs=args.pairs, jobs=args.jobs, weights=args.weights,
        spi_logs={name: Path(csv) for name, csv in args.spi_log or ()} or None,
        grid_pairs=args.grid_pairs, grid_ids=args.grid_ids,
        latency_repeats=args.latency_repeats, latency_threads=args.latency_threads,
        overwrite=args.overwrite, progress=not args.quiet, bars=draws_bars(),
    )
    index = run_benchmark(cfg)
    print(index)
    return 0
