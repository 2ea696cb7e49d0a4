"""SPI logs for the report: a run's ``log.csv``, or the SPI table of a model card.

The card's table is written by :func:`lwnet.training.card.model_card` under
:data:`lwnet.training.card.SPI_LOG_HEADING`; this module reads it back.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from lwnet.errors import InputError
from lwnet.training.card import SPI_LOG_HEADING

#: Columns an SPI log must have (one row per iteration; SPEC §3 step 5).
SPI_COLUMNS = ("iteration", "admitted", "refined", "label_gain")


def _spi_rows(rows: Sequence[Mapping[str, str]], path: Path) -> list[dict[str, float]]:
    if not rows or any(c not in rows[0] for c in SPI_COLUMNS):
        raise InputError(f"{path}: not an SPI log (needs the columns "
                         f"{', '.join(SPI_COLUMNS)})")
    try:
        return [{c: float(r[c]) for c in SPI_COLUMNS} for r in rows]
    except ValueError as exc:
        raise InputError(f"{path}: SPI log holds a non-numeric value ({exc})") from None


def read_spi_log(path: Path) -> list[dict[str, float]]:
    """Rows of an SPI log: a training run's ``log.csv``, or the SPI-log Markdown table
    of a model card (``<model>.md`` beside the weights; headers like "label gain" are
    matched as ``label_gain``). Columns include :data:`SPI_COLUMNS`.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".md":
        return _spi_rows(_card_table(text, SPI_LOG_HEADING), path)
    return _spi_rows(list(csv.DictReader(io.StringIO(text))), path)


def spi_log_score(path: Path) -> str:
    """The SPI score a log's run used (``ssim_vif`` …): the model card's ``- Score:`` line, or
    the ``score`` of the run's ``config.json`` beside a ``log.csv``; ``""`` where neither says."""
    path = Path(path)
    if path.suffix.lower() == ".md":
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("- Score:"):
                return line.split(":", 1)[1].split()[0].rstrip(";,")
        return ""
    try:
        return str(json.loads((path.parent / "config.json").read_text()).get("score", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def _card_table(text: str, heading: str) -> list[dict[str, str]]:
    """The first Markdown table after ``heading``, as rows keyed by snake_case headers."""
    lines = text.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        return []
    table = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            table.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif table or line.startswith("#"):
            break
    if len(table) < 3:
        return []
    keys = [h.lower().replace(" ", "_") for h in table[0]]
    return [dict(zip(keys, row)) for row in table[2:]]  # table[1] is the |---| rule


def default_spi_logs(weights_dir: Path) -> dict[str, Path]:
    """SPI logs shipped beside the weights: model cards (``<model>.md``) and ``*.csv`` logs
    that read as one, named by file stem (``spect-mri.log.csv`` → ``spect-mri``).
    """
    logs: dict[str, Path] = {}
    if not weights_dir.is_dir():
        return logs
    for path in sorted([*weights_dir.glob("*.md"), *weights_dir.glob("*.csv")]):
        try:
            read_spi_log(path)
        except (InputError, OSError, ValueError):
            continue
        logs.setdefault(path.name.split(".")[0], path)
    return logs
