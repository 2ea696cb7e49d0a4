"""Time of one SPI training step (LWNet forward, α(1 − SSIM) + β·L1 loss, backward, Adam) on
random 120×120 patches, for several batch sizes, with and without deterministic algorithms.

Prints the median wall-clock time per step (synchronised, and with the training loop's
per-step read of the loss) and, with ``--profile``, the operations that take the most device
time at the largest batch. Use it to size a run: steps = iterations × epochs × |L ∪ P| / batch.

    PYTHONPATH=src python benchmarks/bench_train_step.py --device cuda [--batches 4 32] [--profile]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lwnet._device import resolve_device, use_deterministic
from lwnet.model import LWNet
from lwnet.training.loss import spi_loss


def step_ms(device: torch.device, batch: int, deterministic: bool, steps: int,
            size: int = 120, on_step=None) -> float:
    """Median milliseconds of ``steps`` training steps after 10 untimed ones."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    use_deterministic(device, deterministic)
    torch.manual_seed(0)
    model = LWNet().to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    a, b, y = torch.rand(3, batch, 1, size, size, device=device)
    times = []
    for i in range(steps + 10):
        sync()
        start = time.perf_counter()
        loss = spi_loss(model(a, b), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        float(loss.detach())  # the training loop reads the loss every step
        if i >= 10:
            times.append(time.perf_counter() - start)
        if on_step is not None:
            on_step()
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[4, 32])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--profile", action="store_true", help="top operations by device time")
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__}, {name}, {args.threads} thread(s), {args.steps} steps")
    print("| batch | deterministic | ms/step | patches/s |")
    print("|---:|---|---:|---:|")
    for batch in args.batches:
        for det in (True, False):
            ms = step_ms(device, batch, det, args.steps)
            print(f"| {batch} | {det} | {ms:.2f} | {1000 * batch / ms:,.0f} |", flush=True)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + (
            [ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=activities, acc_events=True) as prof:
            step_ms(device, max(args.batches), True, 20, on_step=prof.step)
        key = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=15, max_name_column_width=50))


if __name__ == "__main__":
    main()
