"""``lwnet metrics A B F``: the fusion metrics of one triple."""

from __future__ import annotations

import argparse
import json
import math

from lwnet.cli._arguments import add_metric_options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "metrics", help="metrics of one fused image",
        description="Fusion metrics of F against sources A (MRI) and B (functional/CT image), "
                    "all on 8-bit BT.601 luma. All metrics are higher-is-better.")
    p.add_argument("a", help="source A (MRI)")
    p.add_argument("b", help="source B (SPECT/PET/CT; colour allowed)")
    p.add_argument("f", help="fused image (colour allowed)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (non-finite values, e.g. PSNR of F = A = B, "
                        "as null)")
    add_metric_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lwnet.evaluation import read_triple
    from lwnet.metrics import compute_metrics

    a, b, f = read_triple(args.a, args.b, args.f)
    scores = compute_metrics(a, b, f, reduction=args.reduction, vif_flavour=args.vif_flavour)
    if args.json:
        print(json.dumps({k: v if math.isfinite(v) else None for k, v in scores.items()}))
    else:
        for name, value in scores.items():
            print(f"{name:<5} {value:.4f}")
    return 0
