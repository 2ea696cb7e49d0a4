"""Paired comparison of two methods scored on the same images or patches.

A benchmark table compares means; with 30–40 test images, differences in the third decimal are
often within noise. The paired difference (one value per image, method A minus method B) and its
standard error say how large a difference is against its own spread: the paired t statistic is
``mean / standard_error`` (Student, 1908; e.g. ``scipy.stats.ttest_rel``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from lwnet.evaluation.tables import markdown_table


def paired_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean of ``a − b`` and its standard error ``std(a − b, ddof=1) / sqrt(n)``.

    Args:
        a, b: scores of two methods, shape ``(n,)`` with ``n ≥ 2``, entry ``i`` of both on the
            same image or patch.

    Returns:
        ``(mean, standard_error)``; the standard error is 0 when every difference is equal.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"need two equal 1-D arrays of at least 2 scores, got {a.shape} and "
                         f"{b.shape}")
    d = a - b
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))


def clear_sign(a: np.ndarray, b: np.ndarray, n_se: float = 2.0) -> int:
    """+1 where ``a`` is ahead of ``b`` by more than ``n_se`` paired standard errors, −1 where it
    is behind by more, 0 where the difference is within noise."""
    return _clear_sign(*paired_difference(a, b), n_se)


def _clear_sign(mean: float, se: float, n_se: float) -> int:
    return int(np.sign(mean)) if abs(mean) > n_se * se else 0


_MARK = {1: " ▲", -1: " ▼", 0: ""}


def paired_cell(a: np.ndarray, b: np.ndarray, n_se: float = 2.0) -> str:
    """``a − b`` as one table cell, ``mean ± standard error`` (:func:`paired_difference`),
    marked ▲ where ``a`` is ahead by more than ``n_se`` standard errors and ▼ where it is
    behind by more; unmarked within noise."""
    mean, se = paired_difference(a, b)
    shown = f"{mean:+.4f}".replace("-0.0000", "+0.0000")  # no sign on a rounded 0
    return f"{shown} ± {se:.4f}{_MARK[_clear_sign(mean, se, n_se)]}"


def paired_rows(rows: Iterable[Mapping[str, Any]], method_a: str, method_b: str,
                metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``metric`` of two methods over the images both have, from per-image rows (the rows
    of :func:`lwnet.evaluation.evaluate_folders` or its CSV), in image order. An image is its
    ``id`` within its ``pair_type`` where the rows say (ids repeat across pair types); an image
    met twice for one method raises ``ValueError``."""
    by_method: dict[str, dict[tuple[str, str], float]] = {method_a: {}, method_b: {}}
    for row in rows:
        if row["method"] in by_method:
            scores = by_method[str(row["method"])]
            image = (str(row.get("pair_type") or ""), str(row["id"]))
            if image in scores:
                raise ValueError(f"{row['method']}: two rows for image {' '.join(image).strip()}"
                                 "; pair the rows of one evaluation")
            scores[image] = float(row[metric])
    ids = sorted(by_method[method_a].keys() & by_method[method_b].keys())
    return (np.array([by_method[method_a][i] for i in ids]),
            np.array([by_method[method_b][i] for i in ids]))


def paired_cells(rows: Iterable[Mapping[str, Any]], reference: str,
                 metrics: Sequence[str], n_se: float = 2.0) -> list[list[str]]:
    """``reference − other`` per method (one row each, name first) and metric, paired over the
    images: cells ``mean ± standard error``, marked ▲ where ``reference`` is ahead by more than
    ``n_se`` standard errors and ▼ where it is behind by more (every metric here is "higher is
    better"); unmarked cells are within noise; "—" where fewer than two images are shared.
    The other methods come in the order of their first row, as in the summary table."""
    rows = list(rows)
    others = [m for m in dict.fromkeys(str(r["method"]) for r in rows) if m != reference]
    if not any(r["method"] == reference for r in rows) or not others:
        raise ValueError(f"paired table needs rows of {reference!r} and of another method")
    table = []
    for other in others:
        cells = [other]
        for metric in metrics:
            a, b = paired_rows(rows, reference, other, metric)
            cells.append(paired_cell(a, b, n_se) if len(a) >= 2 else "—")  # "—": no spread
        table.append(cells)
    return table


def paired_table(rows: Iterable[Mapping[str, Any]], reference: str,
                 metrics: Sequence[str], n_se: float = 2.0) -> str:
    """:func:`paired_cells` as a Markdown table headed ``<reference> minus | <metrics>``,
    followed by what its cells and marks mean."""
    return (markdown_table([f"{reference} minus", *metrics],
                           paired_cells(rows, reference, metrics, n_se))
            + f"\n{paired_legend(reference, n_se)}\n")


def paired_legend(reference: str, n_se: float = 2.0) -> str:
    """What a paired table's cells say, for the files that travel without the page."""
    return (f"Mean ± standard error over the images of {reference}'s value minus each "
            f"method's; ▲/▼: {reference} ahead/behind by more than {n_se:g} standard errors; "
            "unmarked: within noise; —: fewer than two images in common.")
