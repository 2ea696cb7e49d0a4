"""The benchmark's complexity table: parameters, MACs and CPU latency of every computed row,
measured in one run, one after the other, with the same settings."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lwnet.reports.rows import Row

if TYPE_CHECKING:
    import torch

LATENCY_SIZE = (256, 256)


def _on_tensors(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]
                ) -> Callable[[torch.Tensor, torch.Tensor], np.ndarray]:
    """A numpy fusion function called like a network on ``(1, 1, H, W)`` tensors, as
    :func:`lwnet.model.complexity.measure_latency` passes them: every row is timed alike."""
    return lambda a, b: fn(a[0, 0].numpy(), b[0, 0].numpy())


def complexity_table(rows: Sequence[Row], repeats: int, threads: int = 1
                     ) -> tuple[list[dict[str, Any]], list[str]]:
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
                assert row.fn is not None  # a classical row has its function
                times = measure_latency(_on_tensors(row.fn), LATENCY_SIZE, threads=threads,
                                        warmup=2, repeats=repeats)
                params, macs, ms = None, None, 1000 * statistics.median(times)
        except Exception as exc:  # noqa: BLE001 - one failing method must not stop the rest
            failures.append(f"{label} (complexity): {type(exc).__name__}: {exc}")
            continue
        table.append({"method": label, "params": params, "macs": macs, "latency_ms": ms})
    return table, failures


def _fmt_count(x: int | None) -> str:
    if x is None:
        return "—"
    return f"{x / 1e9:.3f} G" if x >= 1e8 else f"{x / 1e6:.2f} M" if x >= 1e5 else f"{x:,}"


def complexity_cells(table: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows of the complexity table."""
    header = ["method", "parameters", "MACs (256×256)", "CPU latency (ms, median)"]
    return header, [[str(r["method"]), _fmt_count(r["params"]), _fmt_count(r["macs"]),
                     f"{float(r['latency_ms']):.1f}"] for r in table]
