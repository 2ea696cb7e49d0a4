"""``lwnet benchmark``: fuse, evaluate and report every method on the test split (SPEC §6).

Layout of a report folder::

    REPORT_DIR/
      index.html                      everything below, images embedded (no server needed)
      tables/<PAIR>.{md,csv,tex}      metric means ± std, best / second best marked
      tables/<PAIR>_paired.md         LWNet minus each method, paired over the images
      scores/<PAIR>.csv               per-image metric values (what the box plots show)
      figures/{boxplots,radar,grid}_<PAIR>.{png,pdf}, spi_curves.{png,pdf}  (PDF: for a paper)
      figures/panels/<PAIR>/<id>/<method>.png   the grid's panels at their own resolution
      complexity.{md,csv}             parameters, MACs, median CPU latency at 256×256
      provenance.json                 software, machine, code digests, weights and test images
      cache/<PAIR>@<digest of its test images>/
        <Method>@<digest>/<PAIR>/<id>.png  fused luminance of every computed method (reused;
                                      the digest is of the weights and the network's code for
                                      LWNet, of the methods' code for classical methods)
        metrics@<digest>/<PAIR>/<Method>[@<digest>]@<digest>.csv  per-image metrics (the
                                      folder's digest is that of the metric code, the last
                                      one that of the fused images scored)

The parts: :mod:`lwnet.reports.rows` (which methods run on which pair type),
:mod:`lwnet.reports.results` (their fused outputs and per-image metrics, cached),
:mod:`lwnet.reports.complexity` (parameters, MACs, latency); this module runs them and writes
the tables, figures and page. A method that fails on a pair type is reported on the page and left
out of that pair type's results.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lwnet._code import code_digest
from lwnet._files import atomic_write_bytes, is_within, refuse_inputs_as_outputs
from lwnet._text import counted
from lwnet.data.colour import merge_luma, split_luma
from lwnet.data.datasets import harvard_pairs, pair_types
from lwnet.data.io import encode_image, read_image
from lwnet.errors import ConfigError, InputError, OutputExistsError, require_counts
from lwnet.evaluation import (
    csv_table,
    markdown_table,
    paired_cells,
    paired_legend,
    rank_marks,
    rows_to_csv,
    summarise,
    summary_cell,
    summary_texts,
)
from lwnet.methods import ExternalMethod, builtin_code_digest
from lwnet.methods.registry import method_summary
from lwnet.metrics import EXTRA_NAMES, METRIC_NAMES, convention_text
from lwnet.model.weights import WEIGHTS_DIR
from lwnet.reports import figures
from lwnet.reports.complexity import complexity_cells, complexity_table
from lwnet.reports.html import Section, html_table, image_tag, render_page
from lwnet.reports.provenance import provenance, weights_entry
from lwnet.reports.results import (
    METRIC_CODE,
    data_cache,
    fuse_row,
    result_folder,
    score_rows,
)
from lwnet.reports.rows import NETWORK_CODE, Row, collect_rows, requested_but_absent, rows_for
from lwnet.reports.spi_log import default_spi_logs, read_spi_log, spi_log_score


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
        grid_ids: these test ids in the visual comparison instead (each where it is a test id
            of the pair type; at least one must be).
        latency_repeats: timed runs per method for the complexity table (median reported).
        latency_threads: torch threads while timing (1: the classical methods are
            single-threaded NumPy, and on a shared machine 2 threads measured 5-20× slower
            and erratic for LWNet because of contention).
        overwrite: replace an existing report (cached outputs are reused either way).
        progress: say each stage on stderr.
        bars: with tqdm bars for fusing and scoring (``lwnet benchmark`` draws them on a
            terminal only).
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
    grid_ids: Sequence[str] | None = None
    latency_repeats: int = 20
    latency_threads: int = 1
    overwrite: bool = False
    progress: bool = True
    bars: bool = True

    @property
    def draws_bars(self) -> bool:
        """Whether fusing and scoring draw tqdm bars: where progress is said at all."""
        return self.progress and self.bars

    def __post_init__(self) -> None:
        # Before any work: jobs = 0 used to fail only after every fusion was done.
        require_counts(jobs=self.jobs, latency_repeats=self.latency_repeats,
                       latency_threads=self.latency_threads)
        if self.grid_pairs < 0:  # 0: no comparison grid
            raise ConfigError(f"grid_pairs must not be negative, not {self.grid_pairs}")


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


# --- orchestration ------------------------------------------------------------------------------


def grid_ids(ids: Sequence[str], n: int) -> list[str]:
    """``n`` test ids spread evenly over the (slice-ordered) split, for the comparison grid."""
    if n <= 0 or not ids:
        return []
    idx = np.linspace(0, len(ids) - 1, min(n, len(ids)) + 2)[1:-1]
    return [ids[int(round(i))] for i in idx]


def grid_figure(harvard: Path, pair_type: str, ids: Sequence[str], rows: Sequence[Row],
                cache: Path) -> tuple[figures.Rendered, dict[str, np.ndarray]]:
    """Both sources and every method's colour result (fused luma + the source's chroma).

    Returns the grid (PNG and PDF) and its panels at their own resolution, keyed ``<id>/<name>``
    (for figures of one's own: the grid scales them to fit)."""
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
    panels = {f"{pid}/{name}": image for pid, (_, images) in zip(ids, grid)
              for name, image in images.items()}
    return figures.comparison_grid(grid), panels


class ReportWriter:
    """Writes report files atomically, keeps their bytes for the HTML page and lists them in
    :data:`MANIFEST`, so that a report written over an earlier one removes that report's
    files (and nothing else) which it did not write again."""

    #: The report's own record of the files it wrote, relative to the report folder.
    MANIFEST = ".lwnet-report-files"

    def __init__(self, out: Path) -> None:
        self.out = out
        self.written: set[Path] = set()

    def write(self, rel: str, data: bytes | str) -> bytes:
        """Write ``data`` to ``out/rel`` (replacing it) and return its bytes."""
        raw = data.encode() if isinstance(data, str) else data
        atomic_write_bytes(self.out / rel, raw, overwrite=True)
        self.written.add(self.out / rel)
        return raw

    def write_figure(self, stem: str, figure: figures.Rendered) -> bytes:
        """Write ``out/<stem>.png`` and ``.pdf``; return the PNG's bytes (for the page)."""
        self.write(f"{stem}.pdf", figure.pdf)
        return self.write(f"{stem}.png", figure.png)

    def finish(self) -> list[Path]:
        """Record this report's files and delete those the earlier report's record lists but
        this run did not write (other pair types or methods, which the new page and its
        provenance do not describe), with the folders they leave empty. Files the report
        never wrote (a user's own, a cache) are never touched. Returns the deleted files."""
        manifest = self.out / self.MANIFEST
        try:
            earlier = {self.out / line for line in manifest.read_text().splitlines() if line}
        except OSError:
            earlier = set()
        stale = sorted(p for p in earlier - self.written
                       if p.is_file() and is_within(p, self.out))
        for path in stale:
            path.unlink()
            for folder in path.parents:  # empty folders up to the report folder
                if folder == self.out or any(folder.iterdir()):
                    break
                folder.rmdir()
        listing = "".join(f"{p.relative_to(self.out).as_posix()}\n" for p in sorted(self.written))
        atomic_write_bytes(manifest, listing.encode(), overwrite=True)
        return stale


def _progress(msg: str, cfg: BenchmarkConfig) -> None:
    if cfg.progress:
        tqdm.write(msg)


def run_benchmark(cfg: BenchmarkConfig) -> Path:
    """Run the whole benchmark and write the report folder; returns the ``index.html`` path.

    Raises :class:`InputError` for a missing data folder or unknown method/pair names and
    :class:`OutputExistsError` when the report exists and ``cfg.overwrite`` is false.
    """
    harvard = cfg.data / "harvard"
    index = cfg.out / "index.html"
    todo = _pair_types_to_run(cfg, harvard, index)
    cache = cfg.cache or cfg.out / "cache"
    external = cfg.external
    if external is None:
        external = [d for d in [cfg.data / "external"] if d.is_dir()]
    refuse_inputs_as_outputs([cfg.out, cache], [cfg.data, *external])
    for name, path in (cfg.spi_logs or {}).items():  # asked for by name: read before any work
        try:
            read_spi_log(path)
        except OSError as exc:
            raise InputError(f"{path}: cannot read the SPI log of {name} "
                             f"({exc.strerror})") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: not an SPI log (not even text)") from None
    rows = collect_rows(cfg.weights or WEIGHTS_DIR, external, cfg.methods)
    if not rows:
        raise InputError("no methods to benchmark")
    # The rows' own names for the methods asked for (any case): one row name per method.
    requested = list(dict.fromkeys(r.name for r in rows)) if cfg.methods else None
    failures = requested_but_absent(rows, todo, requested)
    if cfg.grid_ids:
        test_ids = {p.id for pt in todo for p in harvard_pairs(harvard, pt, split="test")}
        if not set(cfg.grid_ids) & test_ids:
            raise InputError(f"--grid-ids {' '.join(cfg.grid_ids)}: none is a test id of "
                             f"{', '.join(todo)}")
    writer = ReportWriter(cfg.out)
    results: dict[str, PairResult] = {}
    caches: dict[str, Path] = {}  # pair type: its cache folder (see data_cache)
    done_rows: dict[str, list[Row]] = {}
    t0 = time.perf_counter()

    for pt in todo:
        caches[pt] = data_cache(cache, harvard, pt)
        results[pt], done_rows[pt] = _fuse_and_score(rows_for(rows, pt), pt, harvard,
                                                     caches[pt], cfg, failures, t0)

    # Only the rows of the pair types run: a SPECT-MRI-only report times no CT-MRI model.
    ran = [r for r in rows if any(r in done for done in done_rows.values())]
    sections = [_methods_section(ran),
                *_pair_sections(results, done_rows, cfg, harvard, caches, writer)]
    complexity, failed = _complexity_section(ran, cfg, writer)
    sections.append(complexity)
    failures += failed
    # The shipped models' SPI logs belong to a report with LWNet rows; logs named with
    # --spi-log always show.
    models_ran = {r.model_key for r in ran if r.kind == "LWNet" and r.name == "LWNet"}
    spi = _spi_section(cfg, writer, models_ran)
    if spi is not None:
        sections.append(spi)
    sections.append(_provenance_section(ran, results, harvard, cfg, writer))
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
    stale = writer.finish()
    if stale:
        _progress(f"removed {counted(len(stale), 'file')} of the report this one replaced", cfg)
    return index


def _pair_types_to_run(cfg: BenchmarkConfig, harvard: Path, index: Path) -> list[str]:
    """The pair types the report covers (``cfg.pairs``, or every one with a test split), once
    the data folder, the report's page and the pair names are checked."""
    if not harvard.is_dir():
        inside = cfg.data.is_dir() and pair_types(cfg.data)
        above = " (--data takes the folder that holds harvard/)" if inside else ""
        raise InputError(f"{harvard}: no such folder (expected the Harvard-layout data){above}")
    if index.exists() and not cfg.overwrite:
        raise OutputExistsError(f"{index}: report already exists (use --overwrite, or "
                                "BenchmarkConfig(overwrite=True), to rewrite it; cached fused "
                                "outputs are reused either way)")
    available = [p for p in pair_types(harvard) if (harvard / "splits" / f"{p}_test.txt").is_file()]
    if not available:
        raise InputError(f"{harvard}: no test split (splits/<PAIR>_test.txt) for any pair type "
                         f"({', '.join(pair_types(harvard)) or 'none found'}); the benchmark "
                         "runs on the test ids")
    by_case = {p.upper(): p for p in available}  # ct-mri names CT-MRI, as methods go by case
    todo = [by_case.get(p.upper(), p) for p in cfg.pairs or available]
    unknown = [p for p in todo if p not in available]
    if unknown:
        raise InputError(f"unknown pair type(s) {', '.join(unknown)}; available: "
                         f"{', '.join(available)}")
    return todo


def _fuse_and_score(rows: Sequence[Row], pt: str, harvard: Path, cache: Path,
                    cfg: BenchmarkConfig, failures: list[str],
                    t0: float) -> tuple[PairResult, list[Row]]:
    """Fuse the test pairs of ``pt`` with every row (or reuse the cached outputs) and score
    them; returns the per-image scores and the rows that have them. A row that fails is added
    to ``failures`` and left out, so one broken method does not stop the report."""
    ids = [p.id for p in harvard_pairs(harvard, pt, split="test")]
    fused = []
    for row in rows:
        try:
            written = fuse_row(row, harvard, pt, cache, cfg.jobs, cfg.draws_bars)
        except Exception as exc:  # noqa: BLE001 - one failing method must not stop the rest
            failures.append(f"{row.name} on {pt}: {type(exc).__name__}: {exc}")
            _progress(f"FAILED {failures[-1]}", cfg)
            continue
        fused.append(row)
        _progress(f"{pt} {row.name}: {written} fused, {len(ids) - written} reused "
                  f"({time.perf_counter() - t0:.0f} s)", cfg)
    per_image, failed = score_rows(fused, harvard, pt, cache, cfg.jobs, cfg.draws_bars)
    failures += failed
    res = PairResult(pt, ids)
    for name, by_id in per_image.items():
        metrics = list(by_id[ids[0]])
        res.scores[name] = {m: [by_id[i][m] for i in ids] for m in metrics}
    _progress(f"{pt}: {counted(len(per_image), 'method')} scored "
              f"({time.perf_counter() - t0:.0f} s)", cfg)
    return res, [r for r in fused if r.name in per_image]


def _esc(text: str) -> str:
    return html.escape(text)


def _pair_sections(results: Mapping[str, PairResult], rows: Mapping[str, list[Row]],
                   cfg: BenchmarkConfig, harvard: Path, caches: Mapping[str, Path],
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
            writer.write(f"tables/{pt}_paired.md", markdown_table(header, cells)
                         + f"\n{paired_legend('LWNet')}\n")
            sec.parts.append(
                "<h3>LWNet minus each method, paired over the test images</h3>"
                + html_table(header, cells)
                + '<p class="note">Mean ± standard error of the per-image difference; ▲/▼: '
                  "LWNet ahead/behind by more than two standard errors; unmarked: within noise "
                  f"(also as tables/{pt}_paired.md).</p>")
        metrics = list(next(iter(res.scores.values())))
        png = writer.write_figure(f"figures/boxplots_{pt}",
                                  figures.box_plots(res.scores, metrics, title=pt))
        sec.parts.append("<h3>Distribution over test images</h3>" + image_tag(png, "box plots"))
        means = {m: {k: float(np.mean(v)) for k, v in s.items()} for m, s in res.scores.items()}
        if len(means) >= 2:
            chart, areas = figures.radar_chart(means, METRIC_NAMES, title=pt)
            radar = writer.write_figure(f"figures/radar_{pt}", chart)
            ranked = sorted(areas.items(), key=lambda kv: -kv[1])
            sec.parts.append(
                "<h3>Radar (six metrics min-max normalised across methods)</h3>"
                + image_tag(radar, "radar chart")
                + html_table(["method", "area (% of full hexagon)"],
                             [[m, f"{a:.1f}"] for m, a in ranked])
                + '<p class="note">An area depends on the order of the axes and on the other '
                  "methods: each axis runs from the worst method's mean to the best's, so one "
                  "far weaker method pushes all others towards the rim. Read it beside the "
                  "table.</p>")
        ids = ([i for i in cfg.grid_ids if i in res.ids] if cfg.grid_ids
               else grid_ids(res.ids, cfg.grid_pairs))
        ignored = [i for i in cfg.grid_ids or () if i not in res.ids]
        if ignored:
            sec.parts.append(f'<p class="note">Not test ids of {_esc(pt)}, so not in its '
                             f"comparison grid: {_esc(', '.join(ignored))}.</p>")
        if ids:
            try:
                figure, panels = grid_figure(harvard, pt, ids, rows[pt], caches[pt])
            except InputError as exc:
                sec.parts.append(f'<p class="note">Comparison grid failed: {_esc(str(exc))}</p>')
            else:
                grid = writer.write_figure(f"figures/grid_{pt}", figure)
                for key, image in panels.items():
                    writer.write(f"figures/panels/{pt}/{key}.png", encode_image(
                        image, f"{key}.png"))
                sec.parts.append("<h3>Visual comparison (red frame: region enlarged in the "
                                 "corner)</h3>" + image_tag(grid, "comparison grid")
                                 + f'<p class="note">Every panel at its own resolution, for '
                                   f"figures of your own: figures/panels/{_esc(pt)}/&lt;id&gt;/"
                                   "&lt;method&gt;.png.</p>")
    return sections


def _manifest_paper(row: Row) -> str:
    """The paper an external method's results folder credits: the "paper" cell of its row in
    the ``MANIFEST.md`` beside it (the shared data's convention), else ``""``."""
    assert row.folder is not None
    manifest = row.folder.parent / "MANIFEST.md"
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    header = next((line for line in lines if line.startswith("| method |")), None)
    cells = next((line for line in lines if line.startswith(f"| {row.name} |")), None)
    if header is None or cells is None:
        return ""
    found = dict(zip(header.strip("|").split("|"), cells.strip("|").split("|")))
    return next((v.strip() for k, v in found.items() if k.strip() == "paper"), "")


def _methods_section(rows: Sequence[Row]) -> Section:
    """What each row is: LWNet weights by their model card's title, classical methods by the
    paper they follow, external methods by their results folder (and paper, where named)."""
    cells = []
    for row in rows:
        if row.weights is not None:
            what, where = weights_entry(row)["card"] or "LWNet weights", row.weights.name
        elif row.kind == "classical":
            what, where = method_summary(row.name), "built-in"
        else:
            what = _manifest_paper(row) or "results of an external method"
            where = str(row.folder)
        cells.append([row.name, what, where])
    return Section("Methods", [html_table(["row", "what it is", "from"], cells, text=True)],
                   "methods")


def _per_image_csv(res: PairResult) -> str:
    metrics = list(next(iter(res.scores.values())))
    return rows_to_csv([r for m in res.scores for r in res.image_rows(m)], metrics)


def _complexity_section(rows: Sequence[Row], cfg: BenchmarkConfig, writer: ReportWriter
                        ) -> tuple[Section, list[str]]:
    """The complexity table of ``rows``, and the methods that failed to run."""
    _progress("measuring complexity (parameters, MACs, latency at 256x256)", cfg)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
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
            "timings are in their folder's MANIFEST)."
            + ("" if load is None else
               f" Load average when timing started: {load:.2f} on {os.cpu_count()} logical "
               "CPUs (other work on the machine inflates the times; compare rows of one "
               "report).")
            + "</p>")
    return Section("Complexity", [html_table(header, cells), note], "complexity"), failed


def _provenance_section(rows: Sequence[Row], results: Mapping[str, PairResult], harvard: Path,
                        cfg: BenchmarkConfig, writer: ReportWriter) -> Section:
    """What the report was made with, as ``provenance.json`` and a table."""
    record = provenance(
        rows, {pt: harvard_pairs(harvard, pt, split="test") for pt in results},
        {"metrics": code_digest(METRIC_CODE), "built-in methods": builtin_code_digest(),
         "network": code_digest(NETWORK_CODE)},
        {"methods": ", ".join(cfg.methods or ["all"]), "pair types": ", ".join(results),
         "jobs": cfg.jobs, "latency": f"{cfg.latency_threads} thread(s), median of "
                                     f"{cfg.latency_repeats} runs"})
    writer.write("provenance.json", json.dumps(dataclasses.asdict(record), indent=2) + "\n")
    note = ('<p class="note">Also as provenance.json. Equal digests mean the same code, weights '
            "or test images.</p>")
    return Section("Provenance", [html_table(["what", "value"], record.cells(), text=True), note],
                   "provenance")


def _spi_section(cfg: BenchmarkConfig, writer: ReportWriter,
                 models: set[str | None]) -> Section | None:
    """The SPI curves of the logs named with ``--spi-log``, else of the cards of the LWNet
    ``models`` in the report (``spect-mri`` …; not those of ablations or baselines)."""
    logs_paths = cfg.spi_logs if cfg.spi_logs is not None else {
        f"{name.upper()} model": path  # spect-mri → SPECT-MRI model
        for name, path in default_spi_logs(cfg.weights or WEIGHTS_DIR).items()
        if name in models}
    if not logs_paths:
        return None
    logs = {}
    for name, path in logs_paths.items():
        try:  # the logs found beside the weights (those named by the user are checked first)
            rows = read_spi_log(path)
        except (InputError, OSError, ValueError) as exc:
            _progress(f"skipping SPI log {path}: {exc}", cfg)
            continue
        score = spi_log_score(path)
        logs[f"{name} (s = {score})" if score else name] = rows
    if not logs:
        return None
    png = writer.write_figure("figures/spi_curves", figures.spi_curves(logs))
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
    caption = (f"{res.pair_type}: mean ± std (population) over {len(res.ids)} test pairs; "
               f"{convention_text()}")
    for suffix, text in summary_texts(table, caption, label=f"tab:{stem.split('/')[-1]}").items():
        writer.write(f"{stem}{suffix}", text)
    ranks = rank_marks(table)
    marks = {(i, j + 2): "best" if ranks[i, j] == 1 else "second"
             for i, j in zip(*np.nonzero(ranks))}
    cells = [[m, str(table.count[i]), *(summary_cell(table, i, j)
                                        for j in range(len(table.metrics)))]
             for i, m in enumerate(table.methods)]
    return ["method", "n", *table.metrics], cells, marks
