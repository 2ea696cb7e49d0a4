"""Shared fixtures: the shipped sample, its pairs, seeded weights and, when present, the full
shared dataset, a stand-in stderr."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from lwnet.data.datasets import default_data_root, harvard_pairs, sample_root
from lwnet.inference import save_weights
from lwnet.model import LWNet


@pytest.fixture(scope="session")
def sample() -> Path:
    """Harvard-layout root of the three shipped sample pairs."""
    return sample_root()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or ``$LWNET_DATA``); skips the test when it is absent."""
    root = default_data_root()
    if not (root / "harvard").is_dir():
        pytest.skip(f"shared data not found at {root}")
    return root


@pytest.fixture(scope="session")
def sample_pair(sample: Path) -> Callable[[str], tuple[Path, Path]]:
    """``sample_pair(pair_type)``: the (A, B) files of the sample's one pair of that type."""
    def pair(pair_type: str) -> tuple[Path, Path]:
        (p,) = harvard_pairs(sample, pair_type)
        return p.a, p.b
    return pair


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    """A weights file of the default LWNet, seeded random (seed 0)."""
    torch.manual_seed(0)
    path = tmp_path / "random.safetensors"
    save_weights(path, LWNet().eval(), {"title": "Seeded random LWNet", "preset": "none"})
    return path


class _Stderr(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.fixture
def stderr_to(monkeypatch) -> Callable[[bool], io.StringIO]:
    """``stderr_to(terminal)``: from now on stderr is a buffer that says it is a terminal, or
    not (a log file, a pipe); returns the buffer."""
    def install(terminal: bool) -> io.StringIO:
        stream = _Stderr(terminal)
        monkeypatch.setattr(sys, "stderr", stream)
        return stream
    return install


@pytest.fixture
def unwritable(monkeypatch) -> Callable[[str], None]:
    """``unwritable(name)``: from now on no file can be made in a folder of that name. The
    tests run as root, where permissions do not stop a write, so the operating system's
    refusal is stood in for where every writer makes its files (``tempfile.mkstemp``)."""
    import tempfile

    mkstemp = tempfile.mkstemp

    def install(name: str) -> None:
        def refused(*args, dir=None, **kwargs):
            if dir is not None and Path(dir).name == name:
                raise PermissionError(13, "Permission denied")
            return mkstemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", refused)
    return install
