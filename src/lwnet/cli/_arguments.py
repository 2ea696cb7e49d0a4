"""Argument types and checks shared by the subcommands."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path


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


def say_if_same_input(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> None:
    """Print a note when the two inputs are one file or folder (A typed twice, most likely):
    the run is valid, the result that input fused with itself."""
    if Path(a).samefile(b):
        print(f"note: A and B are the same input ({a}), so the result is it fused with itself")
