"""The benchmark's results: each row's fused luminance on the test ids and their per-image
metrics, both cached.

Everything of one pair type is cached under :func:`data_cache`, a folder keyed by the digest of
its test images, so other images (another data folder, an edited file) never reuse what was
computed from these. Within it, a computed row's outputs go to
``<row.cache_name>/<PAIR>/<id>.png``, the layout of an external results folder, so cached and
external methods are read back the same way; the metrics of each row go to
``metrics@<digest of the metric code>/<PAIR>/<row.cache_name>@<digest of its fused images>.csv``,
so they are reused exactly while the images they score are byte for byte the same.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from lwnet._code import code_digest, contents_digest, remove_superseded
from lwnet._files import atomic_write_bytes
from lwnet.data.datasets import harvard_pairs
from lwnet.errors import InputError
from lwnet.evaluation import evaluate_folders, result_files, rows_to_csv
from lwnet.evaluation.tables import ROW_KEYS
from lwnet.inference import fuse_pairs, output_path
from lwnet.reports.provenance import files_digest
from lwnet.reports.rows import Row

#: The code behind the cached per-image metrics: an edit there recomputes them.
METRIC_CODE = ("lwnet.metrics", "lwnet.evaluation", "lwnet.data.colour", "lwnet.data.io")


def data_cache(cache: Path, harvard: Path, pair_type: str) -> Path:
    """The cache folder of one pair type's test images under ``cache``: named by their digest
    (:func:`lwnet.reports.provenance.files_digest`, the one the report's provenance shows)."""
    return cache / f"{pair_type}@{files_digest(harvard_pairs(harvard, pair_type, 'test'))}"


def result_folder(row: Row, cache: Path) -> Path:
    """Where a row's fused luminance images live."""
    if row.kind == "external":
        assert row.folder is not None  # an external row is its folder
        return row.folder
    return cache / row.cache_name


def fuse_row(row: Row, harvard: Path, pair_type: str, cache: Path, jobs: int,
             progress: bool) -> int:
    """Compute (or reuse) a computed row's fused luminance on the test ids; returns #written.

    Outputs go to ``cache/<row.cache_name>``.
    """
    if row.kind == "external":
        return 0
    # The name its output folder records: LWNet rows are told apart by their weights.
    method = row.cache_name if row.kind == "LWNet" else row.name
    assert row.fn is not None  # a computed row has its function
    run = fuse_pairs({method: row.fn}, harvard_pairs(harvard, pair_type, "test"),
                     lambda _, pair: output_path(cache, row.cache_name, pair_type, pair.id),
                     jobs=jobs, luma=True, progress=progress, label=pair_type)
    return run.written


def _read_scores_csv(path: Path) -> dict[str, dict[str, float]]:
    """Per-image metrics cached by :func:`score_rows` (written with ``rows_to_csv``)."""
    with path.open(newline="") as fh:
        return {r["id"]: {k: float(v) for k, v in r.items() if k not in ROW_KEYS}
                for r in csv.DictReader(fh)}


def _cached_scores(store: Path, files: Mapping[str, Path]) -> dict[str, dict[str, float]] | None:
    """The per-image metrics cached at ``store`` if it covers ``files``."""
    if not store.is_file():
        return None
    scores = _read_scores_csv(store)
    return {i: scores[i] for i in files} if set(scores) >= set(files) else None


def score_rows(rows: Sequence[Row], harvard: Path, pair_type: str, cache: Path, jobs: int,
               progress: bool) -> tuple[dict[str, dict[str, dict[str, float]]], list[str]]:
    """Per-image metrics ``{method: {id: {metric: value}}}`` of rows on the test ids.

    Metrics still valid in the cache are reused; the others are computed in one
    :func:`lwnet.evaluation.evaluate_folders` run. A row whose results are incomplete is left
    out and named in the returned failures.
    """
    pairs = harvard_pairs(harvard, pair_type, split="test")
    ids = [p.id for p in pairs]
    scores: dict[str, dict[str, dict[str, float]]] = {}
    todo: dict[str, Path] = {}
    stores: dict[str, Path] = {}
    failures = []
    for row in rows:
        try:
            files = result_files(result_folder(row, cache), pair_type, ids)
        except InputError as exc:
            failures.append(f"{row.name} on {pair_type}: {exc}")
            continue
        store = _score_store(cache, pair_type, row.cache_name, contents_digest(files.values()))
        cached = _cached_scores(store, files)
        if cached is None:
            todo[row.name] = result_folder(row, cache)
            stores[row.name] = store
        else:
            scores[row.name] = cached
    computed = _evaluate(pairs, todo, jobs, progress, failures, pair_type)
    if computed:
        metrics = [k for k in computed[0] if k not in ROW_KEYS]
        for name in {str(r["method"]) for r in computed}:
            image_rows = [r for r in computed if r["method"] == name]
            store = stores[name]
            atomic_write_bytes(store, rows_to_csv(image_rows, metrics).encode(), overwrite=True)
            # Metrics of images since replaced are of no further use.
            remove_superseded(store, store.name[:store.name.rindex("@") + 1])
            scores[name] = {str(r["id"]): {m: float(r[m]) for m in metrics}  # type: ignore
                            for r in image_rows}
    return {r.name: scores[r.name] for r in rows if r.name in scores}, failures


def _evaluate(pairs: Sequence, todo: Mapping[str, Path], jobs: int, progress: bool,
              failures: list[str], pair_type: str) -> list[dict[str, object]]:
    """All of ``todo`` in one evaluation run; if that fails, one run per method to isolate it."""
    if not todo:
        return []
    try:
        return evaluate_folders(pairs, todo, jobs, progress=progress)
    except Exception as exc:  # noqa: BLE001 - find the culprit, keep the rest
        if len(todo) == 1:
            failures.append(f"{next(iter(todo))} on {pair_type}: {type(exc).__name__}: {exc}")
            return []
    rows: list[dict[str, object]] = []
    for name, folder in todo.items():
        rows += _evaluate(pairs, {name: folder}, jobs, progress, failures, pair_type)
    return rows


def _score_store(cache: Path, pair_type: str, name: str, images: str) -> Path:
    """Where the metrics of row ``name`` on the fused images of digest ``images`` are kept."""
    return cache / f"metrics@{code_digest(METRIC_CODE)}" / pair_type / f"{name}@{images}.csv"
