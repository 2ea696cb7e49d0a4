"""SPI runs end to end on a tiny synthetic Harvard-layout root: loss, resume, torchrun."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lwnet.data.io import read_image, write_image

SRC = str(Path(__file__).resolve().parents[1] / "src")
# Tiny but real: 4 pairs × 25 patches of 48×48, a width-4 LWNet, two cheap label sources.
TINY = ["pair_type=SPECT-MRI", "external_root=none", "methods=['mean','max']", "patch_size=48",
        "stride=52", "labelled=0.5", "val_patches=10", "batch_size=4", "lr=0.01",
        "model.width=4", "threads=1"]


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory, sample) -> Path:
    """Four SPECT-MRI training pairs: the sample pair and three flips of it."""
    root = tmp_path_factory.mktemp("harvard")
    a = read_image(sample / "SPECT-MRI/MRI/9028.png")
    b = read_image(sample / "SPECT-MRI/SPECT/9028.png")
    ops = [lambda x: x, np.fliplr, np.flipud, lambda x: np.rot90(x, 2)]
    for i, op in enumerate(ops):
        write_image(root / "SPECT-MRI/MRI" / f"{i}.png", np.ascontiguousarray(op(a)))
        write_image(root / "SPECT-MRI/SPECT" / f"{i}.png", np.ascontiguousarray(op(b)))
    (root / "splits").mkdir()
    (root / "splits/SPECT-MRI_train.txt").write_text("0.png\n1.png\n2.png\n3.png\n")
    return root


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}


def _cli(root: Path, run_dir: Path, *extra: str) -> list[str]:
    sets = [x for s in [*TINY, f"data_root='{root}'", *extra] for x in ("--set", s)]
    return [sys.executable, "-m", "lwnet", "train", *sets, "--run-dir", str(run_dir),
            "--no-progress"]


def _hash(path: Path) -> str:
    from safetensors.torch import load_file

    t = load_file(str(path))
    h = hashlib.sha256()
    for k in sorted(t):
        h.update(k.encode() + t[k].numpy().tobytes())
    return h.hexdigest()


def test_two_iterations_lower_the_loss_and_write_the_run(tiny_root, tmp_path) -> None:
    from lwnet.training import load_config, train

    cfg = load_config(None, None, [*TINY, f"data_root='{tiny_root}'", "iterations=2",
                                   "epochs=3"])
    out = train(cfg, tmp_path / "run", progress=False)
    import csv

    rows = list(csv.DictReader((tmp_path / "run/log.csv").open()))
    assert [int(r["iteration"]) for r in rows] == [1, 2]
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])
    assert int(rows[0]["L"]) == 45 and int(rows[0]["P"]) + int(rows[0]["U"]) == 45
    assert out.is_file() and (tmp_path / "run/weights.md").is_file()
    assert (tmp_path / "run/config.json").is_file()
    # A second run in the same folder without --resume is refused.
    with pytest.raises(Exception, match="resume"):
        train(cfg, tmp_path / "run", progress=False)


def test_resume_after_sigkill_gives_identical_weights(tiny_root, tmp_path) -> None:
    sched = ["iterations=2", "epochs=3", "samples_per_epoch=40"]
    ref = tmp_path / "ref"
    subprocess.run(_cli(tiny_root, ref, *sched, f"cache_dir='{tmp_path / 'cache'}'"),
                   env=_env(), check=True, capture_output=True)
    run = tmp_path / "killed"
    cmd = _cli(tiny_root, run, *sched, f"cache_dir='{tmp_path / 'cache'}'")
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ckpt = run / "checkpoint.safetensors"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(0.3)  # somewhere inside a later epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "weights.safetensors").exists(), "run finished before it was killed"
    subprocess.run(cmd + ["--resume"], env=_env(), check=True, capture_output=True)
    assert _hash(run / "weights.safetensors") == _hash(ref / "weights.safetensors")
    assert (run / "log.csv").read_text() == (ref / "log.csv").read_text()


def test_torchrun_two_ranks_make_the_same_pool_decisions(tmp_path) -> None:
    worker = str(Path(__file__).with_name("spi_screen_worker.py"))
    single, multi = tmp_path / "single.npz", tmp_path / "multi.npz"
    subprocess.run([sys.executable, worker, str(single)], env=_env(), check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                    "--standalone", worker, str(multi)],
                   env=_env(), check=True, capture_output=True)
    s, m = np.load(single), np.load(multi)
    assert s["decisions"].sum() > 0  # the case is not vacuous
    assert len(s["U"]) > 0  # and not everything is admitted
    for key in ("P", "U", "decisions", "labels"):
        np.testing.assert_array_equal(s[key], m[key])
    np.testing.assert_allclose(s["scores"], m["scores"], atol=1e-6)
