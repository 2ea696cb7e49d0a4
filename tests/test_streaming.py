"""Streaming batch fusion: results equal per-pair fusion, resume, bounded prefetch, errors."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from lwnet.cli import main
from lwnet.data.colour import fuse_in_luma, luma8
from lwnet.data.datasets import ImagePair, harvard_pairs
from lwnet.data.io import read_image, write_image
from lwnet.errors import InputError
from lwnet.inference.onnx import export_onnx
from lwnet.inference.streaming import FuseJob, module_fuser, pairwise_fuser, stream_fuse
from lwnet.model import LWNet

MEAN = pairwise_fuser(lambda a, b: (a + b) / 2)


def _copies(sample: Path, tmp_path: Path, n: int) -> list[ImagePair]:
    """``n`` pairs: copies of the three sample pairs under fresh names."""
    base = [p for t in ("SPECT-MRI", "CT-MRI", "PET-MRI") for p in harvard_pairs(sample, t)]
    pairs = []
    for i in range(n):
        src = base[i % len(base)]
        a, b = tmp_path / "in" / f"{i:04d}_a.png", tmp_path / "in" / f"{i:04d}_b.png"
        a.parent.mkdir(exist_ok=True)
        shutil.copy(src.a, a)
        shutil.copy(src.b, b)
        pairs.append(ImagePair(f"{i:04d}", a, b))
    return pairs


def test_stream_matches_per_pair_fusion(sample, tmp_path):
    torch.manual_seed(0)
    fuser = module_fuser(LWNet(width=2))
    pairs = _copies(sample, tmp_path, 7)
    jobs = [FuseJob(p, tmp_path / "out" / f"{p.id}.png") for p in pairs]
    stats = stream_fuse(jobs, fuser, batch_size=2, readers=2, writers=2, prefetch=3)
    assert (stats.fused, stats.written, stats.skipped) == (7, 7, 0)
    assert stats.pairs_per_second > 0
    for job in jobs:
        expected, _ = fuse_in_luma(lambda a, b: fuser(a[None], b[None])[0],
                                   read_image(job.pair.a), read_image(job.pair.b))
        got = read_image(job.out)
        assert got.ndim == expected.ndim
        assert np.abs(luma8(got).astype(int) - luma8(expected).astype(int)).max() <= 1


def test_resume_writes_only_missing(sample, tmp_path):
    pairs = _copies(sample, tmp_path, 6)
    out = tmp_path / "out"
    jobs = [FuseJob(p, out / f"{p.id}.png") for p in pairs]
    # An earlier, interrupted run left two results; mark them to see they are kept.
    for job in jobs[1:3]:
        write_image(job.out, np.full((20, 20), 0.5, np.float32))
    kept = {job.out: job.out.read_bytes() for job in jobs[1:3]}
    seen = []

    def counting(a, b):
        seen.append(len(a))
        return MEAN(a, b)

    stats = stream_fuse(jobs, counting, batch_size=3)
    assert (stats.fused, stats.written, stats.skipped) == (4, 4, 2)
    assert sum(seen) == 4
    assert all(path.read_bytes() == data for path, data in kept.items())
    assert all(j.out.is_file() for j in jobs)
    assert not list(out.glob(".*"))  # no temporary files left behind
    again = stream_fuse(jobs, counting, batch_size=3)
    assert (again.fused, again.skipped) == (0, 6) and sum(seen) == 4
    redo = stream_fuse(jobs, counting, batch_size=3, overwrite=True)
    assert redo.written == 6 and read_image(jobs[1].out).shape == (256, 256)  # CT: grey


def test_prefetch_bounds_pairs_in_memory(sample, tmp_path):
    pairs = _copies(sample, tmp_path, 3)
    lock, live, peak = threading.Lock(), [0], [0]
    consumed = []

    def jobs():  # lazy: counts pairs handed out but not yet fused
        for i in range(40):
            with lock:
                live[0] += 1
                peak[0] = max(peak[0], live[0])
            yield FuseJob(pairs[i % 3], tmp_path / "out" / f"{i}.png")

    def fuse(a, b):
        with lock:
            live[0] -= len(a)
        consumed.append(len(a))
        return MEAN(a, b)

    stats = stream_fuse(jobs(), fuse, batch_size=4, prefetch=5)
    assert stats.fused == 40 and sum(consumed) == 40
    # At most the prefetched reads, the batch being filled and the next job are held.
    assert peak[0] <= 5 + 4 + 1


def test_unreadable_pair_stops_with_error(sample, tmp_path):
    pairs = _copies(sample, tmp_path, 4)
    pairs[2].b.write_bytes(b"not a png")
    jobs = [FuseJob(p, tmp_path / "out" / f"{p.id}.png") for p in pairs]
    with pytest.raises(InputError, match="0002_b.png"):
        stream_fuse(jobs, MEAN, batch_size=1, prefetch=1)
    assert not jobs[2].out.exists()
    assert jobs[0].out.is_file()  # what was fused before the bad pair is kept
    assert not list((tmp_path / "out").glob(".*"))


def test_damaged_output_is_named_not_taken_as_done(sample, tmp_path):
    """An output that no longer decodes (cut short by a copy, say) is never skipped as
    finished: the run stops naming it, keeps it as it was, and --redo (overwrite) replaces it."""
    pairs = _copies(sample, tmp_path, 4)
    jobs = [FuseJob(p, tmp_path / "out" / f"{p.id}.png") for p in pairs]
    stream_fuse(jobs, MEAN, batch_size=2)
    whole = jobs[2].out.read_bytes()
    jobs[2].out.write_bytes(whole[:len(whole) // 2])
    jobs[3].out.unlink()
    with pytest.raises(InputError, match="0002.png: corrupt or truncated.*use --redo"):
        stream_fuse(jobs, MEAN, batch_size=1, prefetch=1)
    assert jobs[2].out.read_bytes() == whole[:len(whole) // 2]
    redo = stream_fuse(jobs, MEAN, batch_size=2, overwrite=True)
    assert redo.written == 4 and jobs[2].out.read_bytes() == whole


def test_fuse_cli_dataset_with_onnx_backend(sample, tmp_path, capsys):
    torch.manual_seed(0)
    model = LWNet(width=2)
    export_onnx(model, tmp_path / "m.onnx")
    out = tmp_path / "out"
    args = ["fuse", "--root", str(sample), "--pair", "SPECT-MRI", "--out", str(out),
            "--backend", "onnx", "--onnx", str(tmp_path / "m.onnx"), "--luma"]
    assert main(args) == 0
    assert "1 written" in capsys.readouterr().out
    (p,) = harvard_pairs(sample, "SPECT-MRI")
    fuser = module_fuser(model)
    _, expected = fuse_in_luma(lambda a, b: fuser(a[None], b[None])[0], read_image(p.a),
                               read_image(p.b))
    got = read_image(out / "lwnet" / "SPECT-MRI" / f"{p.id}.png")
    assert np.abs(luma8(got).astype(int) - luma8(expected).astype(int)).max() <= 1
    assert main(args) == 0
    assert "0 written, 1 already present" in capsys.readouterr().out
    assert main(args[:-5] + ["--method", "mean", "--backend", "onnx", "--onnx", "x"]) == 2
    assert "--method lwnet" in capsys.readouterr().err


def test_fuse_cli_folder_mode_resumes(sample, tmp_path, capsys):
    pairs = _copies(sample, tmp_path, 5)
    dir_a, dir_b = tmp_path / "A", tmp_path / "B"
    for folder, pick in ((dir_a, "a"), (dir_b, "b")):
        folder.mkdir()
        for p in pairs:
            shutil.copy(getattr(p, pick), folder / f"{p.id}.png")
    out = tmp_path / "out"
    args = ["fuse", "-m", "max", str(dir_a), str(dir_b), "--out", str(out), "-j", "2"]
    assert main(args) == 0
    assert "5 written, 0 already present" in capsys.readouterr().out
    (out / "max" / "0003.png").unlink()  # as if the run had stopped before this pair
    assert main(args) == 0
    assert "1 written, 4 already present" in capsys.readouterr().out
    np.testing.assert_array_equal(
        luma8(read_image(out / "max" / "0003.png")),
        luma8(fuse_in_luma(np.maximum, read_image(pairs[3].a), read_image(pairs[3].b))[0]))


def test_a_batch_fuser_out_of_range_is_named_as_given() -> None:
    from lwnet.errors import ConfigError
    from lwnet.inference.streaming import single_pair

    def bytes_out(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # a graph giving 0..255
        return (a + b) * 127.5

    one = single_pair(bytes_out, "lwnet mine.onnx (sha256 0123)")
    a = np.full((16, 16), 0.5, np.float32)
    with pytest.raises(ConfigError, match=r"^fusion method lwnet mine.onnx \(sha256 0123\): "
                                          r"returned"):
        fuse_in_luma(one, a, a)
