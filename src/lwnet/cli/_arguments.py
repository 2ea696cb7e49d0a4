"""Argument types and checks shared by the subcommands."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from lwnet.metrics.conventions import REDUCTIONS, VIF_FLAVOURS


def count(minimum: int = 1) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number of at least ``minimum``. argparse names the
    option in its error (``argument --jobs/-j: must be at least 1, not 0``), which the API's own
    check (:func:`lwnet.errors.require_counts`, naming the Python argument) cannot."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


def named(value: str) -> Callable[[str], tuple[str, str]]:
    """An argparse ``type`` for ``NAME=VALUE``: the pair ``(NAME, VALUE)``, both non-empty;
    ``value`` says what follows the ``=`` in the error (e.g. ``DIR``)."""

    def parse(text: str) -> tuple[str, str]:
        name, sep, target = text.partition("=")
        if not sep or not name or not target:
            raise argparse.ArgumentTypeError(f"expected NAME={value}, not {text!r}")
        return name, target

    return parse


def say_if_same_input(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> None:
    """Print a note when the two inputs are one file or folder (A typed twice, most likely):
    the run is valid, the result that input fused with itself."""
    if Path(a).samefile(b):
        print(f"note: A and B are the same input ({a}), so the result is it fused with itself")


def add_metric_options(parser: argparse.ArgumentParser) -> None:
    """The convention options shared by ``metrics`` and ``evaluate``."""
    parser.add_argument("--reduction", choices=REDUCTIONS, default=None,
                        help="combine the two-source scores of MI, UQI, SSIM (and VIF with "
                             "--vif vifp) by sum or mean (default: MI sum, UQI/SSIM mean, "
                             "VIFp sum)")
    parser.add_argument("--vif", choices=VIF_FLAVOURS, default="viff", dest="vif_flavour",
                        help="VIF flavour: viff (Han et al. 2013, default) or vifp "
                             "(pixel-domain VIF of Sheikh & Bovik, over both sources)")
