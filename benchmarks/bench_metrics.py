"""Time the six fusion metrics on one 256×256 triple of the shared data, on one core.

Target (issue 2): all six metrics (VIF, MI, UQI, SSIM, PSNR, Qcb) in ≤ 0.1 s. For comparison
it also times a straightforward per-window loop transcription of UQI.

    OMP_NUM_THREADS=1 LWNET_DATA=/work/shared/data PYTHONPATH=src python benchmarks/bench_metrics.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before NumPy/torch load their thread pools

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lwnet.data import harvard_pairs, luma8, read_image  # noqa: E402
from lwnet.data.datasets import default_data_root  # noqa: E402
from lwnet.metrics import (  # noqa: E402
    compute_metrics,
    fusion_mi,
    fusion_ssim,
    fusion_uqi,
    fusion_vif,
    psnr,
    qcb,
    uqi_index,
)


def timeit(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU (process) time of ``repeats`` calls after a warm-up call, in seconds.

    On a shared machine the wall time includes waiting for a core; the CPU time of this
    single-threaded process is the better estimate of the cost on one idle core.
    """
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def ms(times: tuple[float, float]) -> str:
    return f"{times[0] * 1e3:8.1f} ms wall {times[1] * 1e3:8.1f} ms CPU"


def uqi_loop(x: np.ndarray, y: np.ndarray, block: int = 8) -> float:
    """Direct transcription of the Wang–Bovik definition: one Python iteration per window."""
    h, w = x.shape
    total, count = 0.0, 0
    for i in range(h - block + 1):
        for j in range(w - block + 1):
            wx, wy = x[i:i + block, j:j + block], y[i:i + block, j:j + block]
            mx, my = wx.mean(), wy.mean()
            vx, vy = wx.var(), wy.var()
            if vx + vy == 0:
                q = 1.0 if mx == my == 0 else 2 * mx * my / (mx * mx + my * my)
            else:
                cov = ((wx - mx) * (wy - my)).mean()
                q = 4 * cov * mx * my / ((vx + vy) * (mx * mx + my * my))
            total += q
            count += 1
    return total / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", default="SPECT-MRI")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)

    data = default_data_root()
    pair = harvard_pairs(data / "harvard", args.pair, "test")[0]
    mri, func = read_image(pair.a), read_image(pair.b)
    fused_path = data / "external" / "IFCNN" / args.pair / f"{pair.id}.png"
    fused = read_image(fused_path) if fused_path.is_file() else (mri + luma8(func) / 255) / 2
    a8, b8, f8 = luma8(mri), luma8(func), luma8(fused)
    a, b, f = (x.astype(np.float64) for x in (a8, b8, f8))
    print(f"triple: {args.pair} id {pair.id}, {a.shape[1]}x{a.shape[0]}, "
          f"F = {'IFCNN' if fused_path.is_file() else 'pixel mean'}; "
          f"torch threads {torch.get_num_threads()}, "
          f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    parts = {
        "VIF (VIFF)": lambda: fusion_vif(a, b, f),
        "MI": lambda: fusion_mi(a8, b8, f8),
        "UQI": lambda: fusion_uqi(a, b, f),
        "SSIM": lambda: fusion_ssim(a, b, f),
        "PSNR": lambda: psnr(a, b, f),
        "Qcb": lambda: qcb(a, b, f),
    }
    for name, fn in parts.items():
        print(f"  {name:<11} {ms(timeit(fn, args.repeats))}")
    six = timeit(lambda: compute_metrics(mri, func, fused, extras=False), args.repeats)
    everything = timeit(lambda: compute_metrics(mri, func, fused), args.repeats)
    print(f"six metrics (compute_metrics, extras=False): {ms(six)}  "
          f"[target <= 100 ms on one core: {'met' if min(six) <= 0.1 else 'MISSED'}]")
    print(f"six metrics + EN, SD, SF, AG, Qabf:          {ms(everything)}")

    fast = timeit(lambda: uqi_index(a, f), args.repeats)
    slow = timeit(lambda: uqi_loop(a, f), 1)
    assert abs(uqi_loop(a, f) - uqi_index(a, f)) < 1e-9
    print(f"UQI(A, F): integral images {ms(fast)}; per-window loop {ms(slow)} "
          f"-> {slow[1] / fast[1]:.0f}x less CPU (same value)")


if __name__ == "__main__":
    main()
