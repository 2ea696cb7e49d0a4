"""What a benchmark report was made with: software, machine, code, weights and data.

Two reports whose provenance agrees were computed from the same inputs by the same code; where
they disagree, it says what changed (a retrained model, an edited metric, other test images, a
slower machine for the latency table). Written as ``provenance.json`` and as the report's last
section.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from lwnet._code import contents_digest
from lwnet._environment import cpu_model, software_versions, source_commit, torch_kernels
from lwnet.data.datasets import ImagePair
from lwnet.methods import ExternalMethod
from lwnet.model.weights import file_sha256, read_card
from lwnet.reports.rows import Row


def files_digest(pairs: Sequence[ImagePair]) -> str:
    """Digest (16 hex of SHA-256) of the names and bytes of both source files of every pair:
    equal digests mean the same test images. The benchmark's cache of a pair type is keyed by
    it too."""
    return contents_digest([path for pair in pairs for path in (pair.a, pair.b)])


def weights_entry(row: Row) -> dict[str, str]:
    """File name, SHA-256 and the model card's title of an LWNet row's weights."""
    assert row.weights is not None
    title = next((line.lstrip("# ").strip() for line in read_card(row.weights).splitlines()
                  if line.startswith("# ")), "")
    return {"file": row.weights.name, "sha256": file_sha256(row.weights), "card": title}


def external_entry(row: Row, test_pairs: Mapping[str, Sequence[ImagePair]]) -> str:
    """An external row's results folder and the digest of the result files the report read
    (its test ids of every pair type run): equal digests mean the same results."""
    assert row.folder is not None
    method = ExternalMethod(row.folder)
    files = [f for pt, pairs in test_pairs.items() if (row.folder / pt).is_dir()
             for f in method.paths(pt, [pair.id for pair in pairs])]
    files = [f for f in files if f.is_file()]
    return f"{row.folder} (sha256 {contents_digest(files)} of {len(files)} test results)"


@dataclass
class Provenance:
    """The record of one benchmark run (see :func:`provenance`)."""

    created: str  # ISO 8601, UTC
    lwnet_commit: str | None
    software: dict[str, str]
    machine: dict[str, str | int | None]
    code: dict[str, str]  # digests of the code behind the figures
    weights: dict[str, dict[str, str]]  # "LWNet (ct-mri)": file, sha256, card title
    external: dict[str, str]  # method: results folder and the digest of its files
    data: dict[str, dict[str, str | int]]  # pair type: test pairs, digest of their files
    settings: dict[str, str]

    def cells(self) -> list[list[str]]:
        """``[[what, value], ...]``: the record as the report's two-column table."""
        cpu = self.machine
        return [
            ["created (UTC)", self.created],
            ["LWNet source", self.lwnet_commit or "not a git checkout"],
            ["software", ", ".join(f"{k} {v}" for k, v in self.software.items())],
            ["machine", f"{cpu['cpu']} ({cpu['cpu_count']} logical CPUs; torch's "
                        f"{cpu['torch_kernels']}), {cpu['platform']}"],
            *([f"code digest: {k}", v] for k, v in self.code.items()),
            *([f"weights: {k}", f"{w['file']} (sha256 {w['sha256'][:16]}); {w['card']}"]
              for k, w in self.weights.items()),
            *([f"external: {k}", v] for k, v in self.external.items()),
            *([f"test images: {k}", f"{d['pairs']} pairs (sha256 {d['sha256']})"]
              for k, d in self.data.items()),
            *([f"setting: {k}", v] for k, v in self.settings.items()),
        ]


def provenance(rows: Sequence[Row], test_pairs: Mapping[str, Sequence[ImagePair]],
               code: Mapping[str, str], settings: Mapping[str, object]) -> Provenance:
    """The record of one benchmark run.

    Args:
        rows: the methods the report holds (LWNet rows name their weights).
        test_pairs: the test pairs of each pair type run.
        code: digests of the code behind the figures (metrics, built-in methods).
        settings: the run's own settings (methods, pair types, timing threads, ...).
    """
    return Provenance(
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        lwnet_commit=source_commit(),
        software=software_versions(),
        machine={"platform": platform.platform(), "cpu": cpu_model(),
                 "cpu_count": os.cpu_count(), "python": sys.executable,
                 "torch_kernels": torch_kernels(torch.device("cpu"))},
        code=dict(code),
        weights={f"{r.name} ({r.model_key})": weights_entry(r) for r in rows
                 if r.weights is not None},
        external={r.name: external_entry(r, test_pairs) for r in rows if r.kind == "external"},
        data={pt: {"pairs": len(pairs), "sha256": files_digest(pairs)}
              for pt, pairs in test_pairs.items()},
        settings={k: str(v) for k, v in settings.items()},
    )
