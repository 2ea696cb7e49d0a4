"""Processes killed with SIGKILL, and processes racing on one folder, lose nothing.

Training killed at seeded random moments and resumed ends bit-identical to an uninterrupted run;
a folder fusion killed midway and run again completes only what is missing; two fusions into
one output folder both finish with every output written once. See docs/reliability.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from lwnet._files import remove_stale_temps
from lwnet.cli import main
from lwnet.data.colour import fuse_in_luma, luma8
from lwnet.data.io import read_image
from lwnet.methods import get_method
from lwnet.training.checkpoint import load_checkpoint

from _killable import env, lwnet_cmd, make_tiny_root, run_and_kill, train_cmd, weights_hash

# Cosine decay: the rate depends on the position in the run, the harder case for an exact resume.
SCHEDULE = ["iterations=2", "epochs=2", "samples_per_epoch=40", "lr_schedule='cosine'"]
N_PAIRS = 24


def _ended_pid() -> int:
    """The pid of a process that has ended (what a SIGKILLed writer leaves behind)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _no_temps(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.tmp"))


@pytest.mark.slow
def test_training_killed_at_three_random_moments_resumes_bit_identical(sample, tmp_path,
                                                                       capsys):
    root = make_tiny_root(tmp_path / "harvard", sample)
    ref = tmp_path / "ref"
    start = time.monotonic()
    subprocess.run(train_cmd(root, ref, *SCHEDULE), env=env(), check=True, capture_output=True)
    duration = time.monotonic() - start
    expected = weights_hash(ref / "weights.safetensors")
    rng = np.random.default_rng(7)
    # One moment in each third of the run: start-up/candidates, early and late training.
    moments = [rng.uniform(lo, hi) * duration for lo, hi in ((0.1, 0.3), (0.3, 0.55),
                                                             (0.55, 0.8))]
    for k, delay in enumerate(moments):
        run = tmp_path / f"killed{k}"
        cmd = train_cmd(root, run, *SCHEDULE)
        while not run_and_kill(cmd, delay):  # a less loaded machine finished first: earlier
            shutil.rmtree(run, ignore_errors=True)
            delay /= 2
        ckpt = run / "checkpoint.safetensors"
        if (run / "weights.safetensors").exists():
            pass  # killed after its final write, during exit: the run is complete
        elif ckpt.exists():
            load_checkpoint(ckpt)  # whatever survived the kill is a complete checkpoint
            # Resumed in this process (one thread, deterministic), saving a start-up.
            assert main(cmd[3:] + ["--resume"]) == 0
        else:  # killed before the first checkpoint: --resume says so, a plain rerun starts over
            started = run.is_dir()  # not if killed before the run took its folder
            configured = (run / "config.json").is_file()  # written once the data is in hand
            assert main(cmd[3:] + ["--resume"]) == 2
            err = capsys.readouterr().err
            assert ("no checkpoint to resume from" if configured else
                    "holds no run to resume" if started else "no such run folder") in err
            assert main(cmd[3:]) == 0
        assert weights_hash(run / "weights.safetensors") == expected, f"kill at {delay:.2f} s"
        assert (run / "log.csv").read_text() == (ref / "log.csv").read_text()
        assert _no_temps(run) == []


def _folders(sample: Path, tmp_path: Path, n: int) -> tuple[Path, Path]:
    dir_a, dir_b = tmp_path / "A", tmp_path / "B"
    dir_a.mkdir()
    dir_b.mkdir()
    for i in range(n):
        shutil.copy(sample / "SPECT-MRI/MRI/9028.png", dir_a / f"{i:03d}.png")
        shutil.copy(sample / "SPECT-MRI/SPECT/9028.png", dir_b / f"{i:03d}.png")
    return dir_a, dir_b


def _counts(stdout: str) -> tuple[int, int]:
    m = re.search(r"(\d+) written, (\d+) already present", stdout)
    assert m, stdout
    return int(m.group(1)), int(m.group(2))


def _check_outputs(out: Path, sample: Path, n: int) -> None:
    """Every output reads back and holds the fusion of its pair."""
    expected = luma8(fuse_in_luma(get_method("gff"), read_image(sample / "SPECT-MRI/MRI/9028.png"),
                                  read_image(sample / "SPECT-MRI/SPECT/9028.png"))[0])
    files = sorted(out.glob("*.png"))
    assert [f.stem for f in files] == [f"{i:03d}" for i in range(n)]
    for f in files:
        np.testing.assert_array_equal(luma8(read_image(f)), expected, err_msg=str(f))


@pytest.mark.slow
def test_folder_fusion_killed_midway_then_rerun_completes_only_the_rest(sample, tmp_path):
    dir_a, dir_b = _folders(sample, tmp_path, N_PAIRS)
    out = tmp_path / "out"
    cmd = lwnet_cmd("fuse", "-m", "gff", str(dir_a), str(dir_b), "--out", str(out))
    assert run_and_kill(cmd, 0.4, after=out / "gff" / "000.png"), "finished before the kill"
    done = sorted((out / "gff").glob("*.png"))
    assert 0 < len(done) < N_PAIRS
    for f in done:  # nothing truncated under a final name
        read_image(f)
    # A temp file of a writer that was killed mid-write (pid of an ended process) goes on the
    # rerun; a live writer's (this process) stays.
    stale = out / "gff" / f".005.png.{_ended_pid()}.abc123.tmp"
    live = out / "gff" / f".006.png.{os.getpid()}.abc123.tmp"
    stale.write_bytes(b"\x89PNG half")
    live.write_bytes(b"\x89PNG half")
    rerun = subprocess.run(cmd, env=env(), capture_output=True, text=True, check=True)
    assert _counts(rerun.stdout) == (N_PAIRS - len(done), len(done))
    assert not stale.exists() and live.exists()
    live.unlink()
    assert _no_temps(out) == []
    _check_outputs(out / "gff", sample, N_PAIRS)


def test_remove_stale_temps_spares_live_writers(tmp_path):
    stale = tmp_path / f".a.png.{_ended_pid()}.x1.tmp"
    live = tmp_path / f".b.png.{os.getpid()}.x2.tmp"
    other = tmp_path / "c.tmp"  # not ours: no pid field
    for f in (stale, live, other):
        f.write_bytes(b"")
    assert remove_stale_temps(tmp_path) == [stale]
    assert live.exists() and other.exists()


@pytest.mark.slow
def test_two_concurrent_fusions_into_one_folder_write_each_output_once(sample, tmp_path):
    dir_a, dir_b = _folders(sample, tmp_path, N_PAIRS)
    out = tmp_path / "out"
    cmd = lwnet_cmd("fuse", "-m", "gff", str(dir_a), str(dir_b), "--out", str(out))
    procs = [subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [r[1] for r in results]
    counts = [_counts(stdout) for stdout, _ in results]
    # Each output was written by exactly one of them; the other found it present.
    assert sum(w for w, _ in counts) == N_PAIRS
    assert all(w + s == N_PAIRS for w, s in counts)
    assert _no_temps(out) == []
    _check_outputs(out / "gff", sample, N_PAIRS)
