"""The ``lwnet`` command line: a thin layer over the Python API.

Every module in this package that defines ``add_parser(subparsers)`` contributes one
subcommand; the parser it adds sets ``func(args) -> int``. User errors (:class:`LWNetError`)
become one line on stderr and exit status 2, never a traceback; an :class:`InputWarning`
becomes a ``warning:`` line (above any progress bar) and the command goes on.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings
from collections.abc import Sequence

from lwnet import __version__, keep_freed_memory
from lwnet._text import show_input_warnings
from lwnet.errors import LWNetError


def build_parser() -> argparse.ArgumentParser:
    """The ``lwnet`` parser, with a subcommand for every module here that has ``add_parser``."""
    parser = argparse.ArgumentParser(
        prog="lwnet", description="Multimodal medical image fusion with LWNet and SPI."
    )
    parser.add_argument("--version", action="version", version=f"lwnet {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "add_parser"):
            module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lwnet``; an :class:`LWNetError` becomes one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    keep_freed_memory()  # fewer page faults per forward pass: lwnet._allocator
    try:
        with warnings.catch_warnings():
            show_input_warnings(f"lwnet {args.command}")
            return int(args.func(args) or 0)
    except LWNetError as exc:
        print(f"lwnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lwnet {args.command}: interrupted", file=sys.stderr)
        return 130
