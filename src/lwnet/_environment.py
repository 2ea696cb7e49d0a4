"""What a computation ran on: software versions, the source commit, the processor and the
kernels torch chose for it.

Benchmark reports record it in their provenance and training runs in ``environment.json``:
bit-for-bit equal results need all of it equal. Same code, seed and data on one machine with
torch's CPU kernels limited to AVX2 (``ATEN_CPU_CAPABILITY=avx2``) instead of its AVX-512 ones
moved the second SPI screening by 4 patches (docs/benchmarks.md, "Do the shipped models
reproduce?").
"""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from lwnet._text import counted

#: Distributions whose versions can move a figure or a trained weight.
DISTRIBUTIONS = ("lwnet", "torch", "numpy", "scipy", "pillow", "pywavelets", "safetensors",
                 "matplotlib")


def software_versions(names: Sequence[str] = DISTRIBUTIONS) -> dict[str, str]:
    """Python and the installed version of each distribution (``"absent"`` where none is).

    torch is given by its own ``torch.__version__``, which names its build (``2.11.0+cu130``,
    ``2.13.0+cpu``) where a distribution's metadata may say only ``2.11.0``: the build decides
    which kernels computed the figures.
    """
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    if out.get("torch", "absent") != "absent":
        out["torch"] = torch.__version__
    return out


def source_commit(path: Path = Path(__file__)) -> str | None:
    """The git commit of the checkout that tracks ``path``, marked ``+ local changes`` when the
    working tree differs from it; ``None`` when no checkout does (an installed wheel)."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(path.parent), *args], capture_output=True,
                                  text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    # A copy installed inside some other checkout (a .venv in a repository) is no source of it.
    if commit is None or git("ls-files", "--error-unmatch", path.name) is None:
        return None
    return commit + (" + local changes" if git("status", "--porcelain", "--untracked-files=no")
                     else "")


def cpu_model() -> str:
    """The processor's model name (Linux: ``/proc/cpuinfo``), else what :mod:`platform` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def torch_kernels(device: torch.device) -> str:
    """The kernels torch runs on ``device``: the CPU instruction set it dispatches to
    (``"cpu, AVX512 kernels"``; ``ATEN_CPU_CAPABILITY`` can lower it), or the accelerator by
    name (``"cuda, NVIDIA H100 80GB HBM3 (sm_90), CUDA 12.8"``)."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return (f"cuda, {torch.cuda.get_device_name(device)} (sm_{major}{minor}), "
                f"CUDA {torch.version.cuda}")
    if device.type == "cpu":
        return f"cpu, {torch.backends.cpu.get_cpu_capability()} kernels"
    return device.type


#: The fields of :func:`run_environment`, each a string.
RUN_ENVIRONMENT_KEYS = ("lwnet", "torch", "numpy", "cpu", "kernels", "threads", "processes")


def run_environment(device: torch.device, processes: int = 1) -> dict[str, str]:
    """What one training run (or its resumed part) computes with: the fields whose change can
    change its weights bit for bit. All values are text, for JSON and comparison."""
    return {"lwnet": source_commit() or software_versions(("lwnet",))["lwnet"],
            "torch": torch.__version__, "numpy": np.__version__, "cpu": cpu_model(),
            "kernels": torch_kernels(device), "threads": str(torch.get_num_threads()),
            "processes": str(processes)}


def environment_text(env: dict[str, str]) -> str:
    """One line for a model card, e.g. ``AMD EPYC, cpu, AVX512 kernels, 1 thread × 1 process;
    torch 2.13.0+cpu, numpy 2.4.6; lwnet 12796d1``."""
    commit = env["lwnet"].split()
    lwnet = " ".join([commit[0][:7], *commit[1:]]) if len(commit[0]) == 40 else env["lwnet"]
    processes = "1 process" if env["processes"] == "1" else f"{env['processes']} processes"
    return (f"{env['cpu']}, {env['kernels']}, {counted(int(env['threads']), 'thread')} × "
            f"{processes}; torch {env['torch']}, numpy {env['numpy']}; lwnet {lwnet}")
