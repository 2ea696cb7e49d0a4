"""``lwnet fuse`` with the network (the default method) and ``lwnet profile``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lwnet.cli import main
from lwnet.data import fuse_in_luma, luma8, read_image
from lwnet.inference import fuse, load_model, network_method


@pytest.mark.parametrize(("pair_type", "ndim"), [("SPECT-MRI", 3), ("CT-MRI", 2)])
def test_fuse_cli_network_with_weights(
    sample_pair, tmp_path: Path, weights: Path, pair_type: str, ndim: int
) -> None:
    a, b = sample_pair(pair_type)
    out, luma_out = tmp_path / "f.png", tmp_path / "y.png"
    assert main(["fuse", str(a), str(b), "-o", str(out), "--weights", str(weights),
                 "--luma-out", str(luma_out)]) == 0
    result = read_image(out)
    assert result.ndim == ndim
    expected = fuse(read_image(a), read_image(b), model=weights)
    np.testing.assert_array_equal(luma8(result), luma8(expected))
    background = (luma8(read_image(a)) == 0) & (luma8(read_image(b)) == 0)
    assert (luma8(read_image(luma_out))[background] == 0).all()


def test_fuse_cli_dataset_mode_with_network(sample: Path, tmp_path: Path, weights: Path,
                                            capsys, sample_pair) -> None:
    out = tmp_path / "out"
    args = ["fuse", "-m", "lwnet", "-m", "mean", "--root", str(sample), "--pair", "PET-MRI",
            "--out", str(out), "--weights", str(weights), "--luma"]
    assert main(args) == 0
    assert "2 written, 0 already present" in capsys.readouterr().out
    a, b = sample_pair("PET-MRI")
    y = read_image(out / "lwnet" / "PET-MRI" / a.name)
    network = network_method(load_model(weights))
    _, expected = fuse_in_luma(network, read_image(a), read_image(b))
    np.testing.assert_array_equal(luma8(y), luma8(expected))


def test_fuse_cli_network_errors(sample_pair, tmp_path: Path, capsys) -> None:
    a, b = sample_pair("CT-MRI")
    evil = tmp_path / "evil.safetensors"
    torch.save({"x": torch.zeros(1)}, evil)
    out = tmp_path / "f.png"
    assert main(["fuse", str(a), str(b), "-o", str(out), "--weights", str(evil)]) == 2
    err = capsys.readouterr().err
    assert "evil.safetensors" in err and "refused" in err and err.count("\n") == 1
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(out), "--weights",
                 str(evil)]) == 2
    assert "--weights applies to the network only" in capsys.readouterr().err
    assert not out.exists()


def test_list_methods_starts_with_network(capsys) -> None:
    assert main(["fuse", "--list-methods"]) == 0
    assert capsys.readouterr().out.split()[0] == "lwnet"


def test_profile_cli(weights: Path, capsys) -> None:
    assert main(["profile", "--weights", str(weights), "--size", "32", "40", "--threads", "1",
                 "--warmup", "1", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    assert "parameters    4,960" in out and "at 32x40" in out
    assert main(["profile", "--width", "8", "--no-mca", "--no-aca", "--size", "32", "32",
                 "--threads", "1", "--warmup", "0", "--repeats", "1"]) == 0
    assert "'use_mca': False" in capsys.readouterr().out
    assert main(["profile", "--weights", str(weights), "--width", "8"]) == 2
    assert "--weights fixes the architecture" in capsys.readouterr().err
