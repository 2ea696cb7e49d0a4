"""Writing an evaluation (per-image CSV and the summary in three formats) atomically."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lwnet._files import atomic_write_bytes, refuse_existing
from lwnet.errors import OutputExistsError
from lwnet.evaluation.tables import SummaryTable, rows_to_csv, to_csv, to_latex, to_markdown

PER_IMAGE = "per_image.csv"


def summary_texts(table: SummaryTable, caption: str | None = None,
                  label: str | None = None) -> dict[str, str]:
    """The summary table by file suffix: ``.md`` (headed by ``caption``), ``.csv`` and ``.tex``
    (captioned, with ``label``). What ``lwnet evaluate`` and the benchmark report both write."""
    return {".md": markdown_summary(table, caption),
            ".csv": to_csv(table), ".tex": to_latex(table, caption=caption, label=label)}


def markdown_summary(table: SummaryTable, caption: str | None = None) -> str:
    """The summary table as Markdown, headed by ``caption`` and followed by what its marks mean
    (the LaTeX and HTML tables say it in their captions)."""
    legend = ("\nBest in **bold**, second best in *italics*; every metric is higher-is-better.\n"
              if len(table.methods) > 1 else "")
    return (f"{caption}\n\n" if caption else "") + to_markdown(table) + legend


def write_evaluation(out_dir: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]],
                     table: SummaryTable, row_metrics: Sequence[str],
                     overwrite: bool = False, caption: str | None = None,
                     extra: Mapping[str, str] | None = None) -> list[Path]:
    """Write ``per_image.csv``, ``summary.md``, ``summary.csv`` and ``summary.tex``, and the
    files of ``extra`` (name → text, e.g. ``paired.md``). ``caption`` heads ``summary.md`` and
    captions the LaTeX table.

    Every target is checked before anything is written, so a refused run leaves no partial
    output; each file is written atomically. Returns the written paths.
    """
    out = Path(out_dir)
    contents = {
        PER_IMAGE: rows_to_csv(rows, row_metrics),
        **{f"summary{suffix}": text for suffix, text in summary_texts(table, caption).items()},
        **(extra or {}),
    }
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out}: exists and is not a folder")
    refuse_existing((out / name for name in contents), overwrite)
    return [atomic_write_bytes(out / name, text.encode(), overwrite=overwrite)
            for name, text in contents.items()]
