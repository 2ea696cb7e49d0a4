"""``lwnet profile``: parameters, MACs and median latency of an LWNet configuration."""

from __future__ import annotations

import argparse
from typing import Any

from lwnet.cli._arguments import count


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "profile",
        help="parameters, MACs and latency of the network",
        description="Profile LWNet from a weights file or from architecture options: "
        "parameters, MACs per pair (FlopCounterMode, MACs = FLOPs/2) and the median latency "
        "of repeated timed runs after a warm-up.",
    )
    p.add_argument("--weights", metavar="PATH", help="weights file (its architecture is used)")
    p.add_argument("--width", type=count(), default=None, help="encoder width C")
    p.add_argument("--scales", type=int, nargs="+", default=None, help="MCA kernel sizes")
    p.add_argument("--no-aca", action="store_true", help="ablation: without ACA")
    p.add_argument("--no-mca", action="store_true", help="ablation: without MCA")
    p.add_argument("--size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"),
                   help="image size of the pair (default: 256 256)")
    p.add_argument("--batch", type=count(), default=1, help="pairs per forward pass")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--threads", type=count(), default=2,
                   help="torch intra-op threads on the CPU (default 2: the latency target is "
                        "for two threads)")
    p.add_argument("--warmup", type=count(0), default=5, help="untimed passes first (default: 5)")
    p.add_argument("--repeats", type=count(), default=30,
                   help="timed passes; the median is reported (default: 30)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lwnet._text import counted
    from lwnet.data.io import MIN_SIDE
    from lwnet.errors import ConfigError
    from lwnet.model import LWNet, profile_model

    architecture = args.width is not None or args.scales or args.no_aca or args.no_mca
    if args.weights and architecture:
        raise ConfigError("--weights fixes the architecture; drop --width/--scales/--no-*")
    if min(args.size) < MIN_SIDE:
        raise ConfigError(f"--size {args.size[0]} {args.size[1]}: images are at least "
                          f"{MIN_SIDE}×{MIN_SIDE}, as for lwnet fuse")
    if args.weights:
        from lwnet.inference import load_model

        model = load_model(args.weights, device=args.device)
    else:
        kwargs: dict[str, Any] = {"use_aca": not args.no_aca, "use_mca": not args.no_mca}
        if args.width is not None:
            kwargs["width"] = args.width
        if args.scales:
            kwargs["scales"] = args.scales
        try:
            model = LWNet(**kwargs)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    report = profile_model(model, tuple(args.size), args.batch, args.device, args.threads,
                           args.warmup, args.repeats)
    h, w = report["size"]
    print(f"config        {model.config}")
    print(f"parameters    {report['params']:,}")
    print(f"MACs/pair     {report['macs_per_pair'] / 1e9:.3f} G at {h}x{w}")
    print(f"latency       {report['latency_ms']:.2f} ms median per batch of {args.batch} "
          f"({report['ms_per_pair']:.2f} ms/pair, {report['pairs_per_s']:.1f} pairs/s) on "
          f"{report['device']}, {counted(report['threads'], 'thread')}, "
          f"{report['repeats']} runs")
    return 0
