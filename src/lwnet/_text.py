"""Small helpers for the text LWNet prints."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Collection, Mapping
from typing import TextIO

from lwnet.errors import InputWarning


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: ``counted(2, "pair")`` → ``"2 pairs"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def duration(seconds: float) -> str:
    """A span of time as people say it: ``"45 s"``, ``"12 min"``, ``"2 h 05 min"``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    minutes = round(s / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def draws_bars(progress: bool) -> bool:
    """Whether to draw tqdm progress bars: when ``progress`` is asked for and stderr is a
    terminal. A log file or a pipe would keep every redraw of every bar (megabytes of carriage
    returns in a training log), so there progress is told in whole lines, where at all."""
    return progress and sys.stderr.isatty()


def changes(before: Mapping[str, object], after: Mapping[str, object],
            skip: Collection[str] = ()) -> list[str]:
    """``["lr 0.01 → 0.5", ...]``: each key of ``after`` (not in ``skip``) whose value differs
    from ``before``'s, old → new, for messages that say what changed."""
    return [f"{k} {before.get(k)!r} → {v!r}" for k, v in after.items()
            if k not in skip and before.get(k) != v]


def show_input_warnings(prefix: str, limit: int = 5) -> None:
    """From now on, print an :class:`InputWarning` as ``{prefix}: warning: ...`` on stderr,
    above any tqdm bar, like the command's errors: the first ``limit`` of them, then one line
    saying that more are not shown (a folder of 12-bit files would warn once per file). Other
    warnings as before. For the ``lwnet`` command (inside ``warnings.catch_warnings()``) and its
    worker processes."""
    fallback = warnings.showwarning
    shown = 0

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        nonlocal shown
        if not issubclass(category, InputWarning):
            fallback(message, category, filename, lineno, file, line)
            return
        shown += 1
        if shown <= limit + 1:
            from tqdm import tqdm

            text = message if shown <= limit else "further input warnings are not shown"
            tqdm.write(f"{prefix}: warning: {text}", file=sys.stderr)

    warnings.showwarning = show
