"""Small helpers for the text LWNet prints."""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Literal, TextIO, TypeVar

from lwnet.errors import InputWarning

T = TypeVar("T")
#: How a long step shows its progress: tqdm bars (stderr is a terminal), whole lines (a log
#: file or a pipe), or not at all (a torchrun process other than the one that reports).
Progress = Literal["bars", "lines", "off"]


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: ``counted(2, "pair")`` → ``"2 pairs"``,
    ``counted(3, "patch")`` → ``"3 patches"``, ``counted(2, "epoch")`` → ``"2 epochs"``."""
    if n == 1:
        return f"{n} {noun}"
    # "-ch" said as /k/ (epoch, stomach) takes a plain s; the others of this code say /tʃ/
    hissing = noun.endswith(("s", "x", "sh")) or (noun.endswith("ch") and noun != "epoch")
    return f"{n} {noun}{'es' if hissing else 's'}"


def duration(seconds: float) -> str:
    """A span of time as people say it: ``"45 s"``, ``"12 min"``, ``"2 h 05 min"``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    minutes = round(s / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def draws_bars(wanted: bool = True) -> bool:
    """Whether the ``lwnet`` command draws tqdm progress bars: where they are ``wanted`` and
    stderr is a terminal. A log file or a pipe would keep every redraw of every bar (megabytes
    of carriage returns in a training log), so there progress is told in whole lines, if at
    all. (The Python API draws the bars it is asked for: a notebook shows them well, though
    its stderr is no terminal.)"""
    return wanted and sys.stderr.isatty()


def progress_mode(bars: bool, reports: bool = True) -> Progress:
    """The :data:`Progress` of a process that ``reports`` (under torchrun, rank 0 alone):
    ``bars``, or lines without them."""
    return "off" if not reports else "bars" if bars else "lines"


def say(line: str) -> None:
    """A line of progress on stderr, above any bar, flushed so that a log file redirected from
    stderr can be followed as it grows. Stdout keeps a command's result alone."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)
    sys.stderr.flush()


def tracked(items: Iterable[T], total: int, desc: str, unit: str, progress: Progress, *,
            count: Callable[[T], int] = lambda item: 1, announce: bool = True) -> Iterator[T]:
    """``items`` as they come, ``total`` units in all (``count`` of each item), with their
    progress shown: a tqdm bar; or lines for a log, where a step of minutes would otherwise look
    like a hang: ``"desc: 320 pairs ..."`` before the first item (unless not ``announce``) and
    ``"desc: 320 pairs in 2 min"`` after the last; or nothing."""
    if progress == "bars":
        from tqdm import tqdm

        with tqdm(total=total, desc=desc, unit=unit) as bar:
            for item in items:
                yield item
                bar.update(count(item))
        return
    if progress == "lines" and announce:
        say(f"{desc}: {counted(total, unit)} ...")
    start = time.perf_counter()
    yield from items
    if progress == "lines":
        say(f"{desc}: {counted(total, unit)} in {duration(time.perf_counter() - start)}")


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
