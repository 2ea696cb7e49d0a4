"""Time of one SPI training step (LWNet forward, α(1 − SSIM) + β·L1 loss, backward, Adam) on
random 120×120 patches, for several batch sizes, eager and with ``compile = true``.

The step is the training loop's own (:class:`lwnet.training.loop.TrainingStep`, Adam fused on
CUDA, deterministic algorithms, no per-step read of the loss). Prints the milliseconds per step
(the median of three runs of ``--steps`` steps, synchronised at both ends) and the time of the
first ten steps, which includes compiling. With ``--profile``, the operations that take the
most device time in eager steps at the largest batch. With ``--tf32``, every CUDA figure is
taken twice, alternating: float32 matmuls as LWNet runs them (PyTorch's default), then TF32
matmuls (``torch.backends.cuda.matmul.allow_tf32``; docs/benchmarks.md, "Where a compiled
training step's time goes"). Use it to size a run: steps = iterations × epochs × |L ∪ P| / batch.

    PYTHONPATH=src python benchmarks/bench_train_step.py --device cuda [--batches 4 32] \
        [--profile] [--tf32]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from lwnet._device import resolve_device, use_deterministic
from lwnet.model import LWNet
from lwnet.training.config import TrainConfig
from lwnet.training.loop import TrainingStep, adam
from malloc_option import add_malloc_option, apply_malloc_option, freed_memory_note


def step_ms(device: torch.device, batch: int, compile: bool, steps: int,
            size: int = 120, on_step=None) -> tuple[float, float]:
    """(median ms per step over three runs of ``steps`` steps, seconds of the first 10 steps)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    use_deterministic(device)
    torch.manual_seed(0)
    model = LWNet().to(device).train()
    opt = adam(model.parameters(), 1e-3, device)
    step = TrainingStep(model, dataclasses.replace(TrainConfig(), compile=compile,
                                                   batch_size=batch), device)
    a, b, y = torch.rand(3, batch, 1, size, size, device=device)

    def run(n: int) -> float:
        sync()
        start = time.perf_counter()
        total = torch.zeros((), device=device)
        for _ in range(n):
            loss = step(a, b, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
            if on_step is not None:
                on_step()
        float(total)  # the loop reads the summed loss once, at the end of the epoch
        sync()
        return time.perf_counter() - start

    first = run(10)
    return 1000 * statistics.median(run(steps) / steps for _ in range(3)), first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[4, 32])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--no-compile", action="store_true", help="eager steps only")
    parser.add_argument("--profile", action="store_true", help="top operations by device time")
    parser.add_argument("--tf32", action="store_true",
                        help="on CUDA, also time each step with TF32 matmuls")
    add_malloc_option(parser)
    args = parser.parse_args()
    kept = apply_malloc_option(args)
    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__}, {name}, {args.threads} thread(s), {args.steps} steps, "
          f"{freed_memory_note(kept)}")
    print("| batch | step | matmuls | ms/step | patches/s | first 10 steps, s |")
    print("|---:|---|---|---:|---:|---:|")
    precisions = (False, True) if args.tf32 and device.type == "cuda" else (False,)
    for batch in args.batches:
        for compile in (False,) if args.no_compile else (False, True):
            for tf32 in precisions:
                torch.backends.cuda.matmul.allow_tf32 = tf32
                torch._dynamo.reset()  # compiled kernels are chosen for the precision
                ms, first = step_ms(device, batch, compile, args.steps)
                print(f"| {batch} | {'compiled' if compile else 'eager'} | "
                      f"{'TF32' if tf32 else 'float32'} | {ms:.2f} | {1000 * batch / ms:,.0f} | "
                      f"{first:.1f} |", flush=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + (
            [ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=activities, acc_events=True) as prof:
            step_ms(device, max(args.batches), False, 20, on_step=prof.step)
        key = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=15, max_name_column_width=50))


if __name__ == "__main__":
    main()
