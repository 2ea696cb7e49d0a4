"""``lwnet train``: run or resume SPI training (also under ``torchrun``)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from lwnet._text import draws_bars
from lwnet.errors import ConfigError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train LWNet with SPI (or a baseline)",
        description="Train LWNet with SPI. Config: defaults ← --preset ← FILE ← --set. "
                    "Use under torchrun for DistributedDataParallel.")
    p.add_argument("--config", metavar="FILE", help="TOML config (see configs/)")
    p.add_argument("--preset", choices=["paper", "cpu"],
                   help="preset applied under FILE (a FILE that names its own preset: that one)")
    # nargs="+" so that "--set iterations 2" reaches the config's own error, which says how to
    # write it, rather than argparse's "unrecognized arguments: 2".
    p.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[],
                   metavar="KEY=VALUE",
                   help="override config keys (repeatable), e.g. --set iterations=2 epochs=1")
    p.add_argument("--run-dir", metavar="DIR",
                   help="run folder: config, log.csv, checkpoint, each iteration's model, "
                        "final weights (required, but by --print-config)")
    p.add_argument("--resume", action="store_true",
                   help="continue from DIR's checkpoint with DIR's config.json (--set may "
                        "change threads, workers, cache_dir, compile; a --config must agree "
                        "with it)")
    p.add_argument("--no-progress", action="store_true",
                   help="a line per step (label candidates, their scores, each epoch) on stderr "
                        "instead of progress bars; the default where stderr is not a terminal "
                        "(a log file, a pipe)")
    p.add_argument("--print-config", action="store_true",
                   help="print the config the run would train with, every key, as TOML (a "
                        "file to pass back with --config), and train nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lwnet.training import config_toml, train
    from lwnet.training.config import check_resume_config, run_config
    from lwnet.training.loop import CHECKPOINT

    if args.run_dir is None and (args.resume or not args.print_config):
        raise ConfigError("--run-dir DIR is required" + (
            " (the run to resume)" if args.resume else
            "; --print-config shows the config without training"))
    cfg = run_config(args.run_dir or ".", args.config, args.preset, args.overrides, args.resume)
    if args.print_config:
        if args.no_progress:
            raise ConfigError("--no-progress: --print-config trains nothing")
        if args.resume:  # what the resume would refuse, it refuses to show as its config
            check_resume_config(cfg, args.run_dir)
        print("# lwnet train --print-config: defaults ← preset ← config file ← --set "
              "(← the run's config.json, with --resume)")
        print(config_toml(cfg), end="")
        return 0
    main_rank = os.environ.get("RANK", "0") == "0"  # under torchrun, one line, not one per rank
    try:
        out = train(cfg, args.run_dir, resume=args.resume,
                    progress=draws_bars(not args.no_progress))
    except KeyboardInterrupt:
        if main_rank and (Path(args.run_dir) / CHECKPOINT).is_file():
            print(f"lwnet train: stopped; the run goes on from its last checkpoint with: "
                  f"lwnet train --resume --run-dir {shlex.quote(str(args.run_dir))}",
                  file=sys.stderr)
        raise
    if main_rank:
        print(out)
    return 0
