"""``lwnet benchmark``: fuse, evaluate and report every method on the test split (SPEC §6).

Layout of a report folder::

    REPORT_DIR/
      index.html                      everything below, images embedded (no server needed)
      tables/<PAIR>.{md,csv,tex}      metric means ± std, best / second best marked
      tables/<PAIR>_paired.md         LWNet minus each method, paired over the images
      scores/<PAIR>.csv               per-image metric values (what the box plots show)
      figures/{boxplots,radar,grid}_<PAIR>.png, spi_curves.png
      complexity.{md,csv}             parameters, MACs, median CPU latency at 256×256
      cache/<Method>@<digest>/<PAIR>/<id>.png  fused luminance of every computed method
                                      (reused; the digest is of the weights for LWNet, of the
                                      methods' code for classical methods)
      cache/metrics@<digest>/<PAIR>/<Method>[@<digest>].csv  per-image metrics (reused while
                                      newer than the images; the folder's digest is that of
                                      the metric code)

A computed method's fused luminance is cached in the layout of an external results folder, so
cached and external methods are read back the same way (:class:`ExternalMethod`). A method that
fails on a pair type is reported on the page and left out of that pair type's results.
"""

from __future__ import annotations

import csv
import io
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from lwnet._code import code_digest
from lwnet._text import counted
from lwnet.data.colour import merge_luma, split_luma
from lwnet.data.datasets import harvard_pairs, pair_types
from lwnet.data.io import atomic_write_bytes, read_image
from lwnet.errors import InputError, OutputExistsError
from lwnet.evaluation import (
    evaluate_folders,
    markdown_table,
    paired_cells,
    rank_marks,
    result_files,
    rows_to_csv,
    summarise,
    summary_cell,
    to_csv,
    to_latex,
    to_markdown,
)
from lwnet.evaluation.tables import ROW_KEYS
from lwnet.inference import SHIPPED_MODELS, WEIGHTS_DIR, fuse_pairs, output_path
from lwnet.inference.weights import file_sha256
from lwnet.methods import (
    ExternalMethod,
    builtin_code_digest,
    external_methods,
    get_method,
    method_names,
)
from lwnet.metrics import EXTRA_NAMES, METRIC_NAMES
from lwnet.reports import figures
from lwnet.reports.html import Section, html_table, image_tag, render_page
from lwnet.reports.spi_log import default_spi_logs, read_spi_log

if TYPE_CHECKING:
    import torch

#: The code behind the cached per-image metrics: an edit there recomputes them.
METRIC_CODE = ("lwnet.metrics", "lwnet.evaluation", "lwnet.data.colour")

LATENCY_SIZE = (256, 256)


@dataclass
class BenchmarkConfig:
    """What ``lwnet benchmark`` runs.

    Args:
        data: shared data root (holds ``harvard/`` and optionally ``external/``).
        out: report folder.
        cache: fused-output cache (default ``<out>/cache``).
        external: folders of external methods (``<Method>/<PAIR>/<id>.png``); ``None`` means
            ``<data>/external`` when it exists.
        methods: keep only these row names (default: all).
        pairs: pair types (default: every one with a test split).
        jobs: worker processes for fusion and metrics.
        weights: folder of LWNet weights ``<model>[-<variant>].safetensors`` (default: shipped).
        spi_logs: ``{model name: log.csv or model card}`` for the SPI curves (default: the
            logs beside the weights, see :func:`default_spi_logs`).
        grid_pairs: pairs per pair type in the visual comparison.
        latency_repeats: timed runs per method for the complexity table (median reported).
        latency_threads: torch threads while timing (1: the classical methods are
            single-threaded NumPy, and on a shared machine 2 threads measured 5-20× slower
            and erratic for LWNet because of contention).
        overwrite: replace an existing report (cached outputs are reused either way).
        progress: show progress bars.
    """

    data: Path
    out: Path
    cache: Path | None = None
    external: Sequence[Path] | None = None
    methods: Sequence[str] | None = None
    pairs: Sequence[str] | None = None
    jobs: int = 1
    weights: Path | None = None
    spi_logs: Mapping[str, Path] | None = None
    grid_pairs: int = 2
    latency_repeats: int = 20
    latency_threads: int = 1
    overwrite: bool = False
    progress: bool = True


@dataclass
class Row:
    """One method of the benchmark: computed (``fn``) or read from a results folder."""

    name: str
    kind: str  # "LWNet", "classical" or "external"
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    folder: Path | None = None  # external results folder
    model_key: str | None = None  # for LWNet rows: which pair types' weights this is
    weights: Path | None = None

    @property
    def cache_name(self) -> str:
        """Folder name in the cache: LWNet rows carry their weights' digest, classical rows the
        digest of the built-in methods' code, so retrained weights or an edited method never
        reuse stale outputs."""
        if self.weights is not None:
            return f"{self.name}@{file_sha256(self.weights)[:12]}"
        if self.kind == "classical":
            return f"{self.name}@{builtin_code_digest()}"
        return self.name


@dataclass
class PairResult:
    """Per-image scores of every method on one pair type: ``scores[method][metric] -> list``."""

    pair_type: str
    ids: list[str]
    scores: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def image_rows(self, method: str) -> list[dict[str, object]]:
        """Per-image rows ``{method, pair_type, id, <metric>: value}`` of one method."""
        s = self.scores[method]
        return [{"method": method, "pair_type": self.pair_type, "id": pid,
                 **{m: v[i] for m, v in s.items()}} for i, pid in enumerate(self.ids)]


# --- methods ------------------------------------------------------------------------------------


class WeightsFusion:
    """Picklable ``(a, b) -> f`` fusing with the LWNet weights in a file (loaded on first use).

    Only the path is pickled, so worker processes load their own copy.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._model = None

    def __getstate__(self) -> dict:
        return {"path": self.path, "_model": None}

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        from lwnet.inference import fuse_batch, load_model

        if self._model is None:
            self._model = load_model(self.path)
        return fuse_batch(self._model, a[None], b[None])[0]


def lwnet_rows(weights_dir: Path) -> list[Row]:
    """LWNet and its variants from ``<model>[-<variant>].safetensors`` files.

    ``spect-mri.safetensors`` and ``ct-mri.safetensors`` are the row "LWNet";
    ``spect-mri-<variant>.safetensors`` (e.g. ``-no-aca``, ``-initial-labels``) the row
    ``LWNet-<variant>`` — ablations and baselines appear where their weights exist. Each file
    is checked here (safetensors only, fitting its architecture), so an unsafe or broken file
    stops the benchmark with :class:`WeightsError` before any work.
    """
    from lwnet.inference.weights import load_weights

    rows: dict[str, Row] = {}
    if not weights_dir.is_dir():
        return []
    for path in sorted(weights_dir.glob("*.safetensors")):
        for key in set(SHIPPED_MODELS.values()):
            if path.stem == key or path.stem.startswith(key + "-"):
                variant = path.stem[len(key):]
                name = f"LWNet{variant}"
                load_weights(path)
                rows[f"{name}@{key}"] = Row(name, "LWNet", WeightsFusion(path), model_key=key,
                                            weights=path)
    return list(rows.values())


def collect_rows(cfg: BenchmarkConfig) -> list[Row]:
    """Every method of the benchmark, LWNet rows first, filtered by ``cfg.methods``."""
    rows = lwnet_rows(cfg.weights or WEIGHTS_DIR)
    rows += [Row(name, "classical", get_method(name)) for name in method_names()]
    ext_dirs = cfg.external
    if ext_dirs is None:
        default = cfg.data / "external"
        ext_dirs = [default] if default.is_dir() else []
    for folder in ext_dirs:
        rows += [Row(m.name, "external", folder=m.folder) for m in external_methods(folder)]
    if cfg.methods:
        known = {r.name for r in rows}
        unknown = [m for m in cfg.methods if m not in known]
        if unknown:
            raise InputError(f"unknown method(s) {', '.join(unknown)}; available: "
                             f"{', '.join(sorted(known))}")
        rows = [r for r in rows if r.name in cfg.methods]
    return rows


def rows_for(rows: Sequence[Row], pair_type: str) -> list[Row]:
    """The rows that apply to a pair type.

    LWNet weights by :data:`SHIPPED_MODELS`; an external method only where it has a
    ``<PAIR>`` folder (a folder with some of its results missing is a failure, not skipped).
    """
    def applies(r: Row) -> bool:
        if r.kind == "LWNet":
            return r.model_key == SHIPPED_MODELS.get(pair_type)
        if r.kind == "external":
            return (r.folder / pair_type).is_dir()  # type: ignore[operator]
        return True

    return [r for r in rows if applies(r)]


# --- fusing and scoring -------------------------------------------------------------------------


def result_folder(row: Row, cache: Path) -> Path:
    """Where a row's fused luminance images live."""
    return row.folder if row.kind == "external" else cache / row.cache_name


def fuse_row(row: Row, harvard: Path, pair_type: str, cache: Path, jobs: int,
             progress: bool) -> int:
    """Compute (or reuse) a computed row's fused luminance on the test ids; returns #written.

    Outputs go to ``cache/<row.cache_name>``.
    """
    if row.kind == "external":
        return 0
    # The name its output folder records: LWNet rows are told apart by their weights.
    method = row.cache_name if row.kind == "LWNet" else row.name
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
    """The cached per-image metrics if they cover ``files`` and are newer than all of them."""
    if not store.is_file() or store.stat().st_mtime < max(f.stat().st_mtime
                                                          for f in files.values()):
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
    failures = []
    for row in rows:
        try:
            files = result_files(result_folder(row, cache), pair_type, ids)
        except InputError as exc:
            failures.append(f"{row.name} on {pair_type}: {exc}")
            continue
        cached = _cached_scores(_score_store(cache, pair_type, row.cache_name), files)
        if cached is None:
            todo[row.name] = result_folder(row, cache)
        else:
            scores[row.name] = cached
    computed = _evaluate(pairs, todo, jobs, progress, failures, pair_type)
    if computed:
        metrics = [k for k in computed[0] if k not in ROW_KEYS]
        cache_names = {r.name: r.cache_name for r in rows}
        for name in {str(r["method"]) for r in computed}:
            image_rows = [r for r in computed if r["method"] == name]
            atomic_write_bytes(_score_store(cache, pair_type, cache_names[name]),
                               rows_to_csv(image_rows, metrics).encode(), overwrite=True)
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


def _score_store(cache: Path, pair_type: str, name: str) -> Path:
    return cache / f"metrics@{code_digest(METRIC_CODE)}" / pair_type / f"{name}.csv"


# --- complexity ---------------------------------------------------------------------------------


class _ArrayMethod:
    """A numpy fusion function called like a network, so latency is measured the same way."""

    def __init__(self, fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        self.fn = fn

    def to(self, *_: object, **__: object) -> _ArrayMethod:
        return self

    def eval(self) -> _ArrayMethod:
        return self

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
        # torch (1, 1, H, W) in, as measure_latency passes them
        return self.fn(a[0, 0].numpy(), b[0, 0].numpy())


def complexity_table(rows: Sequence[Row], repeats: int, threads: int = 1
                     ) -> tuple[list[dict[str, object]], list[str]]:
    """Parameters, MACs per 256×256 pair and median CPU latency of every computed row.

    Measured in one run, one after the other, with the same settings (``threads`` torch
    threads, 2 warm-up runs, ``repeats`` timed runs, median); for classical methods
    params/MACs are ``None``. Each LWNet weights file is its own row, labelled ``<name> (<model>)``.
    Returns ``(table, failures)``; a method that fails is left out and named in ``failures``.
    """
    from lwnet.model.complexity import measure_latency, profile_model

    table, failures = [], []
    for row in rows:
        if row.kind == "external":
            continue
        label = f"{row.name} ({row.model_key})" if row.kind == "LWNet" else row.name
        try:
            if row.kind == "LWNet":
                from lwnet.inference import load_model

                prof = profile_model(load_model(row.weights), LATENCY_SIZE, threads=threads,
                                     warmup=2, repeats=repeats)
                params, macs, ms = prof["params"], prof["macs_per_pair"], prof["latency_ms"]
            else:
                times = measure_latency(_ArrayMethod(row.fn), LATENCY_SIZE, threads=threads,
                                        warmup=2, repeats=repeats)
                params, macs, ms = None, None, 1000 * statistics.median(times)
        except Exception as exc:  # noqa: BLE001 - one failing method must not stop the rest
            failures.append(f"{label} (complexity): {type(exc).__name__}: {exc}")
            continue
        table.append({"method": label, "params": params, "macs": macs, "latency_ms": ms})
    return table, failures


def _fmt_count(x: object) -> str:
    if x is None:
        return "—"
    x = int(x)  # type: ignore[arg-type]
    return f"{x / 1e9:.3f} G" if x >= 1e8 else f"{x / 1e6:.2f} M" if x >= 1e5 else f"{x:,}"


def complexity_cells(table: Sequence[Mapping[str, object]]) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows of the complexity table."""
    header = ["method", "parameters", "MACs (256×256)", "CPU latency (ms, median)"]
    return header, [[str(r["method"]), _fmt_count(r["params"]), _fmt_count(r["macs"]),
                     f"{float(r['latency_ms']):.1f}"] for r in table]


def csv_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


# --- orchestration ------------------------------------------------------------------------------


def grid_ids(ids: Sequence[str], n: int) -> list[str]:
    """``n`` test ids spread evenly over the (slice-ordered) split, for the comparison grid."""
    if n <= 0 or not ids:
        return []
    idx = np.linspace(0, len(ids) - 1, min(n, len(ids)) + 2)[1:-1]
    return [ids[int(round(i))] for i in idx]


def grid_figure(harvard: Path, pair_type: str, ids: Sequence[str], rows: Sequence[Row],
                cache: Path) -> bytes:
    """Both sources and every method's colour result (fused luma + the source's chroma)."""
    pairs = {p.id: p for p in harvard_pairs(harvard, pair_type, split="test")}
    grid = []
    for pid in ids:
        pair = pairs[pid]
        a, b = read_image(pair.a), read_image(pair.b)
        chroma = split_luma(b)[1]
        images = {"MRI": a, pair.b.parent.name: b}
        for row in rows:
            luma = ExternalMethod(result_folder(row, cache)).luma(pair_type, pid)
            images[row.name] = merge_luma(luma, chroma)
        grid.append((f"{pair_type} {pid}", images))
    return figures.comparison_grid(grid)


class ReportWriter:
    """Writes report files atomically and keeps their bytes for the HTML page."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def write(self, rel: str, data: bytes | str) -> bytes:
        raw = data.encode() if isinstance(data, str) else data
        atomic_write_bytes(self.out / rel, raw, overwrite=True)
        return raw


def _progress(msg: str, cfg: BenchmarkConfig) -> None:
    if cfg.progress:
        tqdm.write(msg)


def run_benchmark(cfg: BenchmarkConfig) -> Path:
    """Run the whole benchmark and write the report folder; returns the ``index.html`` path.

    Raises :class:`InputError` for a missing data folder or unknown method/pair names and
    :class:`OutputExistsError` when the report exists and ``cfg.overwrite`` is false.
    """
    harvard = cfg.data / "harvard"
    if not harvard.is_dir():
        raise InputError(f"{harvard}: no such folder (expected the Harvard-layout data)")
    index = cfg.out / "index.html"
    if index.exists() and not cfg.overwrite:
        raise OutputExistsError(f"{index}: report already exists (use --overwrite to rewrite "
                                "it; cached fused outputs are reused either way)")
    cache = cfg.cache or cfg.out / "cache"
    available = [p for p in pair_types(harvard) if (harvard / "splits" / f"{p}_test.txt").is_file()]
    todo = list(cfg.pairs or available)
    unknown = [p for p in todo if p not in available]
    if unknown:
        raise InputError(f"unknown pair type(s) {', '.join(unknown)}; available: "
                         f"{', '.join(available)}")
    rows = collect_rows(cfg)
    if not rows:
        raise InputError("no methods to benchmark")
    failures = _requested_but_absent(rows, todo, cfg.methods)
    writer = ReportWriter(cfg.out)
    results: dict[str, PairResult] = {}
    done_rows: dict[str, list[Row]] = {}
    t0 = time.perf_counter()

    for pt in todo:
        ids = [p.id for p in harvard_pairs(harvard, pt, split="test")]
        fused = []
        for row in rows_for(rows, pt):
            try:
                written = fuse_row(row, harvard, pt, cache, cfg.jobs, cfg.progress)
            except Exception as exc:  # noqa: BLE001 - one failing method must not stop the rest
                failures.append(f"{row.name} on {pt}: {type(exc).__name__}: {exc}")
                _progress(f"FAILED {failures[-1]}", cfg)
                continue
            fused.append(row)
            _progress(f"{pt} {row.name}: {written} fused, {len(ids) - written} reused "
                      f"({time.perf_counter() - t0:.0f} s)", cfg)
        per_image, failed = score_rows(fused, harvard, pt, cache, cfg.jobs, cfg.progress)
        failures += failed
        res = PairResult(pt, ids)
        for name, by_id in per_image.items():
            metrics = list(by_id[ids[0]])
            res.scores[name] = {m: [by_id[i][m] for i in ids] for m in metrics}
        results[pt] = res
        done_rows[pt] = [r for r in fused if r.name in per_image]
        _progress(f"{pt}: {counted(len(per_image), 'method')} scored "
                  f"({time.perf_counter() - t0:.0f} s)", cfg)

    sections = _pair_sections(results, done_rows, cfg, harvard, cache, writer)
    # Only the rows of the pair types run: a SPECT-MRI-only report times no CT-MRI model.
    ran = [r for r in rows if any(r in done for done in done_rows.values())]
    complexity, failed = _complexity_section(ran, cfg, writer)
    sections.append(complexity)
    failures += failed
    # The shipped models' SPI logs belong to a report with LWNet rows; logs named with
    # --spi-log always show.
    lwnet_ran = any(r.kind == "LWNet" for r in ran)
    spi = _spi_section(cfg, writer) if lwnet_ran or cfg.spi_logs is not None else None
    if spi is not None:
        sections.append(spi)
    if failures:
        sections.append(Section("Failures", ["<ul>" + "".join(
            f"<li>{_esc(f)}</li>" for f in failures) + "</ul>"], "failures"))
    intro = (f'<p class="note">Test split of {_esc(str(harvard))}: '
             + ", ".join(f"{pt} ({len(r.ids)} pairs)" for pt, r in results.items())
             + (". The SPECT-MRI model runs unchanged on PET-MRI" if "PET-MRI" in results else "")
             + ". All metrics are higher-is-better, computed on 8-bit luma; best in bold, second "
               "best underlined.</p>")
    page = render_page("LWNet benchmark report", sections, intro)
    writer.write("index.html", page)
    return index


def _requested_but_absent(rows: Sequence[Row], pair_types: Sequence[str],
                          requested: Sequence[str] | None) -> list[str]:
    """Methods asked for by name that have nothing for some of ``pair_types`` (no results
    folder of that pair type, no weights for it), as notes for the report's failures; one that
    has nothing for any of them raises :class:`InputError`."""
    if not requested:
        return []
    absent = {name: [pt for pt in pair_types
                     if not any(r.name == name for r in rows_for(rows, pt))]
              for name in requested}
    never = [name for name, pts in absent.items() if len(pts) == len(pair_types)]
    if never:
        raise InputError(f"{', '.join(never)}: no results or weights for "
                         f"{', '.join(pair_types)}")
    return [f"{name}: nothing for {', '.join(pts)} (no results folder or weights of that pair "
            "type)" for name, pts in absent.items() if pts]


def _esc(text: str) -> str:
    import html

    return html.escape(text)


def _pair_sections(results: Mapping[str, PairResult], rows: Mapping[str, list[Row]],
                   cfg: BenchmarkConfig, harvard: Path, cache: Path,
                   writer: ReportWriter) -> list[Section]:
    sections = []
    for pt, res in results.items():
        sec = Section(f"{pt} ({len(res.ids)} test pairs)", anchor=pt)
        sections.append(sec)
        if not res.scores:
            sec.parts.append('<p class="note">No method produced results.</p>')
            continue
        writer.write(f"scores/{pt}.csv", _per_image_csv(res))
        header, cells, marks = write_metric_tables(res, writer, f"tables/{pt}")
        sec.parts.append("<h3>Metrics (mean ± std)</h3>" + html_table(header, cells, marks))
        header, cells, marks = write_metric_tables(res, writer, f"tables/{pt}_extras",
                                                   EXTRA_NAMES)
        sec.parts.append("<h3>Common extras (mean ± std)</h3>"
                         + html_table(header, cells, marks))
        sec.parts.append(f'<p class="note">Also as tables/{pt}.md, .csv and .tex (extras: '
                         f'tables/{pt}_extras.*); per-image values in scores/{pt}.csv.</p>')
        if "LWNet" in res.scores and len(res.scores) > 1:
            image_rows = [r for m in res.scores for r in res.image_rows(m)]
            header = ["LWNet minus", *METRIC_NAMES]
            cells = paired_cells(image_rows, "LWNet", METRIC_NAMES)
            writer.write(f"tables/{pt}_paired.md", markdown_table(header, cells))
            sec.parts.append(
                "<h3>LWNet minus each method, paired over the test images</h3>"
                + html_table(header, cells)
                + '<p class="note">Mean ± standard error of the per-image difference; ▲/▼: '
                  "LWNet ahead/behind by more than two standard errors; unmarked: within noise "
                  f"(also as tables/{pt}_paired.md).</p>")
        metrics = list(next(iter(res.scores.values())))
        png = writer.write(f"figures/boxplots_{pt}.png",
                           figures.box_plots(res.scores, metrics, title=pt))
        sec.parts.append("<h3>Distribution over test images</h3>" + image_tag(png, "box plots"))
        means = {m: {k: float(np.mean(v)) for k, v in s.items()} for m, s in res.scores.items()}
        if len(means) >= 2:
            radar, areas = figures.radar_chart(means, METRIC_NAMES, title=pt)
            writer.write(f"figures/radar_{pt}.png", radar)
            ranked = sorted(areas.items(), key=lambda kv: -kv[1])
            sec.parts.append(
                "<h3>Radar (six metrics min-max normalised across methods)</h3>"
                + image_tag(radar, "radar chart")
                + html_table(["method", "area (% of full hexagon)"],
                             [[m, f"{a:.1f}"] for m, a in ranked]))
        ids = grid_ids(res.ids, cfg.grid_pairs)
        if ids:
            try:
                grid = writer.write(f"figures/grid_{pt}.png",
                                    grid_figure(harvard, pt, ids, rows[pt], cache))
            except InputError as exc:
                sec.parts.append(f'<p class="note">Comparison grid failed: {_esc(str(exc))}</p>')
            else:
                sec.parts.append("<h3>Visual comparison (red frame: region enlarged in the "
                                 "corner)</h3>" + image_tag(grid, "comparison grid"))
    return sections


def _per_image_csv(res: PairResult) -> str:
    metrics = list(next(iter(res.scores.values())))
    return rows_to_csv([r for m in res.scores for r in res.image_rows(m)], metrics)


def _complexity_section(rows: Sequence[Row], cfg: BenchmarkConfig, writer: ReportWriter
                        ) -> tuple[Section, list[str]]:
    """The complexity table of ``rows``, and the methods that failed to run."""
    _progress("measuring complexity (parameters, MACs, latency at 256x256)", cfg)
    table, failed = complexity_table(rows, cfg.latency_repeats, cfg.latency_threads)
    header, cells = complexity_cells(table)
    writer.write("complexity.md", markdown_table(header, cells))
    writer.write("complexity.csv", csv_table(
        ["method", "params", "macs", "latency_ms"],
        [[str(r["method"]), "" if r["params"] is None else str(r["params"]),
          "" if r["macs"] is None else str(r["macs"]), f"{float(r['latency_ms']):.3f}"]
         for r in table]))
    note = (f'<p class="note">One 256×256 pair, CPU, {cfg.latency_threads} torch thread(s), '
            f"median of "
            f"{cfg.latency_repeats} runs after 2 warm-up runs, all measured in this run one "
            "after the other. External methods are read from their result folders (their "
            "timings are in their folder's MANIFEST).</p>")
    return Section("Complexity", [html_table(header, cells), note], "complexity"), failed


def _spi_section(cfg: BenchmarkConfig, writer: ReportWriter) -> Section | None:
    logs_paths = cfg.spi_logs if cfg.spi_logs is not None else default_spi_logs(
        cfg.weights or WEIGHTS_DIR)
    if not logs_paths:
        return None
    logs = {}
    for name, path in logs_paths.items():
        try:
            logs[name] = read_spi_log(path)
        except (InputError, OSError, ValueError) as exc:
            _progress(f"skipping SPI log {path}: {exc}", cfg)
    if not logs:
        return None
    png = writer.write("figures/spi_curves.png", figures.spi_curves(logs))
    return Section("SPI training curves", [image_tag(png, "SPI curves")], "spi")


def write_metric_tables(res: PairResult, writer: ReportWriter, stem: str,
                        metrics: Sequence[str] = METRIC_NAMES
                        ) -> tuple[list[str], list[list[str]], dict[tuple[int, int], str]]:
    """Write ``<stem>.{md,csv,tex}`` with the evaluation writers; return the HTML table parts.

    Returns ``(header, cells, marks)`` for :func:`html_table`, marked and formatted like the
    written tables (:func:`lwnet.evaluation.rank_marks`, :func:`lwnet.evaluation.summary_cell`).
    """
    rows = [r for method in res.scores for r in res.image_rows(method)]
    table = summarise(rows, metrics)
    writer.write(f"{stem}.md", to_markdown(table))
    writer.write(f"{stem}.csv", to_csv(table))
    writer.write(f"{stem}.tex", to_latex(table, caption=f"{res.pair_type}: mean ± std over "
                                         f"{len(res.ids)} test pairs"))
    ranks = rank_marks(table)
    marks = {(i, j + 2): "best" if ranks[i, j] == 1 else "second"
             for i, j in zip(*np.nonzero(ranks))}
    cells = [[m, str(table.count[i]), *(summary_cell(table, i, j)
                                        for j in range(len(table.metrics)))]
             for i, m in enumerate(table.methods)]
    return ["method", "n", *table.metrics], cells, marks
