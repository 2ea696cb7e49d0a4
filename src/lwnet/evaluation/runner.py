"""Metrics of fused results over a set of source pairs, in parallel.

A *result* is a folder of fused images, or a fusion method run on the fly — a per-image function
``(a, b) -> f`` or a registered method named ``"builtin:<name>"`` (:func:`lwnet.methods.get_method`)
— through :func:`lwnet.data.fuse_in_luma`, and scored on its fused luminance: the convention of
``lwnet fuse --luma`` folders and of the external folders, so that every row of a table is
scored alike (scoring the colour result would also score the RGB gamut clipping of the colour
round trip). A folder holds ``<id>.<ext>`` or ``<PAIR>/<id>.<ext>`` (both layouts are accepted;
the pair-type subfolder wins when it exists). Every id of the pairs must be present: a folder
missing some is an error naming the folder and the first missing ids, never a smaller average.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lwnet.data.colour import fuse_in_luma
from lwnet.data.datasets import ImagePair, images_by_stem
from lwnet.data.io import check_same_size, read_fusion_pair, read_image
from lwnet.errors import ConfigError, InputError, require_counts
from lwnet.methods import FuseFn, get_method, method_names
from lwnet.metrics import VIF_MIN_SIDE, compute_metrics
from lwnet.metrics.conventions import Reduction, VifFlavour
from lwnet.parallel import Workers, require_picklable

BUILTIN_PREFIX = "builtin:"
#: A resolved result: a mapping id → fused file, or the fusion function to run.
Resolved = dict[str, Path] | FuseFn


def check_metric_size(img: np.ndarray, path: object) -> None:
    """Raise :class:`InputError` naming ``path`` if the image is too small for VIF's 4 scales."""
    h, w = img.shape[:2]
    if min(h, w) < VIF_MIN_SIDE:
        raise InputError(f"{path}: image is {w}x{h}; the metrics need at least "
                         f"{VIF_MIN_SIDE}x{VIF_MIN_SIDE} (VIF's coarsest scale)")


def read_sources(a_path: str | os.PathLike[str],
                 b_path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read a source pair for scoring, checking sizes and that A (the MRI) is greyscale, as
    fusing does; errors name the offending file."""
    a, b = read_fusion_pair(a_path, b_path)
    check_metric_size(a, a_path)
    return a, b


def read_fused(f_path: str | os.PathLike[str], a: np.ndarray,
               a_path: str | os.PathLike[str]) -> np.ndarray:
    """Read a fused image and check it has the size of its source ``a``."""
    f = read_image(f_path)
    check_same_size(a, f, a_path, f_path)
    return f


def read_triple(a_path: str | os.PathLike[str], b_path: str | os.PathLike[str],
                f_path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read sources and fused image, checking sizes; errors name the offending file."""
    a, b = read_sources(a_path, b_path)
    return a, b, read_fused(f_path, a, a_path)


def result_files(folder: str | os.PathLike[str], pair_type: str | None,
                 ids: Sequence[str]) -> dict[str, Path]:
    """Map every id to its fused file in ``folder`` (``<id>.*`` or ``<pair_type>/<id>.*``)."""
    folder = Path(folder)
    if pair_type and (folder / pair_type).is_dir():
        folder = folder / pair_type
    files = images_by_stem(folder, "result folder")
    missing = [i for i in ids if i not in files]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise InputError(f"{folder}: missing {len(missing)} of {len(ids)} results "
                         f"(first: {shown})")
    return {i: files[i] for i in ids}


def resolve_results(results: Mapping[str, str | os.PathLike[str] | FuseFn],
                    pairs: Sequence[ImagePair]) -> dict[str, Resolved]:
    """Check every result before any work: folders complete, built-in names known."""
    if not results:
        raise ConfigError("no results to evaluate (give at least one NAME=DIR)")
    if not pairs:
        raise InputError("no source pairs to evaluate")
    pair_types = {p.pair_type for p in pairs}
    ids = [p.id for p in pairs]
    resolved: dict[str, Resolved] = {}
    for name, spec in results.items():
        if callable(spec):
            resolved[name] = spec
        elif isinstance(spec, str) and spec.startswith(BUILTIN_PREFIX):
            method = spec[len(BUILTIN_PREFIX):]
            if method not in method_names():
                raise ConfigError(f"unknown built-in method {method!r}; known: "
                                  f"{', '.join(method_names())}")
            resolved[name] = get_method(method)
        else:
            if len(pair_types) > 1:
                raise ConfigError("evaluate one pair type at a time")
            resolved[name] = result_files(spec, next(iter(pair_types)), ids)
    return resolved


def evaluate_pair(pair: ImagePair, results: Mapping[str, Resolved], reduction: Reduction | None,
                  vif_flavour: VifFlavour, extras: bool) -> list[dict[str, object]]:
    """Per-image rows of every result for one pair (sources read once)."""
    a, b = read_sources(pair.a, pair.b)
    rows: list[dict[str, object]] = []
    for name, res in results.items():
        if callable(res):
            _, f = fuse_in_luma(res, a, b)  # the fused luminance, see above
        else:
            f = read_fused(res[pair.id], a, pair.a)
        scores = compute_metrics(a, b, f, reduction=reduction, vif_flavour=vif_flavour,
                                 extras=extras)
        rows.append({"method": name, "pair_type": pair.pair_type, "id": pair.id, **scores})
    return rows


def evaluate_folders(
    pairs: Sequence[ImagePair], results: Mapping[str, str | os.PathLike[str] | FuseFn],
    jobs: int = 1, *,
    reduction: Reduction | None = None, vif_flavour: VifFlavour = "viff", extras: bool = True,
    progress: bool = True,
) -> list[dict[str, object]]:
    """Metrics of every result on every pair → per-image rows, grouped by method then pair order.

    ``results`` maps a display name to a folder (see the module docstring), a fusion function
    ``(a, b) -> f`` or ``"builtin:<method>"``. Each row holds ``method``, ``pair_type``, ``id``
    and the metric keys of :func:`lwnet.metrics.compute_metrics`. ``jobs > 1`` uses worker
    processes, which receive the functions pickled (module-level functions, or objects such as
    :class:`lwnet.reports.rows.WeightsFusion`); a tqdm bar goes to stderr unless
    ``progress`` is false. The first error (an :class:`InputError`
    naming the file) stops the run.
    """
    require_counts(jobs=jobs)
    resolved = resolve_results(results, pairs)
    if jobs > 1:
        require_picklable({name: res for name, res in resolved.items() if callable(res)})
    args = (resolved, reduction, vif_flavour, extras)
    bar = tqdm(total=len(pairs), desc="evaluate", unit="pair", file=sys.stderr,
               disable=not progress)
    per_pair: list[list[dict[str, object]]] = []
    with bar, Workers(jobs, preload=[__name__]) as workers:
        for rows in workers.map(evaluate_pair, ((pair, *args) for pair in pairs)):
            per_pair.append(rows)
            bar.update()
    order = {name: i for i, name in enumerate(resolved)}
    rows = [row for rows in per_pair for row in rows]
    return sorted(rows, key=lambda r: order[str(r["method"])])  # stable: pair order kept
