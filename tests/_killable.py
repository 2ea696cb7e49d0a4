"""Run LWNet commands in a subprocess and SIGKILL them: shared by the resume and fault tests.

Also the tiny training setup those tests use: a four-pair Harvard-layout root and the
``lwnet train`` command line of a run that takes a few seconds on one thread.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from lwnet.data.io import read_image, write_image

SRC = str(Path(__file__).resolve().parents[1] / "src")
# Tiny but real: 4 pairs × 25 patches of 48×48, a width-4 LWNet, two cheap label sources.
TINY = ["pair_type=SPECT-MRI", "external_root=none", "methods=['mean','max']", "patch_size=48",
        "stride=52", "labelled=0.5", "val_patches=10", "batch_size=4", "lr=0.01",
        "model.width=4", "threads=1"]


def env() -> dict[str, str]:
    """The environment of a child ``python -m lwnet``: this checkout's sources, one thread."""
    return {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}


def lwnet_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "lwnet", *args]


def make_tiny_root(root: Path, sample: Path) -> Path:
    """Four SPECT-MRI training pairs under ``root``: the sample pair and three flips of it."""
    a = read_image(sample / "SPECT-MRI/MRI/9028.png")
    b = read_image(sample / "SPECT-MRI/SPECT/9028.png")
    ops = [lambda x: x, np.fliplr, np.flipud, lambda x: np.rot90(x, 2)]
    for i, op in enumerate(ops):
        write_image(root / "SPECT-MRI/MRI" / f"{i}.png", np.ascontiguousarray(op(a)))
        write_image(root / "SPECT-MRI/SPECT" / f"{i}.png", np.ascontiguousarray(op(b)))
    (root / "splits").mkdir()
    (root / "splits/SPECT-MRI_train.txt").write_text("0.png\n1.png\n2.png\n3.png\n")
    return root


def train_cmd(root: Path, run_dir: Path, *extra: str) -> list[str]:
    """``lwnet train`` of the tiny configuration on ``root`` (``extra``: more ``--set``)."""
    sets = [x for s in [*TINY, f"data_root='{root}'", *extra] for x in ("--set", s)]
    return lwnet_cmd("train", *sets, "--run-dir", str(run_dir), "--no-progress")


def weights_hash(path: Path) -> str:
    """SHA-256 over the tensors of a safetensors file (names and raw bytes, sorted)."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    h = hashlib.sha256()
    for key in sorted(tensors):
        h.update(key.encode() + tensors[key].numpy().tobytes())
    return h.hexdigest()


def run_and_kill(cmd: list[str], delay: float, *, after: Path | None = None,
                 timeout: float = 120.0) -> bool:
    """Start ``cmd``, SIGKILL it ``delay`` seconds after ``after`` exists (or after the start).

    Returns whether the process was still running when killed (False: it finished first).
    """
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while (after is not None and not after.exists() and proc.poll() is None
           and time.monotonic() < deadline):
        time.sleep(0.01)
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True
