"""SPI runs end to end on a tiny synthetic Harvard-layout root: loss, torchrun.

Resume after SIGKILL: tests/test_reliability_kill.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lwnet.errors import ConfigError, InputError
from lwnet.training import distributed as ddp

from _killable import TINY, env, lwnet_cmd, make_tiny_root, weights_hash


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory, sample) -> Path:
    return make_tiny_root(tmp_path_factory.mktemp("harvard"), sample)


def test_two_iterations_lower_the_loss_and_write_the_run(tiny_root, tmp_path, capsys) -> None:
    from lwnet.training import load_config, train

    cfg = load_config(None, None, [*TINY, f"data_root='{tiny_root}'", "iterations=2",
                                   "epochs=3"])
    out = train(cfg, tmp_path / "run", progress=False)
    import csv

    # Before any long work, the run says what it will do and with what data.
    said = capsys.readouterr().err.splitlines()
    assert said[0].startswith("SPECT-MRI, spi, preset custom: T = 2 × E = 3 epochs of all of L")
    # then each step of the data, as it is done (minutes on real data; cached afterwards)
    assert [line.split(" in ")[0] for line in said[1:5]] == [
        "label candidates: mean: 4 pairs", "label candidates: max: 4 pairs",
        "scoring 2 candidates: 100 patches ...", "scoring 2 candidates: 100 patches"]
    assert said[5] == ("4 training pairs: a pool of 90 patches (|L| = 45, |U| = 45), 10 held "
                       "out; label sources: mean, max")

    rows = list(csv.DictReader((tmp_path / "run/log.csv").open()))
    assert [int(r["iteration"]) for r in rows] == [1, 2]
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])
    assert int(rows[0]["L"]) == 45 and int(rows[0]["P"]) + int(rows[0]["U"]) == 45
    # The pool's best labels never get worse; the gain is what P's labels add beyond them.
    pool, gain = ([float(r[k]) for r in rows] for k in ("pool_label_score", "label_gain"))
    assert 0 <= gain[0] <= gain[1] and pool[1] - pool[0] == pytest.approx(gain[1] - gain[0])
    assert out.is_file() and (tmp_path / "run/weights.md").is_file()
    assert (tmp_path / "run/config.json").is_file()
    # What it ran on, for whoever compares its weights bit for bit: one record, named in the card.
    import json

    from lwnet._environment import cpu_model, torch_kernels

    [record] = json.loads((tmp_path / "run/environment.json").read_text())
    assert record["cpu"] == cpu_model() and record["torch"] == torch.__version__
    # Training takes the GPU where there is one (the suite also runs on lent GPU machines).
    assert record["kernels"] == (torch_kernels(torch.device("cuda")) if torch.cuda.is_available()
                                 else f"cpu, {torch.backends.cpu.get_cpu_capability()} kernels")
    assert (record["threads"], record["processes"]) == ("1", "1")
    assert f"- Trained on: {cpu_model()}, {record['kernels']}, 1 thread × 1 process; torch " \
        in (tmp_path / "run/weights.md").read_text()
    # Each iteration's model is kept, its card saying where the run stood; the last is the final.
    from safetensors.torch import load_file

    from lwnet.inference import load_model, read_card

    kept = sorted((tmp_path / "run/iterations").glob("*.safetensors"))
    assert [k.name for k in kept] == ["01.safetensors", "02.safetensors"]
    assert read_card(kept[0]).splitlines()[0].endswith(", after iteration 1")
    assert "after iteration" not in read_card(kept[1])
    load_model(kept[0])
    first, final = load_file(str(kept[0])), load_file(str(out))
    assert all(torch.equal(load_file(str(kept[1]))[k], final[k]) for k in final)
    assert not all(torch.equal(first[k], final[k]) for k in final)
    # A second run in the same folder is refused, and says why.
    with pytest.raises(InputError, match="run: holds a finished run"):
        train(cfg, tmp_path / "run", progress=False)


def test_candidate_scores_are_cached_per_score_and_reused(tiny_root, tmp_path) -> None:
    from safetensors.torch import load_file

    from lwnet.training import load_config, train
    from lwnet.training.data import build_patch_set
    from lwnet.training.score import get_score
    from lwnet.training.screening import candidate_scores

    sets = [*TINY, f"data_root='{tiny_root}'", "iterations=1", "epochs=1",
            "samples_per_epoch=8", f"cache_dir='{tmp_path / 'cache'}'"]
    cfg = load_config(None, None, sets)
    first = train(cfg, tmp_path / "a", progress=False)
    files = sorted((tmp_path / "cache/SPECT-MRI").glob("scores-*.npy"))
    assert [f.name.split("-")[1] for f in files] == ["ssim_sum"]
    ps, _, _ = build_patch_set(cfg, tmp_path / "cache")
    direct = candidate_scores(ps, get_score("ssim_sum"), np.arange(len(ps.index)), 0, 1,
                              torch.device("cpu"), "off")
    np.testing.assert_array_equal(np.load(files[0]), direct)
    second = train(cfg, tmp_path / "b", progress=False)  # from the cached scores
    a, b = load_file(str(first)), load_file(str(second))
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    vif = [*sets, "score='ssim_vif'", "patch_size=96", "stride=80"]  # VIF needs ≥ 81 pixels
    train(load_config(None, None, vif), tmp_path / "c", progress=False)
    names = sorted(f.name.split("-")[1] for f in (tmp_path / "cache/SPECT-MRI").glob("scores-*"))
    assert names == ["ssim_sum", "ssim_vif"]


def test_worker_processes_give_the_same_run(tiny_root, tmp_path) -> None:
    """Candidates, their scores and screening in 2 worker processes: identical weights and log."""
    from safetensors.torch import load_file

    from lwnet.training import load_config, train

    sets = [*TINY, f"data_root='{tiny_root}'", "iterations=2", "epochs=1", "samples_per_epoch=8"]
    one = train(load_config(None, None, sets), tmp_path / "one", progress=False)
    two = train(load_config(None, None, [*sets, "workers=2"]), tmp_path / "two", progress=False)
    a, b = load_file(str(one)), load_file(str(two))
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    assert (tmp_path / "one/log.csv").read_text() == (tmp_path / "two/log.csv").read_text()
    import csv

    rows = list(csv.DictReader((tmp_path / "two/log.csv").open()))
    assert int(rows[0]["admitted"]) > 0  # screening ran and decided something


@pytest.mark.parametrize("mode", ["spi", "unsupervised"])
def test_the_step_traces_as_one_graph(mode: str) -> None:
    """torch.compile sees the network and the loss whole: a graph break would cut the CUDA
    graph of ``compile = true`` into pieces with Python between them. (Tracing only, so this
    runs where compiling cannot.)"""
    import dataclasses

    from torch._dynamo import explain

    from lwnet.model import LWNet
    from lwnet.training import TrainConfig, loop

    step = loop.TrainingStep(LWNet(width=4), dataclasses.replace(TrainConfig(), mode=mode),
                             torch.device("cpu"))
    a, b, y = torch.rand(3, 4, 1, 24, 24)
    traced = explain(step)(a, b, None if mode == "unsupervised" else y)
    assert traced.graph_break_count == 0, [r.reason for r in traced.break_reasons]


def _stop_and_resume(monkeypatch, cfg, run: Path, epochs: int, between=lambda: None) -> Path:
    """Train ``cfg`` in ``run``, stop it (KeyboardInterrupt) after ``epochs`` epochs, call
    ``between``, resume it to the end; returns the final weights."""
    from lwnet.training import loop, train

    real, done = loop._train_epoch, []

    def stop_after(*args, **kwargs) -> float:
        if len(done) == epochs:
            raise KeyboardInterrupt
        done.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "_train_epoch", stop_after)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run, progress=False)
    monkeypatch.setattr(loop, "_train_epoch", real)
    between()
    return train(cfg, run, resume=True, progress=False)


def _compile_device() -> str | None:
    """Where ``compile = true`` can be tested: CUDA, else the CPU if Inductor finds a compiler."""
    import shutil

    if torch.cuda.is_available():
        return "cuda"
    return "cpu" if shutil.which("g++") or shutil.which("c++") else None


@pytest.mark.slow
@pytest.mark.skipif(_compile_device() is None, reason="torch.compile needs CUDA or a C++ compiler")
def test_compiled_steps_match_eager_ones_and_resume_exactly(tiny_root, tmp_path,
                                                            monkeypatch) -> None:
    """``compile = true`` (CUDA graphs on CUDA): the loss and gradients of eager steps up to
    rounding; a compiled run lowers the loss, and one stopped after an epoch and resumed ends
    bit-identical."""
    import csv
    import dataclasses

    from torch._dynamo.utils import counters

    from lwnet.model import LWNet
    from lwnet.training import TrainConfig, load_config, loop, train

    device = torch.device(_compile_device())
    counters.clear()
    torch.manual_seed(0)
    a, b, y = torch.rand(3, 4, 1, 48, 48, device=device)
    model = LWNet(width=4).to(device)
    results = []
    for compile in (False, True):
        step = loop.TrainingStep(model, dataclasses.replace(TrainConfig(), compile=compile),
                                 device)
        for _ in range(2):  # CUDA graphs record on a later call than the first
            model.zero_grad(set_to_none=True)
            loss = step(a, b, y)
            loss.backward()
        results.append([loss.detach().clone()] + [p.grad.clone() for p in model.parameters()])
    graphs = counters["stats"]["unique_graphs"]
    assert graphs > 0  # the step did go through torch.compile
    for eager, compiled in zip(*results):  # within 0.1 % of each tensor's largest value
        torch.testing.assert_close(compiled, eager, rtol=1e-3,
                                   atol=1e-3 * float(eager.abs().max()))
    step(a[:3], b[:3], y[:3]).backward()  # an epoch's short last batch: eager, no new graph
    assert counters["stats"]["unique_graphs"] == graphs

    sets = [*TINY, f"data_root='{tiny_root}'", "iterations=2", "epochs=2", "samples_per_epoch=40",
            "compile=true"]
    cfg = load_config(None, None, sets)
    ref = train(cfg, tmp_path / "ref", progress=False)
    rows = list(csv.DictReader((tmp_path / "ref/log.csv").open()))
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])
    # Stopped after its third epoch (iteration 2's first), then resumed in a new TrainingStep.
    out = _stop_and_resume(monkeypatch, cfg, tmp_path / "run", epochs=3)
    assert weights_hash(out) == weights_hash(ref)
    assert (tmp_path / "run/log.csv").read_text() == (tmp_path / "ref/log.csv").read_text()


@pytest.mark.parametrize(("mode", "first", "until"), [
    ("spi", 45, "until P grows"), ("labels_only", 45, "in every epoch"),
    ("unsupervised", 90, "in every epoch")])
def test_an_epoch_longer_than_its_patches_is_noted(tiny_root, tmp_path, capsys, mode, first,
                                                   until) -> None:
    """Only SPI's pool grows (P); the baselines train on the same patches every epoch."""
    from lwnet.training import load_config, train

    cfg = load_config(None, None, [*TINY, f"data_root='{tiny_root}'", f"mode='{mode}'",
                                   "iterations=1", "epochs=1", "samples_per_epoch=100"])
    train(cfg, tmp_path / "run", progress=False)
    assert (f"note: an epoch draws 100 samples without replacement from {first} patches, so it "
            f"trains on {first} {until} ") in capsys.readouterr().err


def test_train_checks_its_config_and_leaves_torch_as_it_found_it(tiny_root, tmp_path) -> None:
    import dataclasses

    from lwnet.training import load_config, train

    cfg = load_config(None, None, [*TINY, f"data_root='{tiny_root}'", "iterations=1",
                                   "epochs=1", "samples_per_epoch=8"])
    with pytest.raises(ConfigError, match="'batch_size': expected a positive integer"):
        train(dataclasses.replace(cfg, batch_size=0), tmp_path / "bad", progress=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(threads + 1)  # cfg.threads is 1: the run changes it
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    try:
        train(cfg, tmp_path / "run", progress=False)
        assert torch.get_num_threads() == threads + 1
        assert not torch.are_deterministic_algorithms_enabled()
        np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())
    finally:
        torch.set_num_threads(threads)


def test_a_finished_run_or_an_empty_folder_is_called_what_it_is(tiny_root, tmp_path) -> None:
    from lwnet.training import load_config, train

    cfg = load_config(None, None, [*TINY, f"data_root='{tiny_root}'"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: holds no run to resume"):
        train(cfg, tmp_path / "empty", resume=True, progress=False)
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "weights.safetensors").write_bytes(b"")
    with pytest.raises(InputError, match=r"done: holds a finished run .*a new --run-dir"):
        train(cfg, tmp_path / "done", progress=False)


def test_a_run_never_writes_into_its_data(tiny_root, tmp_path) -> None:
    from lwnet.training import load_config, train

    cfg = load_config(None, None, [*TINY, f"data_root='{tiny_root}'"])
    with pytest.raises(InputError, match=f"inside the input folder {tiny_root}"):
        train(cfg, tiny_root / "SPECT-MRI" / "run", progress=False)
    cached = load_config(None, None, [*TINY, f"data_root='{tiny_root}'",
                                      f"cache_dir='{tiny_root / 'cache'}'"])
    with pytest.raises(InputError, match=f"cache: inside the input folder {tiny_root}"):
        train(cached, tmp_path / "run", progress=False)
    assert not (tiny_root / "SPECT-MRI" / "run").exists() and not (tiny_root / "cache").exists()
    assert not (tmp_path / "run").exists()


def test_labels_only_never_screens_and_its_card_says_it_is_one_iteration(tiny_root,
                                                                         tmp_path) -> None:
    """Baseline (a) is SPEC §3.7's T = 1: its T × E epochs train on L alone, never screened."""
    import csv

    from lwnet.inference import read_card
    from lwnet.training import load_config, train

    out = train(load_config(None, None, [*TINY, f"data_root='{tiny_root}'", "iterations=2",
                                         "mode='labels_only'", "epochs=1",
                                         "samples_per_epoch=8"]),
                tmp_path / "run", progress=False)
    rows = list(csv.DictReader((tmp_path / "run/log.csv").open()))
    assert [(r["L"], r["P"], r["admitted"], r["refined"]) for r in rows] == [("45", "0", "0",
                                                                             "0")] * 2
    assert ("never screened, so in effect one iteration of 2 epochs (SPEC §3.7's T = 1), whose "
            "2 parts only mark log rows and checkpoints") in read_card(out)


def test_the_unsupervised_baseline_needs_no_candidates_and_resumes(tiny_root, tmp_path,
                                                                    monkeypatch) -> None:
    """It trains against the sources: no candidate is computed or scored, its log and card carry
    no label figures, and a run stopped after an epoch resumes to the uninterrupted weights."""
    import csv

    from lwnet.inference import read_card
    from lwnet.training import load_config, train

    cache = tmp_path / "cache"
    cfg = load_config(None, None, [*TINY, f"data_root='{tiny_root}'", "mode='unsupervised'",
                                   "iterations=2", "epochs=1", f"cache_dir='{cache}'"])
    ref = train(cfg, tmp_path / "ref", progress=False)
    assert not list(cache.rglob("*.npy"))
    rows = list(csv.DictReader((tmp_path / "ref/log.csv").open()))
    assert [(r["L"], r["mean_label_score"]) for r in rows] == [("", "")] * 2
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])
    card = read_card(ref)
    assert "Label sources: none" in card and "## SPI log" not in card
    assert card.rstrip().splitlines()[-1].startswith("| 2 | ")
    def as_before_this_change() -> None:  # such checkpoints recorded every candidate method
        from lwnet.training.checkpoint import load_checkpoint, save_checkpoint

        tensors, meta = load_checkpoint(tmp_path / "run/checkpoint.safetensors")
        save_checkpoint(tmp_path / "run/checkpoint.safetensors", tensors,
                        {**meta, "label_sources": ["mean", "max"]})

    out = _stop_and_resume(monkeypatch, cfg, tmp_path / "run", epochs=1,
                           between=as_before_this_change)
    assert weights_hash(out) == weights_hash(ref)


def test_a_run_folder_in_use_is_refused(tiny_root, tmp_path, monkeypatch, capsys) -> None:
    """A second run in a folder another process trains in would mix the two runs' files."""
    from lwnet.errors import InputError
    from lwnet.training import load_config, train
    from lwnet.training.lock import run_folder_lock

    cfg = load_config(None, None, [*TINY, f"data_root='{tiny_root}'", "iterations=1",
                                   "epochs=1"])
    run = tmp_path / "run"
    holder = subprocess.Popen(  # another process holding the folder, as a live run does
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from lwnet.training.lock import run_folder_lock\n"
         f"with run_folder_lock(Path({str(run)!r})):\n print('held', flush=True); time.sleep(60)"],
        env=env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(InputError, match="another lwnet train is running in this folder"):
            train(cfg, run, progress=False)
        assert os.listdir(run) == [".lock"]  # the other run's folder, untouched
    finally:
        holder.kill()
        holder.wait()
    # Its lock goes with the process: the folder is free again, with nothing to clear.
    assert train(cfg, run, progress=False).is_file()
    # A file system without locks (some network mounts): the run goes on, and says so.
    import errno

    from lwnet.training import lock

    def no_locks(*args) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(lock.fcntl, "flock", no_locks)
    assert train(cfg, tmp_path / "nfs", progress=False).is_file()
    assert "this file system has no locks" in capsys.readouterr().err
    with run_folder_lock(tmp_path / "unused"):
        pass
    assert not (tmp_path / "unused").exists()  # a folder that got nothing is not left behind


def test_cosine_schedule_reaches_the_last_step_rate(tiny_root, tmp_path) -> None:
    from safetensors.torch import load_file

    from lwnet.training import load_config, train
    from lwnet.training.checkpoint import load_checkpoint
    from lwnet.training.schedule import learning_rate

    sets = [*TINY, f"data_root='{tiny_root}'", "iterations=2", "epochs=2", "samples_per_epoch=20"]
    cfg = load_config(None, None, [*sets, "lr_schedule='cosine'", "lr_min=0.001"])
    train(cfg, tmp_path / "cos", progress=False)
    _, meta = load_checkpoint(tmp_path / "cos/checkpoint.safetensors")
    steps = 5  # 20 samples in batches of 4
    last = (2 * 2 - 1 + (steps - 1) / steps) / (2 * 2)
    assert meta["param_groups"][0]["lr"] == pytest.approx(
        learning_rate("cosine", 0.01, 0.001, last))
    assert meta["param_groups"][0]["lr"] < 0.0011  # decayed from lr = 0.01 to near lr_min
    const = train(load_config(None, None, sets), tmp_path / "const", progress=False)
    a, b = load_file(str(const)), load_file(str(tmp_path / "cos/weights.safetensors"))
    assert any(not np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)  # it changes training


def test_too_few_patches_are_named_with_a_fitting_setting_before_any_candidate(
        tiny_root, tmp_path) -> None:
    """Holding out more patches than the pairs give: the error counts the patches and names a
    ``val_patches`` that fits, before a single candidate is computed."""
    from lwnet.errors import ConfigError
    from lwnet.training import load_config
    from lwnet.training.data import build_patch_set

    base = [*TINY, f"data_root='{tiny_root}'"]  # 4 train pairs of 5 × 5 patches
    with pytest.raises(ConfigError, match=r"'val_patches': 4 pairs of \d+×\d+ give 100 "
                       r"patches .*holding out 99 leaves 1 to train on .*val_patches = 10 "):
        build_patch_set(load_config(None, None, [*base, "val_patches=99"]), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
    with pytest.raises(ConfigError, match="'max_patches': .*max_patches = 1 leaves 1"):
        build_patch_set(load_config(None, None, [*base, "max_patches=1"]), tmp_path / "cache")
    ps, pool, val = build_patch_set(load_config(None, None, [*base, "val_patches=98"]),
                                    tmp_path / "cache")
    assert (len(pool), len(val)) == (2, 98)


def test_own_pairs_train_without_a_split_file_with_the_external_folder_beside_them(
        tiny_root, tmp_path) -> None:
    """A folder of one's own pairs: no split file (``split = ""``), external results beside it."""
    import shutil

    from lwnet.errors import InputError
    from lwnet.training import load_config, train
    from lwnet.training.data import build_patch_set

    own = tmp_path / "mine"
    shutil.copytree(tiny_root / "SPECT-MRI", own / "SPECT-MRI")
    sets = [*TINY, f"data_root='{own}'", "external_root=''"]
    with pytest.raises(InputError, match='SPECT-MRI_train.txt: no such split file.*split = ""'):
        build_patch_set(load_config(None, None, sets), tmp_path / "cache")
    results = tmp_path / "external/Mine/SPECT-MRI"  # external/<Method>/<PAIR>/<id>.png
    results.mkdir(parents=True)
    for i in range(4):
        shutil.copy(own / f"SPECT-MRI/MRI/{i}.png", results / f"{i}.png")
    ps, pool, val = build_patch_set(load_config(None, None, [*sets, "split=''"]),
                                    tmp_path / "cache")
    assert ps.names == ["mean", "max", "ext:Mine"]
    assert len(ps.a) == 4 and len(pool) + len(val) == 4 * 25  # every pair, 5×5 patches each
    missing = [*sets, "split=''", f"external_root='{tmp_path / 'nowhere'}'"]
    with pytest.raises(InputError, match="nowhere: no such external results folder"):
        build_patch_set(load_config(None, None, missing), tmp_path / "cache")
    # A run resumed after its label sources changed (the external folder gone) is refused.
    cfg = load_config(None, None, [*sets, "split=''", "iterations=1", "epochs=1",
                                   "samples_per_epoch=8"])
    train(cfg, tmp_path / "run", progress=False)
    # Labels of L other than those the run started with (a candidate's results edited) too.
    from lwnet.training.checkpoint import load_checkpoint, save_checkpoint

    ckpt = tmp_path / "run/checkpoint.safetensors"
    original = ckpt.read_bytes()
    t, meta = load_checkpoint(ckpt)
    t["pools.choice"] = (t["pools.choice"] + 1) % len(ps.names)
    save_checkpoint(ckpt, t, meta)
    with pytest.raises(InputError, match="labelled pool or its labels differ"):
        train(cfg, tmp_path / "run", resume=True, progress=False)
    ckpt.write_bytes(original)
    shutil.rmtree(tmp_path / "external")
    with pytest.raises(InputError, match=r"label sources \['mean', 'max', 'ext:Mine'\]"):
        train(cfg, tmp_path / "run", resume=True, progress=False)
    # Pairs of another size than the first cannot share its patch grid: named.
    from lwnet.data.io import read_image, write_image

    for modality in ("MRI", "SPECT"):
        img = read_image(own / f"SPECT-MRI/{modality}/0.png")
        write_image(own / f"SPECT-MRI/{modality}/4.png", img[:240, :200])
    # A run that fails on its data leaves no run folder behind (its caches live elsewhere).
    cached = load_config(None, None, [*sets, "split=''", f"cache_dir='{tmp_path / 'cache'}'"])
    with pytest.raises(InputError, match="4.png: 200x240, but the training pairs must share"):
        train(cached, tmp_path / "run-on-bad-data", progress=False)
    assert not (tmp_path / "run-on-bad-data").exists()
    (tmp_path / "a-file").write_text("")
    with pytest.raises(InputError, match="a-file: is a file, not a run folder"):
        train(cached, tmp_path / "a-file", progress=False)
    with pytest.raises(InputError, match="nowhere: no such run folder, so nothing to resume"):
        train(cached, tmp_path / "nowhere", resume=True, progress=False)
    assert not (tmp_path / "nowhere").exists()


def test_init_weights_start_from_the_file_and_the_card_names_it(tiny_root, tmp_path) -> None:
    from safetensors.torch import load_file

    from lwnet.errors import WeightsError
    from lwnet.inference import shipped_weights
    from lwnet.training import load_config, train
    from lwnet.training.loop import build_model, init_weights_path

    sets = [*TINY, f"data_root='{tiny_root}'", "iterations=1", "epochs=1", "samples_per_epoch=8"]
    first = train(load_config(None, None, sets), tmp_path / "a", progress=False)
    init = tmp_path / "start.safetensors"
    init.write_bytes(first.read_bytes())
    cfg = load_config(None, None, [*sets, f"init_weights='{init}'"])
    assert init_weights_path(cfg) == init
    start = build_model(cfg, init).state_dict()
    saved = load_file(str(init))
    assert all(np.array_equal(start[k].numpy(), saved[k].numpy()) for k in saved)
    assert not all(np.array_equal(v.numpy(), build_model(cfg).state_dict()[k].numpy())
                   for k, v in start.items())  # not the seeded random init
    tuned = train(cfg, tmp_path / "b", progress=False)
    card = (tmp_path / "b/weights.md").read_text()
    assert "initial weights: start.safetensors (sha256 " in card
    assert f"Data: pairs under {tiny_root}, SPECT-MRI, train split only" in card
    assert "pool 90 patches, |L| = 45, 10 held out" in card  # 4 pairs × 25 patches, as run
    # A finished run resumed after the init file is gone: weights and card from the checkpoint.
    before = weights_hash(tuned)
    init.unlink()
    train(cfg, tmp_path / "b", resume=True, progress=False)
    assert weights_hash(tuned) == before and (tmp_path / "b/weights.md").read_text() == card
    wider = load_config(None, None, [*sets, "model.width=6", f"init_weights='{first}'"])
    with pytest.raises(WeightsError, match=f"{first}: initial weights of another architecture.*"
                                           "width 4 \\(file\\) vs 6"):
        train(wider, tmp_path / "w", progress=False)
    assert not (tmp_path / "w").exists()  # refused before any work
    pet = load_config(None, None, [*sets, "pair_type=PET-MRI", "init_weights=shipped"])
    assert init_weights_path(pet) == shipped_weights("SPECT-MRI")


def test_resume_keeps_the_run_config_and_names_a_changed_key(tiny_root, tmp_path,
                                                            capsys) -> None:
    from lwnet.training import load_config, train

    sets = [*TINY, f"data_root='{tiny_root}'", "iterations=1", "epochs=1", "samples_per_epoch=8"]
    out = train(load_config(None, None, sets), tmp_path / "run", progress=False)
    saved = [(tmp_path / "run" / f).read_bytes() for f in ("config.json", "weights.md")]
    before = weights_hash(out)
    changed = load_config(None, None, [*sets, "pair_type=CT-MRI", "lr=0.5"])
    with pytest.raises(ConfigError, match="pair_type 'SPECT-MRI' → 'CT-MRI', lr 0.01 → 0.5"):
        train(changed, tmp_path / "run", resume=True, progress=False)
    # Threads and compile may differ; `lwnet train --resume --run-dir DIR` takes DIR's config.
    train(load_config(None, None, [*sets, "threads=2", "compile=true"]), tmp_path / "run",
          resume=True, progress=False)
    done = subprocess.run(lwnet_cmd("train", "--resume", "--run-dir", str(tmp_path / "run"),
                                    "--set", "threads=2", "--no-progress"),
                          env=env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    other = subprocess.run(lwnet_cmd("train", "--resume", "--run-dir", str(tmp_path / "run"),
                                     "--set", "seed=3", "--no-progress"),
                           env=env(), capture_output=True, text=True)
    assert other.returncode == 2 and "seed 0 → 3" in other.stderr
    # --print-config shows what a resume would train with, and refuses what it would refuse.
    from lwnet.cli import main
    run = ["train", "--resume", "--run-dir", str(tmp_path / "run"), "--print-config"]
    assert main([*run, "--set", "threads=2"]) == 0
    shown = capsys.readouterr().out
    assert "threads = 2\n" in shown and f'data_root = "{tiny_root}"' in shown
    assert main([*run, "--set", "seed=3"]) == 2 and "seed 0 → 3" in capsys.readouterr().err
    # The label sources are part of the run too (an external folder that appeared, say).
    more = load_config(None, None, [*sets, "methods=['mean','max','dwt']"])
    from lwnet.training.config import check_resume_config
    with pytest.raises(ConfigError, match="methods"):
        check_resume_config(more, tmp_path / "run")
    assert weights_hash(out) == before
    assert [(tmp_path / "run" / f).read_bytes() for f in ("config.json", "weights.md")] == saved


def test_a_resume_elsewhere_is_said_and_recorded(tiny_root, tmp_path, monkeypatch,
                                                 capsys) -> None:
    """Resuming with other software or kernels (here: another torch) is allowed but said, since
    the weights will not be bit-identical to an uninterrupted run's; the card names both
    environments. A damaged record is named before any work."""
    import json

    from lwnet.errors import InputError
    from lwnet.inference import read_card
    from lwnet.training import load_config

    cfg = load_config(None, None, [*TINY, f"data_root='{tiny_root}'", "iterations=2",
                                   "epochs=1", "samples_per_epoch=8"])
    real = torch.__version__
    out = _stop_and_resume(monkeypatch, cfg, tmp_path / "run", epochs=1,
                           between=lambda: monkeypatch.setattr(torch, "__version__", "9.9.9"))
    assert f"note: resuming with torch {real!r} → '9.9.9': a valid run, but its weights will " \
        "not be bit-identical" in capsys.readouterr().err
    records = json.loads((tmp_path / "run/environment.json").read_text())
    assert [r["torch"] for r in records] == [real, "9.9.9"]
    assert "; then resumed on: " in read_card(out) and "torch 9.9.9" in read_card(out)

    for damage in ("{broken", '[{"cpu": "X"}]'):  # not JSON; a record without its fields
        run = tmp_path / f"damaged-{len(damage)}"
        with pytest.raises(InputError, match="environment.json: not the run's list of "
                                             "environment records; delete the file"):
            _stop_and_resume(monkeypatch, cfg, run, epochs=1,
                             between=lambda: (run / "environment.json").write_text(damage))


def cpu_env() -> dict[str, str]:
    """``env()`` without GPUs: the torchrun tests compare gloo CPU processes (nccl would need a
    GPU per process)."""
    return {**env(), "CUDA_VISIBLE_DEVICES": ""}


def test_more_torchrun_processes_than_gpus_are_named(monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError,
                       match=r"\(the node has 1 CUDA device\); use torchrun --nproc-per-node 1 at"):
        ddp.init()


def test_torchrun_two_ranks_of_batch_4_train_like_one_process_of_batch_8(tiny_root, tmp_path):
    """The README's ``torchrun ... -m lwnet train`` end to end (gloo, 2 CPU processes)."""
    sets = [*TINY, f"data_root='{tiny_root}'", "iterations=2", "epochs=1", "samples_per_epoch=16"]
    cli = [x for s in sets for x in ("--set", s)] + ["--no-progress"]
    multi = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
         "-m", "lwnet", "train", *cli, "--set", "batch_size=4", "--run-dir", str(tmp_path / "m")],
        env=cpu_env(), check=True, capture_output=True, text=True)
    assert multi.stdout.splitlines() == [str(tmp_path / "m/weights.safetensors")]  # rank 0 only
    # --no-progress: a line per epoch and per iteration instead of bars, from rank 0 only
    lines = multi.stderr.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("iteration ")] == [
        "iteration 1/2 epoch 1/1", "iteration 2/2 epoch 1/1"]
    assert [line.split()[0] for line in lines if line.startswith("iteration=")] == [
        "iteration=1", "iteration=2"]
    assert "Grad strides" not in multi.stderr
    # The candidates are scored in shares, and the one process that reports says whose.
    said = [line.split(" in ")[0] for line in lines if line.startswith("scoring")]
    share = "scoring 2 candidates, this process's share of 100 patches: 50 patches"
    assert said == [f"{share} ...", share]
    subprocess.run([sys.executable, "-m", "lwnet", "train", *cli, "--set", "batch_size=8",
                    "--run-dir", str(tmp_path / "s")], env=cpu_env(), check=True,
                   capture_output=True)
    import csv

    m_rows, s_rows = ([r for r in csv.DictReader((tmp_path / d / "log.csv").open())]
                      for d in ("m", "s"))
    for m, s in zip(m_rows, s_rows, strict=True):
        assert [m[k] for k in ("L", "P", "U", "admitted", "refined")] == \
            [s[k] for k in ("L", "P", "U", "admitted", "refined")]
        # The same samples in every step: the loss of the first steps agrees to float rounding.
        assert float(m["train_loss"]) == pytest.approx(float(s["train_loss"]), rel=1e-4)
        assert float(m["val_ssim_sum"]) == pytest.approx(float(s["val_ssim_sum"]), abs=1e-3)
    from safetensors.torch import load_file

    a, b = (load_file(str(tmp_path / d / "weights.safetensors")) for d in ("m", "s"))
    # Adam's first steps amplify rounding where a gradient is near 0, hence a tolerance.
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 5e-3


def test_torchrun_two_ranks_make_the_same_pool_decisions(tmp_path) -> None:
    worker = str(Path(__file__).with_name("spi_screen_worker.py"))
    single, multi = tmp_path / "single.npz", tmp_path / "multi.npz"
    subprocess.run([sys.executable, worker, str(single)], env=cpu_env(), check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                    "--standalone", worker, str(multi)],
                   env=cpu_env(), check=True, capture_output=True)
    s, m = np.load(single), np.load(multi)
    assert s["decisions"].sum() > 0  # the case is not vacuous
    assert len(s["U"]) > 0  # and not everything is admitted
    for key in ("P", "U", "decisions", "labels"):
        np.testing.assert_array_equal(s[key], m[key])
    np.testing.assert_allclose(s["scores"], m["scores"], atol=1e-6)


def _ssim_sum_8bit(f8: np.ndarray, a8: np.ndarray, b8: np.ndarray) -> float:
    """The SPI score s(f) = SSIM(f, a) + SSIM(f, b) of 8-bit patches by scikit-image: Gaussian
    σ = 1.5, population moments, mean over the valid region (SPEC §3.2)."""
    from skimage.metrics import structural_similarity

    def ssim(x: np.ndarray, y: np.ndarray) -> float:
        _, full = structural_similarity(x.astype(np.float64), y.astype(np.float64),
                                        gaussian_weights=True, sigma=1.5, data_range=255,
                                        use_sample_covariance=False, full=True)
        return float(full[5:-5, 5:-5].mean())
    return ssim(f8, a8) + ssim(f8, b8)


def test_each_pseudo_label_keeps_the_score_of_its_own_patch(tiny_root, tmp_path) -> None:
    """Screening predicts and scores concat(U, P) and the pools read the results in that order:
    after a second screening with both pools non-empty, every pseudo label's stored score is
    the score of that label against the sources of the patch it is stored for (misattributed
    predictions would score against another patch's sources)."""
    import csv

    from lwnet.training import load_config, train
    from lwnet.training.checkpoint import load_checkpoint
    from lwnet.training.data import build_patch_set

    # τ = 0.8: the tiny network's predictions enter P in iteration 1 (at τ = 1 only blank
    # background patches do) and are refined in iteration 2.
    cfg = load_config(None, None, [*TINY, f"data_root='{tiny_root}'", "iterations=2",
                                   "epochs=1", "samples_per_epoch=8", "tau=0.8"])
    train(cfg, tmp_path / "run", progress=False)
    rows = list(csv.DictReader((tmp_path / "run/log.csv").open()))
    # Not vacuous: iteration 2 screened a non-empty U and P, and changed something.
    assert int(rows[0]["P"]) > 0 and int(rows[0]["U"]) > 0
    assert int(rows[1]["admitted"]) + int(rows[1]["refined"]) > 0
    t, _ = load_checkpoint(tmp_path / "run/checkpoint.safetensors")
    ids, labels, scores = (t[f"pools.{k}"].numpy() for k in ("P", "P_labels", "P_scores"))
    assert len(ids) == int(rows[1]["P"]) == len(labels) == len(scores)
    ps, _, _ = build_patch_set(cfg, tmp_path / "run/cache")
    size = cfg.patch_size
    for pid, label, score in zip(ids, labels, scores):
        pair, r, c = ps.index[pid]  # the patch's own window, cut here by hand
        a8, b8 = (x[pair, r:r + size, c:c + size] for x in (ps.a, ps.b))
        assert score == pytest.approx(_ssim_sum_8bit(label, a8, b8), abs=1e-4), pid


def test_tau_scales_the_admission_bar(tiny_root, tmp_path) -> None:
    """U → P needs s(ŷ) ≥ τ · max_m s(F_m) with the configured τ (SPEC §3.5). τ = 0 lowers the
    bar to s(ŷ) ≥ 0, which every prediction of the run clears (each shares structure with its
    sources): all of U is admitted. τ = 100 puts it above any SSIM sum (≤ 2) wherever the best
    candidate scores above 0.02, as mean and max do on every patch: none is admitted."""
    import csv

    from lwnet.training import load_config, train

    sets = [*TINY, f"data_root='{tiny_root}'", "iterations=1", "epochs=1",
            "samples_per_epoch=8", f"cache_dir='{tmp_path / 'cache'}'"]
    counts = {}
    for tau in (0, 100):
        train(load_config(None, None, [*sets, f"tau={tau}"]), tmp_path / f"tau{tau}",
              progress=False)
        [row] = csv.DictReader((tmp_path / f"tau{tau}/log.csv").open())
        counts[tau] = tuple(int(row[k]) for k in ("admitted", "P", "U"))
    assert counts == {0: (45, 45, 0), 100: (0, 0, 45)}  # |U| = 45 before screening


def test_ctrl_c_says_how_to_go_on(tiny_root, tmp_path, monkeypatch, capsys) -> None:
    from lwnet.cli import main
    from lwnet.training import loop

    real, done = loop._train_epoch, []

    def stop_after_one(*args, **kwargs) -> float:
        if done:
            raise KeyboardInterrupt
        done.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "_train_epoch", stop_after_one)
    run = tmp_path / "run"
    argv = ["train", "--run-dir", str(run), "--no-progress", "--set", *TINY,
            f"data_root={tiny_root}", "iterations=1", "epochs=2", "samples_per_epoch=8"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert (f"stopped; the run goes on from its last checkpoint with: lwnet train --resume "
            f"--run-dir {run}") in err and err.rstrip().endswith("lwnet train: interrupted")


@pytest.mark.parametrize("terminal", [False, True])
def test_bars_on_a_terminal_and_whole_lines_in_a_log(tiny_root, tmp_path, stderr_to,
                                                    terminal) -> None:
    from lwnet.cli import main

    err = stderr_to(terminal)
    argv = ["train", "--run-dir", str(tmp_path / "run"), "--set", *TINY,
            f"data_root={tiny_root}", "iterations=1", "epochs=2", "samples_per_epoch=8"]
    assert main(argv) == 0
    text = err.getvalue()
    # tqdm redraws a bar in place with carriage returns, which a log file would keep, every one.
    assert ("\r" in text) == terminal
    assert ("iteration 1/1 epoch 2/2: loss" in text) != terminal
    assert "iteration=1 train_loss=" in text  # each iteration's log row, either way
    # The steps before the first epoch (minutes on real data) are told in a log too.
    assert ("label candidates: max: 4 pairs in " in text) != terminal
    assert ("scoring 2 candidates: 100 patches ..." in text) != terminal
