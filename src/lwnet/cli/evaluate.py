"""``lwnet evaluate``: metrics of result folders over a dataset, with summary tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lwnet._files import refuse_inputs_as_outputs
from lwnet._text import counted, draws_bars
from lwnet.cli._arguments import add_metric_options, count, named
from lwnet.data.datasets import ImagePair, default_data_root, harvard_pairs, split_path
from lwnet.data.io import read_image
from lwnet.errors import ConfigError
from lwnet.metrics.conventions import EXTRA_NAMES, METRIC_NAMES, convention_text

PAIRED_MD = "paired.md"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate", help="evaluate result folders on a dataset",
        description="Per-image metrics of each result (a folder with <id>.png or "
                    "<PAIR>/<id>.png, or builtin:METHOD) over the pairs of one pair type, and "
                    "a summary table (mean ± std, best two marked) as Markdown, CSV and LaTeX.")
    result = named("DIR or NAME=builtin:METHOD")
    p.add_argument("results", nargs="*", type=result, metavar="NAME=DIR",
                   help="a result folder and the name it gets in the tables")
    p.add_argument("--method", "-m", action="append", type=result, default=[],
                   metavar="NAME=DIR", help="same as a positional NAME=DIR (repeatable)")
    p.add_argument("--root", type=Path, default=None,
                   help="Harvard-layout dataset root (default: $LWNET_DATA/harvard, or "
                        "../shared/data/harvard beside the checkout)")
    p.add_argument("--pair", required=True, help="pair type, e.g. SPECT-MRI")
    p.add_argument("--split", default=None, help="restrict to a split, e.g. test")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--jobs", "-j", type=count(), default=1, help="worker processes (default 1)")
    p.add_argument("--extras", action="store_true",
                   help="also put EN, SD, SF, AG and Qabf in the summary table")
    p.add_argument("--paired", metavar="NAME",
                   help="also write paired.md: NAME minus every other result per metric, mean ± "
                        "standard error over the images, ▲/▼ where beyond two standard errors")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_metric_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lwnet.evaluation import (
        evaluate_folders,
        markdown_summary,
        paired_table,
        summarise,
        write_evaluation,
    )

    results = dict(args.results + args.method)
    if len(results) != len(args.results) + len(args.method):
        raise ConfigError("each result NAME must be given once")
    if args.paired is not None and (args.paired not in results or len(results) < 2):
        raise ConfigError(f"--paired {args.paired}: needs that result and at least one other "
                          f"(given: {', '.join(results) or 'none'})")
    root = args.root if args.root is not None else default_data_root() / "harvard"
    refuse_inputs_as_outputs([args.out], [root, *results.values()])
    pairs = harvard_pairs(root, args.pair, args.split)
    if args.split is None and split_path(root, args.pair, "test").is_file():
        # Result folders of the test split would be "missing" all the training pairs.
        print(f"note: no --split, so all {counted(len(pairs), 'pair')} of {args.pair} are "
              "evaluated; --split test takes the test ids only", file=sys.stderr)
    rows = evaluate_folders(pairs, results, args.jobs, reduction=args.reduction,
                            vif_flavour=args.vif_flavour, progress=draws_bars(not args.quiet))
    all_metrics = METRIC_NAMES + EXTRA_NAMES
    table = summarise(rows, all_metrics if args.extras else METRIC_NAMES)
    caption = (f"{args.pair}" + (f" ({args.split} split)" if args.split else "")
               + f", {counted(len(pairs), 'pair')}; "
               + convention_text(args.reduction, args.vif_flavour))
    extra: dict[str, str] = {}
    if args.paired is not None:
        extra[PAIRED_MD] = (f"{caption}\n\n"
                            + paired_table(rows, args.paired, table.metrics))
    written = write_evaluation(args.out, rows, table, all_metrics, overwrite=args.overwrite,
                               caption=caption, extra=extra)
    print(markdown_summary(table, caption), end="")
    if extra:
        print("\n" + extra[PAIRED_MD], end="")
    print(f"wrote {', '.join(path.name for path in written)} to {args.out}")
    colour = [name for name, spec in results.items() if _holds_colour(spec, pairs)]
    if colour:
        print(f"note: {', '.join(colour)}: colour images, scored on the luma of their RGB pixels, "
              "which also scores the colour round trip's clipping; built-in and external rows "
              "are fused luminance (`lwnet fuse --luma` writes it)", file=sys.stderr)
    return 0


def _holds_colour(spec: str, pairs: list[ImagePair]) -> bool:
    """Whether a result folder holds colour images (judged by its first pair's file)."""
    from lwnet.evaluation import BUILTIN_PREFIX, result_files

    if spec.startswith(BUILTIN_PREFIX):
        return False
    first = result_files(spec, pairs[0].pair_type, [pairs[0].id])[pairs[0].id]
    return read_image(first).ndim == 3
