"""The rows of the benchmark: which methods run, and on which pair types.

A row is an LWNet weights file (``<model>[-<variant>].safetensors``: the shipped models, their
ablations and baselines), a built-in classical method, or a method of an external results
folder (``<Method>/<PAIR>/<id>.png``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from lwnet._code import code_digest
from lwnet.errors import InputError
from lwnet.methods import builtin_code_digest, external_methods, get_method, method_names
from lwnet.model.weights import SHIPPED_MODELS, file_sha256

#: The code behind LWNet's fused luminance: the network, its loading and inference (with the
#: device choice and the errors they raise), the image handling around it (colour, 8-bit
#: rounding) and the benchmark's own wrapper (:class:`WeightsFusion`, here). Conservative:
#: LWNet rows are quick to recompute.
NETWORK_CODE = ("lwnet.model", "lwnet.inference", "lwnet.data", "lwnet.errors", "lwnet._device",
                "lwnet.reports.rows")


@dataclass
class Row:
    """One method of the benchmark: computed (``fn``) or read from a results folder."""

    name: str
    kind: Literal["LWNet", "classical", "external"]
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    folder: Path | None = None  # external results folder
    model_key: str | None = None  # for LWNet rows: which pair types' weights this is
    weights: Path | None = None

    @property
    def cache_name(self) -> str:
        """Folder name in the cache: LWNet rows carry their weights' digest and that of the
        network's code (:data:`NETWORK_CODE`), classical rows the digest of the built-in
        methods' code, so retrained weights or edited code never reuse stale outputs."""
        if self.weights is not None:
            return (f"{self.name}@{file_sha256(self.weights)[:12]}"
                    f"-{code_digest(NETWORK_CODE)[:8]}")
        if self.kind == "classical":
            return f"{self.name}@{builtin_code_digest()}"
        return self.name


class WeightsFusion:
    """Picklable ``(a, b) -> f`` fusing with the LWNet weights in a file (loaded on first use).

    Only the path is pickled, so worker processes load their own copy.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fuse: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None

    def __getstate__(self) -> dict:
        return {"path": self.path, "_fuse": None}

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        from lwnet.inference import load_model, network_method

        if self._fuse is None:
            self._fuse = network_method(load_model(self.path))
        return self._fuse(a, b)


def lwnet_rows(weights_dir: Path) -> list[Row]:
    """LWNet and its variants from ``<model>[-<variant>].safetensors`` files.

    ``spect-mri.safetensors`` and ``ct-mri.safetensors`` are the row "LWNet";
    ``spect-mri-<variant>.safetensors`` (e.g. ``-no-aca``, ``-initial-labels``) the row
    ``LWNet-<variant>`` — ablations and baselines appear where their weights exist. Each file
    is checked here (safetensors only, fitting its architecture), so an unsafe or broken file
    stops the benchmark with :class:`WeightsError` before any work. A folder that is missing or
    holds no file of these names raises :class:`InputError` (a report without its LWNet row
    would pass unnoticed).
    """
    from lwnet.model.weights import load_weights

    rows: dict[str, Row] = {}
    if not weights_dir.is_dir():
        raise InputError(f"{weights_dir}: no such folder of LWNet weights")
    for path in sorted(weights_dir.glob("*.safetensors")):
        for key in set(SHIPPED_MODELS.values()):
            if path.stem == key or path.stem.startswith(key + "-"):
                variant = path.stem[len(key):]
                name = f"LWNet{variant}"
                load_weights(path)
                rows[f"{name}@{key}"] = Row(name, "LWNet", WeightsFusion(path), model_key=key,
                                            weights=path)
    if not rows:
        found = sorted(p.name for p in weights_dir.glob("*.safetensors"))
        raise InputError(
            f"{weights_dir}: no LWNet weights named <model>[-<variant>].safetensors, <model> "
            f"one of {', '.join(sorted(set(SHIPPED_MODELS.values())))}"
            + (f" (found {', '.join(found[:4])}{', ...' if len(found) > 4 else ''})"
               if found else "")
            + "; copy or link a run's weights.safetensors as spect-mri.safetensors, say")
    return list(rows.values())


def collect_rows(weights_dir: Path, external_dirs: Sequence[Path],
                 methods: Sequence[str] | None = None) -> list[Row]:
    """Every method of the benchmark, LWNet rows first: the weights in ``weights_dir``, every
    built-in classical method, every method of the ``external_dirs``; only ``methods`` when
    given (an unknown name raises :class:`InputError` listing the known ones)."""
    rows = lwnet_rows(weights_dir)
    rows += [Row(name, "classical", get_method(name)) for name in method_names()]
    for folder in external_dirs:
        rows += [Row(m.name, "external", folder=m.folder) for m in external_methods(folder)]
    _check_unique_names(rows)
    if methods:
        chosen = resolve_method_names({r.name for r in rows}, methods)
        rows = [r for r in rows if r.name in chosen]
    return rows


def resolve_method_names(known: Iterable[str], methods: Sequence[str]) -> list[str]:
    """The row names ``methods`` stand for: each name as it is, else the one known name equal
    to it ignoring case (``gff``, ``GFF``; ``lwnet``, ``LWNet``). Raises :class:`InputError`
    listing the names that match none, or naming the matches of an ambiguous one."""
    known = set(known)
    by_lower: dict[str, list[str]] = {}
    for name in sorted(known):
        by_lower.setdefault(name.lower(), []).append(name)
    chosen: list[str] = []
    unknown: list[str] = []
    for m in methods:
        match = [m] if m in known else by_lower.get(m.lower(), [])
        if len(match) > 1:
            raise InputError(f"method {m!r} is ambiguous: {', '.join(match)}; give the name "
                             "as it is written")
        (chosen if match else unknown).append(match[0] if match else m)
    if unknown:
        raise InputError(f"unknown method(s) {', '.join(unknown)}; available: "
                         f"{', '.join(sorted(known))}")
    return chosen


def _origin(row: Row) -> str:
    return str(row.folder or row.weights or f"the built-in {row.kind} method")


def _check_unique_names(rows: Sequence[Row]) -> None:
    """Results, caches and tables are keyed by a row's name, so a name stands for one method:
    only the LWNet rows repeat one, each for other pair types (its ``model_key``)."""
    by_name: dict[str, list[Row]] = {}
    for row in rows:
        by_name.setdefault(row.name, []).append(row)
    for name, same in by_name.items():
        keys = [r.model_key for r in same]
        if len(same) > 1 and (None in keys or len(set(keys)) < len(keys)):
            raise InputError(f"two methods named {name!r}: {_origin(same[0])} and "
                             f"{_origin(same[1])}; rename one of the results folders")


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


def requested_but_absent(rows: Sequence[Row], pair_types: Sequence[str],
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
