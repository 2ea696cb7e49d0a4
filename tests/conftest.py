"""Shared fixtures: the shipped sample and, when present, the full shared dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from lwnet.data.datasets import default_data_root, sample_root


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
