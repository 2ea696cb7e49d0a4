"""Figures of a fusion paper, drawn with matplotlib's Agg backend (no display needed).

Every drawing function returns the figure's files (:class:`Rendered`): the PNG that the HTML
page embeds, and a PDF for a paper (vector text and lines; the images of the comparison grid at
their own pixels). The caller decides where (and how atomically) they are written.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: figures are files, never windows

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from lwnet.data.colour import split_luma  # noqa: E402
from lwnet.metrics import METRIC_NAMES  # noqa: E402

#: Resolution of the PNGs: sharp on a high-density screen; papers take the PDFs.
_DPI = 150

#: Side of the enlarged inset, as a fraction of the image; it sits in the lower-right corner.
INSET_FRACTION = 0.42


def _colour(i: int) -> tuple[float, ...]:
    """Distinct colours: the 10 saturated tab20 shades first, then their light partners."""
    cmap = plt.get_cmap("tab20")
    return cmap((2 * i) % 20 + (i // 10) % 2)


@dataclass(frozen=True)
class Rendered:
    """One figure's files: ``png`` for the page, ``pdf`` for a paper."""

    png: bytes
    pdf: bytes


def render(fig: Figure, tight: bool = False) -> Rendered:
    """Render a figure to PNG and PDF bytes and close it (frees pyplot's reference).

    ``tight`` crops to the drawn artists (needed when a legend sits outside the axes; it costs
    a second rendering pass, so laid-out figures skip it). The PDF carries no creation date,
    so the same figure gives the same bytes.
    """
    bbox = "tight" if tight else None
    png, pdf = io.BytesIO(), io.BytesIO()
    try:
        fig.savefig(png, format="png", dpi=_DPI, bbox_inches=bbox)
        fig.savefig(pdf, format="pdf", bbox_inches=bbox, metadata={"CreationDate": None})
    finally:
        plt.close(fig)
    return Rendered(png.getvalue(), pdf.getvalue())


# --- radar chart --------------------------------------------------------------------------------


def minmax_normalise(
    means: Mapping[str, Mapping[str, float]], metrics: Sequence[str]
) -> dict[str, np.ndarray]:
    """Min-max normalise each metric across methods to [0, 1].

    ``means[method][metric]`` → ``{method: radii (len(metrics),)}``. A metric on which every
    method scores the same carries no ranking, so all methods get 1 on it (nobody is worse).
    """
    table = np.array([[means[m][k] for k in metrics] for m in means], dtype=np.float64)
    lo, hi = table.min(axis=0), table.max(axis=0)
    span = hi - lo
    norm = np.where(span > 0, (table - lo) / np.where(span > 0, span, 1.0), 1.0)
    return {m: norm[i] for i, m in enumerate(means)}


def radar_area_percent(radii: Sequence[float] | np.ndarray) -> float:
    """Area of a radar polygon as a percentage of the full polygon (all radii 1).

    With ``n`` radii ``r_i`` at angles ``2πi/n`` the polygon's area is
    ``½·sin(2π/n)·Σ r_i r_{i+1}`` (indices cyclic); the full polygon's is
    ``½·sin(2π/n)·n``, so the ratio is ``Σ r_i r_{i+1} / n``. Radii in [0, 1]; returns a
    value in [0, 100].
    """
    r = np.asarray(radii, dtype=np.float64)
    if r.ndim != 1 or r.size < 3:
        raise ValueError("a radar polygon needs at least three radii")
    return float(100.0 * np.sum(r * np.roll(r, -1)) / r.size)


def radar_chart(
    means: Mapping[str, Mapping[str, float]], metrics: Sequence[str] = METRIC_NAMES,
    title: str = "",
) -> tuple[Rendered, dict[str, float]]:
    """Radar chart of metric means, min-max normalised across methods.

    Returns ``(figure, areas)``: ``areas[method]`` is the polygon's area in % of the full polygon
    (:func:`radar_area_percent`), also shown in the legend, highest first. Each method keeps
    the colour of its place in ``means``, so charts of one report colour a method alike.
    """
    radii = minmax_normalise(means, metrics)
    areas = {m: radar_area_percent(r) for m, r in radii.items()}
    angles = 2 * np.pi * np.arange(len(metrics)) / len(metrics)
    closed = np.append(angles, angles[0])
    fig = plt.figure(figsize=(7.5, 6.0))
    ax = fig.add_subplot(projection="polar")
    place = {method: i for i, method in enumerate(means)}
    for method in sorted(radii, key=areas.__getitem__, reverse=True):
        r = np.append(radii[method], radii[method][0])
        colour = _colour(place[method])
        # Past ten methods the colours are light partners of the first ten: dash them.
        ours = method == "LWNet"  # the method the report is about stands out
        ax.plot(closed, r, color=colour, linewidth=3.0 if ours else 1.5,
                linestyle="--" if place[method] >= 10 else "-", zorder=3 if ours else 2,
                label=f"{method} ({areas[method]:.1f} %)")
        ax.fill(closed, r, color=colour, alpha=0.08)
    # Polygonal rings and spokes: the full polygon is the reference of the area percentages.
    ax.grid(False)
    ax.spines["polar"].set_visible(False)
    for level in (0.25, 0.5, 0.75, 1.0):
        ax.plot(closed, np.full_like(closed, level), color="0.75" if level < 1 else "0.3",
                linewidth=0.7)
    for t in angles:
        ax.plot([t, t], [0, 1], color="0.75", linewidth=0.7)
    ax.set_xticks(angles)
    ax.set_xticklabels(metrics)
    ax.set_ylim(0, 1.02)
    ax.set_yticks([])
    ax.legend(loc="upper left", bbox_to_anchor=(1.08, 1.0), fontsize=8,
              title="method (area of full hexagon)", title_fontsize=8)
    if title:
        ax.set_title(title, pad=18)
    # The figure may travel without the page's note: each axis says its own scale.
    fig.text(0.02, 0.01, "each axis: the worst method's mean at the centre, the best's at the "
             "rim", fontsize=8, color="0.3")
    return render(fig, tight=True), areas


# --- box plots ----------------------------------------------------------------------------------


#: Units of the metrics that have one (the others are unitless indices).
UNITS = {"MI": "bits", "EN": "bits", "PSNR": "dB"}


def box_plots(
    scores: Mapping[str, Mapping[str, Sequence[float]]], metrics: Sequence[str], title: str = ""
) -> Rendered:
    """One panel per metric, one box per method, over all test images.

    ``scores[method][metric]`` holds the per-image values. Boxes show quartiles, whiskers 1.5 IQR,
    a line the median and a white dot the mean (as the first panel's legend says).
    """
    methods = list(scores)
    ncols = min(3, len(metrics))
    nrows = -(-len(metrics) // ncols)
    panel_width = max(4.0, 0.33 * len(methods))  # room for one rotated label per box
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_width * ncols, 3.8 * nrows),
                             squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        data = [np.asarray(scores[m][metric], dtype=np.float64) for m in methods]
        ax.boxplot(data, showmeans=True, widths=0.6, flierprops={"markersize": 2},
                   meanprops={"marker": "o", "markerfacecolor": "white",
                              "markeredgecolor": "black", "markersize": 4})
        ax.set_xticks(range(1, len(methods) + 1))
        ax.set_xticklabels(methods, rotation=60, ha="right", fontsize=8)
        ax.set_title(f"{metric} ({UNITS[metric]})" if metric in UNITS else metric)
        ax.grid(axis="y", alpha=0.3)
    axes.flat[0].legend(handles=[Line2D([], [], color="C1", label="median"),
                                 Line2D([], [], marker="o", linestyle="", label="mean",
                                        markerfacecolor="white", markeredgecolor="black")],
                        fontsize=7, loc="best")
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=14)
    fig.tight_layout(rect=(0, 0, 1, 0.97) if title else None)
    return render(fig)


# --- visual comparison grid ---------------------------------------------------------------------


def pick_inset(a: np.ndarray, b: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """The ``size``×``size`` region where both sources have the most structure: where the
    fusion has something to combine.

    Structure = summed gradient magnitude of each luma in a window; windows are ranked by the
    product of the two sums (the sum where either source is flat everywhere), scanned on a
    grid of stride size/4. Regions overlapping the lower-right corner, where the enlarged inset
    is drawn, are skipped unless every region does. Returns ``(row, col, height, width)``.
    """
    h, w = a.shape[:2]
    size = min(size, h, w)
    stride = max(1, size // 4)
    grid = [(r, c) for r in range(0, h - size + 1, stride) for c in range(0, w - size + 1, stride)]
    clear = [(r, c) for r, c in grid
             if not (r + size > (1 - INSET_FRACTION) * h and c + size > (1 - INSET_FRACTION) * w)]
    # On a small image every window reaches the corner; the inset then covers part of its region.
    starts = clear or grid
    rows, cols = np.array([s[0] for s in starts]), np.array([s[1] for s in starts])
    sums = []
    for img in (a, b):
        gy, gx = np.gradient(split_luma(np.asarray(img, dtype=np.float32))[0])
        # Integral image: each candidate window's sum in O(1).
        ii = np.pad(np.hypot(gy, gx).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        sums.append(ii[rows + size, cols + size] - ii[rows, cols + size]
                    - ii[rows + size, cols] + ii[rows, cols])
    score = sums[0] * sums[1]
    if not score.any():
        score = sums[0] + sums[1]
    best = int(np.argmax(score))
    return int(rows[best]), int(cols[best]), size, size


def _show(ax: Axes, img: np.ndarray, box: tuple[int, int, int, int], label: str) -> None:
    """Draw an image with a frame on ``box`` and the enlarged box in the lower-right corner."""
    # "none": the PDF keeps the image's own pixels; the PNG shows them as nearest would
    kw: dict[str, Any] = {"cmap": "gray", "vmin": 0.0, "vmax": 1.0, "interpolation": "none"}
    ax.imshow(img, **kw)
    r, c, h, w = box
    ax.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, fill=False, edgecolor="#ff3b30",
                           linewidth=1.2))
    inset = ax.inset_axes((1 - INSET_FRACTION, 0.0, INSET_FRACTION, INSET_FRACTION))
    inset.imshow(img[r:r + h, c:c + w], **kw)
    inset.set_xticks([])
    inset.set_yticks([])
    for spine in inset.spines.values():
        spine.set_edgecolor("#ff3b30")
        spine.set_linewidth(1.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(label, fontsize=9)


def comparison_grid(
    rows: Sequence[tuple[str, Mapping[str, np.ndarray]]], inset_size: int = 64,
    max_cols: int = 7,
) -> Rendered:
    """Visual comparison: one block per chosen pair, one panel per image.

    ``rows`` is a list of ``(row_label, images)`` where ``images`` maps a panel label to a float
    image in [0, 1] (``(H, W)`` or ``(H, W, 3)``): the two sources first, then every method's
    colour result. A pair's panels wrap after ``max_cols``. Each image gets a red frame on one
    region (chosen per pair by :func:`pick_inset` from the first two images) and that region
    enlarged in its lower-right corner.
    """
    ncols = min(max_cols, max(len(images) for _, images in rows))
    lines = [-(-len(images) // ncols) for _, images in rows]
    fig, axes = plt.subplots(sum(lines), ncols, figsize=(2.3 * ncols, 2.5 * sum(lines)),
                             squeeze=False)
    first = 0
    for (row_label, images), n_lines in zip(rows, lines):
        block = axes[first:first + n_lines].ravel()
        first += n_lines
        sources = list(images.values())
        box = pick_inset(sources[0], sources[1], inset_size)
        for ax, (label, img) in zip(block, images.items()):
            _show(ax, np.clip(img, 0.0, 1.0), box, label)
        block[0].set_ylabel(row_label, fontsize=9)
        for ax in block[len(images):]:
            ax.set_visible(False)
    fig.tight_layout(pad=0.4)
    return render(fig)


# --- SPI curves ---------------------------------------------------------------------------------

def spi_curves(logs: Mapping[str, Sequence[Mapping[str, float]]]) -> Rendered:
    """Admitted and refined patches and the label gain per SPI iteration.

    ``logs[model]`` is a table: rows with at least the keys of
    :data:`lwnet.reports.spi_log.SPI_COLUMNS`.
    Left panel: patches admitted to / refined in the pseudo-labelled pool (solid / dashed);
    right panel: the label gain, mean over the pool of each patch's best label score minus its
    best candidate's (in the run's SPI score), from 0 before the first iteration.
    """
    fig, (ax_n, ax_s) = plt.subplots(1, 2, figsize=(11, 3.8), sharex=True)
    for i, (model, rows) in enumerate(logs.items()):
        it = [float(r["iteration"]) for r in rows]
        colour = _colour(i)
        ax_n.plot(it, [float(r["admitted"]) for r in rows], "-o", color=colour, markersize=3,
                  label=f"{model}: admitted")
        ax_n.plot(it, [float(r["refined"]) for r in rows], "--s", color=colour, markersize=3,
                  label=f"{model}: refined")
        ax_s.plot([0.0, *it], [0.0, *(float(r["label_gain"]) for r in rows)], "-o",
                  color=colour, markersize=3, label=model)
    ax_n.set_xlabel("iteration")
    ax_n.set_ylabel("patches")
    ax_n.set_title("pseudo labels admitted / refined")
    ax_s.set_xlabel("iteration")
    ax_s.set_ylabel("mean gain in score s over the best candidate")
    ax_s.set_title("what the pseudo labels add (whole pool)")
    ax_n.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_n.set_ylim(bottom=0, top=max(ax_n.get_ylim()[1], 1))  # counts: none below 0, nor 0.05
    for ax in (ax_n, ax_s):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # iterations are whole numbers
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return render(fig)
