"""SPI runs end to end on a tiny synthetic Harvard-layout root: loss, torchrun.

Resume after SIGKILL: tests/test_reliability_kill.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _killable import TINY, env, make_tiny_root


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory, sample) -> Path:
    return make_tiny_root(tmp_path_factory.mktemp("harvard"), sample)


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


def test_torchrun_two_ranks_make_the_same_pool_decisions(tmp_path) -> None:
    worker = str(Path(__file__).with_name("spi_screen_worker.py"))
    single, multi = tmp_path / "single.npz", tmp_path / "multi.npz"
    subprocess.run([sys.executable, worker, str(single)], env=env(), check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                    "--standalone", worker, str(multi)],
                   env=env(), check=True, capture_output=True)
    s, m = np.load(single), np.load(multi)
    assert s["decisions"].sum() > 0  # the case is not vacuous
    assert len(s["U"]) > 0  # and not everything is admitted
    for key in ("P", "U", "decisions", "labels"):
        np.testing.assert_array_equal(s[key], m[key])
    np.testing.assert_allclose(s["scores"], m["scores"], atol=1e-6)
