"""LWNet CPU speed: latency of one 256×256 pair and throughput at batch 8.

Prints, per width: parameters, MACs per pair, the median wall-clock latency at batch 1 and the
throughput at batch 8 (``profile_model``, ``--threads`` intra-op threads), and the median CPU
time per pair of the calling thread at one thread, which a loaded shared machine disturbs far
less than wall-clock time. ``--layouts`` also times the model with plain NCHW parameters to
show what channels-last buys. ``--onnx`` also times the same network exported to ONNX and run
by onnxruntime (``lwnet fuse --backend onnx``) on as many threads, in the same run.
``--no-grad`` also times batch-1 passes under ``torch.no_grad()``, as SPI's screening runs
them, alternating with inference-mode passes: the difference is what the MCA's in-place
accumulation (inference mode only) saves. The load average is printed: compare figures of one
run only.

Like the ``lwnet`` command, the script first makes glibc keep freed memory for reuse
(:func:`lwnet.keep_freed_memory`); ``--malloc default`` leaves glibc's behaviour as it is, to
measure what that costs. The last column counts the minor page faults of one batch-1 pass
(median), which that setting removes; it is measured first, since glibc's default raises its
thresholds for good once a larger block (batch 8) has been freed: with ``--malloc default``, only
the first width's figures show that default.

    PYTHONPATH=src python benchmarks/bench_latency.py [--widths 8 12] [--threads 2] [--layouts]
        [--onnx] [--no-grad] [--malloc default]

Target (issue 4): < 15 ms per pair at batch 1 on two threads.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from lwnet.model import LWNet, measure_latency, profile_model
from malloc_option import add_malloc_option, apply_malloc_option, freed_memory_note


def median_per_pass(model: torch.nn.Module, counter: Callable[[], float], threads: int,
                    repeats: int,
                    modes: Sequence[Callable[[], Any]] = (torch.inference_mode,)) -> list[float]:
    """Median change of ``counter()`` over one batch-1 forward pass on ``threads`` intra-op
    threads, one figure per autograd mode of ``modes``, the modes alternating pass by pass so
    that all see the same load (after three untimed rounds)."""
    a, b = torch.rand(2, 1, 1, 256, 256)
    deltas: list[list[float]] = [[] for _ in modes]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for i in range(repeats + 3):
            for mode, samples in zip(modes, deltas):
                with mode():
                    start = counter()
                    model(a, b)
                    if i >= 3:
                        samples.append(counter() - start)
    finally:
        torch.set_num_threads(previous)
    return [statistics.median(samples) for samples in deltas]


def minor_page_faults() -> float:
    """Minor page faults of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def onnx_figures(model: torch.nn.Module, threads: int, repeats: int) -> str:
    """onnxruntime on ``model``'s exported graph: the table's three wall-clock columns."""
    from lwnet.inference.onnx import OnnxFuser, export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lwnet.onnx"
        export_onnx(model, path)
        fuser = OnnxFuser(path, threads=threads)
    b1 = measure_latency(fuser, (256, 256), 1, "cpu", None, 5, repeats)
    b8 = measure_latency(fuser, (256, 256), 8, "cpu", None, 2, max(repeats // 5, 3))
    return (f"{1000 * statistics.median(b1):.1f} | {1000 * min(b1):.1f} | "
            f"{8 / statistics.median(b8):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 12, 16])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--layouts", action="store_true", help="also time NCHW parameters")
    parser.add_argument("--onnx", action="store_true", help="also time onnxruntime")
    parser.add_argument("--no-grad", action="store_true",
                        help="also time batch 1 under no_grad, alternating with inference mode")
    add_malloc_option(parser)
    args = parser.parse_args()
    kept = apply_malloc_option(args)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"{freed_memory_note(kept)}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    onnx_head = (" onnxruntime b1 median ms | onnxruntime b1 min ms | onnxruntime b8 pairs/s |"
                 if args.onnx else "")
    modes_head = (" b1 median ms, alternating: inference mode | no_grad |" if args.no_grad
                  else "")
    print("| width | layout | params | GMAC/pair | b1 median ms (wall) | b1 min ms | "
          f"b8 pairs/s | CPU ms/pair b1, 1 thread |{onnx_head}{modes_head} page faults per b1 "
          "pass |")
    print("|---|---|---|---|---|---|---|---|" + "---|" * (3 * args.onnx + 2 * args.no_grad + 1))
    for width in args.widths:
        layouts = ["channels-last", "NCHW"] if args.layouts else ["channels-last"]
        for layout in layouts:
            model = LWNet(width=width).eval()
            if layout == "NCHW":
                model = model.to(memory_format=torch.contiguous_format)
            # First: glibc's default thresholds rise for good once a batch of 8 is freed.
            faults = median_per_pass(model, minor_page_faults, args.threads, args.repeats)[0]
            b1 = profile_model(model, (256, 256), 1, "cpu", args.threads, 5, args.repeats)
            b8 = profile_model(model, (256, 256), 8, "cpu", args.threads, 2,
                               max(args.repeats // 5, 3))
            # CPU time of the calling thread, on one thread.
            cpu = 1000 * median_per_pass(model, time.thread_time, 1, args.repeats)[0]
            onnx = f" {onnx_figures(model, args.threads, args.repeats)} |" if args.onnx else ""
            modes = ""
            if args.no_grad:  # the MCA sums in place under inference mode only
                walls = median_per_pass(model, time.perf_counter, args.threads, args.repeats,
                                        (torch.inference_mode, torch.no_grad))
                modes = "".join(f" {1000 * t:.1f} |" for t in walls)
            print(f"| {width} | {layout} | {b1['params']:,} | {b1['macs_per_pair'] / 1e9:.3f} | "
                  f"{b1['latency_ms']:.1f} | {b1['latency_min_ms']:.1f} | "
                  f"{b8['pairs_per_s']:.1f} | {cpu:.1f} |{onnx}{modes} {faults:,.0f} |", flush=True)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
