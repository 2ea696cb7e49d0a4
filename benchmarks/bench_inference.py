"""Inference speed and memory: PyTorch vs onnxruntime, large pairs, streaming thousands of pairs.

Prints, for LWNet (``--weights`` or a seeded random network of the default configuration;
speed and memory do not depend on the weights):

* pairs per second at 256×256 with PyTorch and onnxruntime (``--threads`` threads each), at
  batch sizes 1 and 8;
* peak resident memory of fusing one 1024×1024 and one 2048×2048 pair (PyTorch and
  onnxruntime, batch 1);
* peak resident memory and pairs per second while streaming 500 and 2,000 pairs through
  :func:`lwnet.inference.streaming.stream_fuse` (inputs are hard links to the shipped sample
  pairs under new names, outputs go to a temporary folder).

Every memory figure comes from a fresh subprocess (``ru_maxrss``), together with its RSS
before the measured work (imports and model loaded), so the numbers do not mix. Each
subprocess first keeps freed memory as ``lwnet`` does (:func:`lwnet.keep_freed_memory`), unless
``--malloc default``.

    OMP_NUM_THREADS=2 PYTHONPATH=src python benchmarks/bench_inference.py [--weights W]
        [--malloc default]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from malloc_option import add_malloc_option, apply_malloc_option


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _model(weights: str | None):
    from lwnet.inference import load_model
    from lwnet.model import LWNet

    if weights:
        return load_model(weights)
    torch.manual_seed(0)
    return LWNet().eval()


def _rate(fuse, batch: int, size: int, seconds: float) -> float:
    rng = np.random.default_rng(0)
    a = rng.random((batch, size, size), dtype=np.float32)
    b = rng.random((batch, size, size), dtype=np.float32)
    fuse(a, b)  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fuse(a, b)
        done += batch
    return done / (time.perf_counter() - start)


def _fuser(args, backend: str):
    """The batch fuser of ``backend``: PyTorch, or onnxruntime on the graph ``args.onnx``."""
    from lwnet.inference.onnx import OnnxFuser
    from lwnet.inference.streaming import module_fuser

    torch.set_num_threads(args.threads)
    if backend == "onnx":
        return OnnxFuser(args.onnx, threads=args.threads).fuse_batch
    return module_fuser(_model(args.weights))


def scenario_speed(args) -> dict:
    return {f"{name} batch {n}": _rate(_fuser(args, backend), n, 256, args.seconds)
            for backend, name in (("torch", "torch"), ("onnx", "onnxruntime")) for n in (1, 8)}


def scenario_large(args) -> dict:
    fuse = _fuser(args, args.backend)
    rng = np.random.default_rng(0)
    a = rng.random((1, args.size, args.size), dtype=np.float32)
    b = rng.random((1, args.size, args.size), dtype=np.float32)
    before = _rss_mib()
    start = time.perf_counter()
    fuse(a, b)
    return {"rss_before_mib": before, "peak_mib": _peak_mib(),
            "seconds": time.perf_counter() - start}


def scenario_stream(args) -> dict:
    from lwnet.data.datasets import ImagePair, harvard_pairs, sample_root
    from lwnet.inference.streaming import FuseJob, stream_fuse

    fuse = _fuser(args, args.backend)
    base = [p for t in ("SPECT-MRI", "CT-MRI", "PET-MRI") for p in harvard_pairs(sample_root(), t)]
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in", Path(tmp) / "out"
        src.mkdir()

        def jobs():  # generated lazily: inputs linked on the fly, like a long listing
            for i in range(args.count):
                pair = base[i % len(base)]
                a, b = src / f"{i:05d}_a.png", src / f"{i:05d}_b.png"
                os.link(pair.a, a)
                os.link(pair.b, b)
                yield FuseJob(ImagePair(f"{i:05d}", a, b), out / f"{i:05d}.png")

        before = _rss_mib()
        stats = stream_fuse(jobs(), fuse, batch_size=args.stream_batch)
        assert stats.written == args.count
        return {"rss_before_mib": before, "peak_mib": _peak_mib(),
                "pairs_per_second": stats.pairs_per_second}


def _run(scenario: str, args, *extra: str) -> dict:
    cmd = [sys.executable, __file__, "--scenario", scenario, "--threads", str(args.threads),
           "--seconds", str(args.seconds), "--onnx", args.onnx, "--malloc", args.malloc,
           "--stream-batch", str(args.stream_batch), *extra]
    if args.weights:
        cmd += ["--weights", args.weights]
    result = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", help="LWNet weights (default: seeded random network)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=5.0, help="timing window per speed figure")
    p.add_argument("--counts", type=int, nargs="*", default=[500, 2000],
                   help="streaming runs (none: skip)")
    p.add_argument("--sizes", type=int, nargs="*", default=[1024, 2048],
                   help="large-pair runs (none: skip)")
    p.add_argument("--stream-backend", choices=("torch", "onnx"), default="onnx",
                   help="backend of the streaming runs (default: onnx, the faster on CPU)")
    p.add_argument("--stream-batch", type=int, default=1,
                   help="batch size of the streaming runs (default: 1; onnxruntime gains "
                        "nothing from batching on CPU and its arena grows with the batch)")
    add_malloc_option(p)
    p.add_argument("--scenario", choices=("speed", "large", "stream"), help=argparse.SUPPRESS)
    p.add_argument("--backend", choices=("torch", "onnx"), help=argparse.SUPPRESS)
    p.add_argument("--onnx", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.scenario:
        apply_malloc_option(args)
        result = {"speed": scenario_speed, "large": scenario_large,
                  "stream": scenario_stream}[args.scenario](args)
        print(json.dumps(result))
        return

    from lwnet.inference.onnx import export_onnx

    print(f"threads: {args.threads}; torch {torch.__version__}; model: "
          f"{args.weights or 'seeded random LWNet()'}; freed memory: {args.malloc}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        args.onnx = str(Path(tmp) / "lwnet.onnx")
        export_onnx(_model(args.weights), args.onnx)
        print("\npairs per second at 256x256")
        for name, rate in _run("speed", args).items():
            print(f"  {name:<24} {rate:8.1f}", flush=True)
        print("\none large pair: peak RSS (RSS before fusing), seconds")
        for backend in ("torch", "onnx"):
            for size in args.sizes:
                r = _run("large", args, "--backend", backend, "--size", str(size))
                print(f"  {backend:<5} {size}x{size}: {r['peak_mib']:7.0f} MiB "
                      f"({r['rss_before_mib']:.0f} MiB before), {r['seconds']:.2f} s", flush=True)
        print(f"\nstreaming 256x256 pairs with {args.stream_backend} (batch "
              f"{args.stream_batch}, 2 readers, 2 writers, prefetch 16): peak RSS, rate")
        for count in args.counts:
            r = _run("stream", args, "--backend", args.stream_backend, "--count", str(count))
            print(f"  {count:5d} pairs: {r['peak_mib']:7.0f} MiB ({r['rss_before_mib']:.0f} MiB "
                  f"before), {r['pairs_per_second']:.1f} pairs/s", flush=True)


if __name__ == "__main__":
    main()
