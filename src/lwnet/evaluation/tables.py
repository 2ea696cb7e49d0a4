"""Summary tables of per-image metric rows: mean ± std per method, best two marked per column.

Reusable by the benchmark report (several pair types, one table each). All metrics are
higher-is-better. Writers return text; saving is up to the caller (atomically).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lwnet.metrics import METRIC_NAMES

#: Per-image row keys that are not metrics.
ROW_KEYS: tuple[str, ...] = ("method", "pair_type", "id")


@dataclass(frozen=True)
class SummaryTable:
    """Means and standard deviations ``(methods, metrics)`` and the image count per method."""

    methods: tuple[str, ...]
    metrics: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    count: tuple[int, ...]


def summarise(rows: Iterable[Mapping[str, Any]],
              metrics: Sequence[str] = METRIC_NAMES) -> SummaryTable:
    """Aggregate per-image rows (``method`` + metric keys) into a :class:`SummaryTable`.

    Methods keep their order of first appearance; std is the population std over images. A
    mean that is infinite (PSNR of an image equal to both sources) has no std (NaN).
    """
    per_method: dict[str, list[list[float]]] = {}
    for row in rows:
        missing = [m for m in metrics if m not in row]
        if missing:
            raise ValueError(f"no metric {missing[0]!r} in the rows (they hold "
                             f"{', '.join(k for k in row if k not in ('method', 'id'))})")
        per_method.setdefault(str(row["method"]), []).append([float(row[m]) for m in metrics])
    if not per_method:
        raise ValueError("no rows to summarise")
    values = [np.asarray(v, dtype=np.float64) for v in per_method.values()]
    with np.errstate(invalid="ignore"):  # inf - inf in the std of an infinite mean: NaN
        std = np.stack([v.std(axis=0) for v in values])
    return SummaryTable(
        methods=tuple(per_method), metrics=tuple(metrics),
        mean=np.stack([v.mean(axis=0) for v in values]), std=std,
        count=tuple(len(v) for v in values),
    )


def best_two(column: Sequence[float]) -> list[int]:
    """Rank marks of one higher-is-better column: 1 best, 2 second best, 0 otherwise.

    Ties share a mark (dense ranking); NaN is never marked.
    """
    distinct = sorted({v for v in column if not math.isnan(v)}, reverse=True)
    top = distinct[:2]
    return [top.index(v) + 1 if v in top else 0 for v in column]


def rank_marks(table: SummaryTable) -> np.ndarray:
    """Best/second marks per cell ``(methods, metrics)``: 1, 2 or 0 (:func:`best_two`); none for
    a single method, which has nothing to beat. Every table writer marks by it."""
    if len(table.methods) < 2:
        return np.zeros(table.mean.shape, dtype=int)
    return np.stack([best_two(list(table.mean[:, j])) for j in range(len(table.metrics))], 1)


def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}f}" if math.isfinite(x) else str(x)


def summary_cell(table: SummaryTable, i: int, j: int, digits: int = 4, pm: str = " ± ") -> str:
    """Method ``i``, metric ``j`` as ``mean ± std``; the mean alone for one image, whose spread
    is not measured, and for an infinite mean, which has none. Every table writer formats by
    it."""
    mean = _fmt(table.mean[i, j], digits)
    if table.count[i] < 2 or not math.isfinite(table.mean[i, j]):
        return mean
    return f"{mean}{pm}{_fmt(table.std[i, j], digits)}"


def to_markdown(table: SummaryTable, digits: int = 4) -> str:
    """GitHub Markdown table of ``mean ± std``; best in **bold**, second best in *italics*."""
    marks = rank_marks(table)
    wrap = {1: "**{}**", 2: "*{}*", 0: "{}"}
    lines = ["| method | n | " + " | ".join(table.metrics) + " |",
             "|---|---:|" + "---:|" * len(table.metrics)]
    for i, method in enumerate(table.methods):
        cells = [wrap[int(marks[i, j])].format(summary_cell(table, i, j, digits, " ± "))
                 for j in range(len(table.metrics))]
        lines.append(f"| {method} | {table.count[i]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain Markdown table (for tables that carry no best/second-best marks)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def csv_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """CSV text of a header and rows of cells (the twin of :func:`markdown_table`)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def to_csv(table: SummaryTable) -> str:
    """CSV with ``<metric>_mean``, ``<metric>_std`` and ``<metric>_rank`` (1, 2 or empty)."""
    marks = rank_marks(table)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["method", "n"] + [f"{m}_{s}" for m in table.metrics
                                       for s in ("mean", "std", "rank")])
    for i, method in enumerate(table.methods):
        cells: list[object] = [method, table.count[i]]
        for j in range(len(table.metrics)):
            cells += [repr(float(table.mean[i, j])), repr(float(table.std[i, j])),
                      int(marks[i, j]) or ""]
        writer.writerow(cells)
    return buf.getvalue()


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", **{ch: "\\" + ch for ch in "&%_#${}"}}


def _latex_escape(text: str) -> str:
    # One pass, so the braces an escape inserts are not escaped again.
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: SummaryTable, digits: int = 4, caption: str | None = None,
             label: str | None = None) -> str:
    """LaTeX ``table`` of ``mean ± std``; best in ``\\textbf``, second in ``\\underline`` (the
    caption says so); ``label`` becomes its ``\\label``."""
    marks = rank_marks(table)
    wrap = {1: r"\textbf{{{}}}", 2: r"\underline{{{}}}", 0: "{}"}
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{_latex_escape(caption)}. Best in bold, second best "
                     r"underlined.}")
    if label:
        # A label is a key, not text: no escapes (\ref must match it), only safe characters.
        lines.append(rf"\label{{{re.sub(r'[^A-Za-z0-9:_.-]', '-', label)}}}")
    lines += [r"\begin{tabular}{l" + "c" * len(table.metrics) + "}", r"\hline",
              "Method & " + " & ".join(_latex_escape(m) for m in table.metrics) + r" \\",
              r"\hline"]
    for i, method in enumerate(table.methods):
        cells = [wrap[int(marks[i, j])].format(summary_cell(table, i, j, digits, r" $\pm$ "))
                 for j in range(len(table.metrics))]
        lines.append(_latex_escape(method) + " & " + " & ".join(cells) + r" \\")
    lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def rows_to_csv(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> str:
    """Per-image rows as CSV: ``method, pair_type, id`` then the metric columns."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(ROW_KEYS) + list(metrics))
    for row in rows:
        writer.writerow([row.get(k) if row.get(k) is not None else "" for k in ROW_KEYS]
                        + [repr(float(row[m])) for m in metrics])
    return buf.getvalue()
