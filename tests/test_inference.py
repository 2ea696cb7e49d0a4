"""Weights I/O, refusal of unsafe/mismatching files, and the lwnet.fuse API."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

import lwnet
from lwnet.data import harvard_pairs, luma8, read_image
from lwnet.errors import ConfigError, InputError, OutputExistsError, WeightsError
from lwnet.inference import (
    card_path,
    fuse,
    load_model,
    load_weights,
    read_card,
    save_weights,
    shipped_weights,
)
from lwnet.model import LWNet


def _random_model(seed: int = 0, **kwargs) -> LWNet:
    torch.manual_seed(seed)
    return LWNet(**kwargs).eval()


def test_round_trip_gives_identical_outputs(weights: Path) -> None:
    model = _random_model()
    loaded = load_model(weights)
    assert loaded.config == model.config
    a, b = torch.rand(2, 1, 1, 40, 36)
    with torch.inference_mode():
        assert torch.equal(model(a, b), loaded(a, b))


def test_round_trip_keeps_ablation_config(tmp_path: Path) -> None:
    path = tmp_path / "ablation.safetensors"
    save_weights(path, _random_model(width=8, use_mca=False), "# card\n")
    assert load_weights(path).config == LWNet(width=8, use_mca=False).config


def test_card_in_metadata_and_beside(weights: Path) -> None:
    text = card_path(weights).read_text()
    assert text.startswith("# Seeded random LWNet")
    assert "preset" in text and '"width": 8' in text
    assert read_card(weights) == text


def test_save_refuses_to_overwrite(weights: Path) -> None:
    before = weights.read_bytes()
    with pytest.raises(OutputExistsError, match="already exists"):
        save_weights(weights, _random_model(seed=1), {"title": "other"})
    assert weights.read_bytes() == before
    save_weights(weights, _random_model(seed=1), {"title": "other"}, overwrite=True)
    assert weights.read_bytes() != before


def test_wrong_architecture_is_refused(tmp_path: Path, weights: Path) -> None:
    with pytest.raises(WeightsError, match=r"shape .* model expects"):
        load_weights(weights, config={"width": 12})
    with pytest.raises(WeightsError, match=r"unexpected mca\."):
        load_weights(weights, config={"use_mca": False})
    # A file whose metadata claims one architecture but holds another's tensors.
    bogus = tmp_path / "bogus.safetensors"
    state = {k: v.contiguous() for k, v in _random_model().state_dict().items()}
    del state["decoder.body.5.bias"]
    save_file(state, bogus, metadata={"format": "lwnet", "format_version": "1",
                                      "config": json.dumps(LWNet().config)})
    with pytest.raises(WeightsError, match=r"bogus.safetensors.*missing decoder\.body\.5\.bias"):
        load_model(bogus)


def test_safetensors_without_lwnet_metadata_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    save_file({k: v.contiguous() for k, v in LWNet().state_dict().items()}, path)
    with pytest.raises(WeightsError, match="without LWNet metadata"):
        load_model(path)
    from lwnet.training.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "checkpoint.safetensors", LWNet().state_dict(), {"epoch": 1})
    with pytest.raises(WeightsError, match="a training checkpoint, not weights"):
        load_model(tmp_path / "checkpoint.safetensors")


@pytest.mark.parametrize(("metadata", "said"), [
    ({"format_version": "99"}, "weights format version '99', this LWNet reads version 1"),
    ({"config": "{width: 8"}, "unreadable config metadata"),
    ({"config": json.dumps({"width": 8, "heads": 2})}, "does not describe an LWNet"),
    ({"config": json.dumps({"width": 0})}, "does not describe an LWNet"),
])
def test_damaged_or_foreign_metadata_is_named(tmp_path: Path, metadata: dict[str, str],
                                              said: str) -> None:
    # Real LWNet tensors under metadata from another version, or a config that is not JSON or
    # not LWNet's: a WeightsError naming the file, not a traceback from json or the model.
    path = tmp_path / "odd.safetensors"
    state = {k: v.contiguous() for k, v in LWNet().state_dict().items()}
    save_file(state, path, metadata={"format": "lwnet", "format_version": "1",
                                     "config": json.dumps(LWNet().config), **metadata})
    with pytest.raises(WeightsError, match=f"odd.safetensors: .*{re.escape(said)}"):
        load_model(path)


class _Marker:
    """Unpickling this object creates a marker file: proof that a pickle was executed."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_pickle_payload_is_never_unpickled(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.safetensors"
    payload = {"state": _Marker(str(marker))}
    if writer == "pickle":
        path.write_bytes(pickle.dumps(payload, protocol=4))
    else:
        torch.save(payload, path)
    with pytest.raises(WeightsError, match="evil.safetensors.*refused"):
        load_model(path)
    assert not marker.exists()
    if writer == "pickle":  # the payload is live, so the refusal above is what protected us
        pickle.loads(path.read_bytes())
        assert marker.exists()


def test_the_same_weights_give_the_same_bytes_in_any_process(tmp_path: Path) -> None:
    """safetensors writes its metadata in hash order, which differs between processes; the
    file (and the SHA-256 that provenance records quote) must not."""
    import subprocess
    import sys

    from _killable import env

    code = ("import sys, torch; from lwnet.inference import save_weights; "
            "from lwnet.model import LWNet; torch.manual_seed(0); "
            "save_weights(sys.argv[1], LWNet(width=4), 'card: α × β')")
    files = [tmp_path / f"{i}.safetensors" for i in range(3)]
    for path in files:
        subprocess.run([sys.executable, "-c", code, str(path)], env=env(), check=True)
    assert len({path.read_bytes() for path in files}) == 1
    assert load_model(files[0]).config == LWNet(width=4).config


def test_garbage_and_missing_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    with pytest.raises(WeightsError, match="junk.safetensors: not a valid safetensors"):
        load_model(junk)
    with pytest.raises(WeightsError, match="no such weights file"):
        load_model(tmp_path / "absent.safetensors")
    # A run folder for its final weights: named, with the file it holds.
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(WeightsError, match="run: is a folder, not a weights file$"):
        load_model(run)
    save_weights(run / "weights.safetensors", LWNet(width=4), "card")
    with pytest.raises(WeightsError, match=r"did you mean .*run/weights\.safetensors\?"):
        load_model(run)


def test_unknown_pair_type() -> None:
    with pytest.raises(WeightsError, match="no shipped model for pair type 'MRI-XYZ'"):
        shipped_weights("MRI-XYZ")


@pytest.mark.parametrize("code", [
    "import lwnet",
    # `lwnet --help` and every parser: the commands import their work when they run
    "from lwnet.cli import build_parser; build_parser()",
    "from lwnet.metrics import METRIC_NAMES, convention_text",
])
def test_light_imports_leave_torch_and_scipy_out(code: str) -> None:
    check = "; import sys; assert not {'torch', 'scipy'} & set(sys.modules), sorted(sys.modules)"
    out = subprocess.run([sys.executable, "-c", code + check + "; print(True)"],
                         capture_output=True, text=True,
                         env={"PYTHONPATH": str(Path(lwnet.__file__).parents[1])})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "True"


def test_fuse_on_sample_colour_and_grey(sample: Path, weights: Path) -> None:
    for pair_type, colour in (("SPECT-MRI", True), ("PET-MRI", True), ("CT-MRI", False)):
        pair = harvard_pairs(sample, pair_type)[0]
        mri, functional = read_image(pair.a), read_image(pair.b)
        result = lwnet.fuse(mri, functional, model=weights)
        assert result.dtype == np.float32 and result.shape[:2] == mri.shape
        assert result.ndim == (3 if colour else 2)
        # Background of both sources stays exactly 0 in the saved 8-bit result.
        background = (luma8(mri) == 0) & (luma8(functional) == 0)
        assert (np.rint(result * 255)[background] == 0).all()


def test_fuse_accepts_pil_and_uint8(sample: Path, weights: Path) -> None:
    pair = harvard_pairs(sample, "SPECT-MRI")[0]
    model = load_model(weights)
    from_arrays = fuse(read_image(pair.a), read_image(pair.b), model=model)
    with Image.open(pair.a) as a, Image.open(pair.b) as b:
        from_pil = fuse(a, b, model=model)
        from_uint8 = fuse(np.asarray(a), np.asarray(b), model=model)
    np.testing.assert_array_equal(from_pil, from_arrays)
    np.testing.assert_array_equal(from_uint8, from_arrays)
    np.testing.assert_array_equal(fuse(str(pair.a), pair.b, model=model), from_arrays)


def test_colour_mri_is_refused_as_swapped(sample: Path, weights: Path, tmp_path: Path,
                                          capsys) -> None:
    from lwnet.cli import main

    pair = harvard_pairs(sample, "SPECT-MRI")[0]
    with pytest.raises(InputError, match=f"{pair.b}: a colour image as A.*swapped"):
        fuse(pair.b, pair.a, model=weights)
    out = tmp_path / "f.png"
    assert main(["fuse", "-m", "mean", str(pair.b), str(pair.a), "-o", str(out)]) == 2
    assert "a colour image as A" in capsys.readouterr().err and not out.exists()


def test_fuse_picks_shipped_model_by_pair_or_colour(monkeypatch, tmp_path: Path) -> None:
    import lwnet.model.weights as weights_module

    spect = _random_model(seed=10, width=8)
    ct = _random_model(seed=11, width=12)
    save_weights(tmp_path / "spect-mri.safetensors", spect, "# spect\n")
    save_weights(tmp_path / "ct-mri.safetensors", ct, "# ct\n")
    monkeypatch.setattr(weights_module, "WEIGHTS_DIR", tmp_path)
    assert load_model(pair_type="PET-MRI").config["width"] == 8
    assert load_model(pair_type="CT-MRI").config["width"] == 12
    rng = np.random.default_rng(0)
    mri, colour = rng.random((32, 32), np.float32), rng.random((32, 32, 3), np.float32)
    grey = rng.random((32, 32), np.float32)
    expected = fuse(mri, colour, model=spect)
    np.testing.assert_array_equal(fuse(mri, colour), expected)
    np.testing.assert_array_equal(fuse(mri, grey), fuse(mri, grey, model=ct))
    np.testing.assert_array_equal(fuse(mri, grey, pair_type="SPECT-MRI"),
                                  fuse(mri, grey, model=spect))


def test_fuse_with_a_classical_method_matches_the_command(sample, tmp_path: Path) -> None:
    from lwnet.cli import main
    from lwnet.data import fuse_in_luma
    from lwnet.methods import get_method

    (pair,) = harvard_pairs(sample, "PET-MRI")
    fused = lwnet.fuse(pair.a, pair.b, method="gff")
    assert fused.shape[-1] == 3  # the PET's colour kept
    expected, _ = fuse_in_luma(get_method("gff"), read_image(pair.a), read_image(pair.b))
    np.testing.assert_array_equal(fused, expected)
    assert main(["fuse", "--method", "gff", str(pair.a), str(pair.b), "-o",
                 str(tmp_path / "f.png")]) == 0
    np.testing.assert_array_equal(read_image(tmp_path / "f.png"),
                                  np.rint(fused * 255).astype(np.uint8) / np.float32(255))
    with pytest.raises(ConfigError, match="takes no model or pair_type"):
        lwnet.fuse(pair.a, pair.b, method="gff", pair_type="CT-MRI")
    # The command's default method name is the network here too.
    np.testing.assert_array_equal(lwnet.fuse(pair.a, pair.b, method="lwnet", pair_type="CT-MRI"),
                                  lwnet.fuse(pair.a, pair.b, pair_type="CT-MRI"))


def test_a_model_and_a_pair_type_are_not_both_taken(weights: Path) -> None:
    # pair_type picks a shipped model; beside a model of one's own it was ignored
    a = np.zeros((32, 32), np.float32)
    for model in (weights, load_model(weights)):
        with pytest.raises(ConfigError, match="fuse: pair_type picks a shipped model"):
            fuse(a, a, model=model, pair_type="CT-MRI")
    with pytest.raises(ConfigError, match="load_model: pair_type picks a shipped model"):
        load_model(weights, pair_type="CT-MRI")
    assert fuse(a, a, model=weights).shape == (32, 32)


def test_fuse_input_errors(weights: Path) -> None:
    with pytest.raises(InputError, match="size mismatch: mri is 32x32, functional is 40x32"):
        fuse(np.zeros((32, 32)), np.zeros((32, 40)), model=weights)
    with pytest.raises(InputError, match=r"mri: float values from 3 to 3; float images must lie "
                                         r"in \[0, 1\]; 0..255 data\? divide by 255 or pass uint8"):
        fuse(np.full((32, 32), 3.0), np.zeros((32, 32)), model=weights)
    with pytest.raises(InputError, match=r"mri: float values from 0 to 1.01; float images must "
                                         r"lie in \[0, 1\]$"):  # no 0..255 hint for this
        fuse(np.linspace(0, 1.01, 32 * 32).reshape(32, 32), np.zeros((32, 32)), model=weights)


def test_the_network_runs_by_name_from_python_as_from_the_command(sample: Path,
                                                                   tmp_path: Path) -> None:
    """``"lwnet"`` is a fusion method of the Python API too: one pair (model from B's colour),
    a dataset (the shipped model of its pair type); folders need a model named, through
    ``network_fuser``, which is what the command runs."""
    from PIL import Image

    from lwnet.cli import main
    from lwnet.inference import (
        NETWORK,
        fuse_dataset,
        fuse_file_pair,
        fuse_folders,
        network_fuser,
        shipped_weights,
    )
    from lwnet.model.weights import weights_id

    (pair,) = harvard_pairs(sample, "CT-MRI")
    fuse_file_pair(NETWORK, pair.a, pair.b, tmp_path / "api.png")
    assert main(["fuse", str(pair.a), str(pair.b), "-o", str(tmp_path / "cli.png")]) == 0
    with Image.open(tmp_path / "api.png") as api, Image.open(tmp_path / "cli.png") as cli:
        np.testing.assert_array_equal(np.asarray(api), np.asarray(cli))
        assert api.text["Source"] == cli.text["Source"] == \
            f"lwnet {weights_id(shipped_weights('CT-MRI'))}"

    fuse_dataset([NETWORK], sample, "CT-MRI", tmp_path / "set", progress=False)
    np.testing.assert_array_equal(read_image(tmp_path / f"set/lwnet/CT-MRI/{pair.id}.png"),
                                  read_image(tmp_path / "api.png"))
    record = json.loads((tmp_path / "set/lwnet/CT-MRI/.lwnet-outputs.json").read_text())
    assert record["model"] == weights_id(shipped_weights("CT-MRI"))
    fuse_dataset({"LWNet": NETWORK}, sample, "CT-MRI", tmp_path / "set", progress=False)
    np.testing.assert_array_equal(read_image(tmp_path / f"set/LWNet/CT-MRI/{pair.id}.png"),
                                  read_image(tmp_path / "api.png"))

    with pytest.raises(ConfigError, match="the network needs its model: fusers=.*network_fuser"):
        fuse_folders([NETWORK], pair.a.parent, pair.b.parent, tmp_path / "dirs", progress=False)
    fuser, record = network_fuser(pair_type="CT-MRI")
    fuse_folders([NETWORK], pair.a.parent, pair.b.parent, tmp_path / "dirs", progress=False,
                 fusers={NETWORK: fuser}, models={NETWORK: record})
    np.testing.assert_array_equal(read_image(tmp_path / f"dirs/lwnet/{pair.id}.png"),
                                  read_image(tmp_path / "api.png"))
    with pytest.raises(ConfigError, match="an ONNX graph or weights, not both"):
        network_fuser(shipped_weights("CT-MRI"), onnx=tmp_path / "x.onnx")


def test_counts_below_one_are_named_by_the_api_before_any_work(sample: Path,
                                                               tmp_path: Path) -> None:
    """jobs = 0 used to run (fuse_pairs) or fail after every fusion (the benchmark). The
    commands check their options themselves (test_fuse_cli), naming the option."""
    from lwnet.inference import fuse_dataset
    from lwnet.reports.benchmark import BenchmarkConfig

    with pytest.raises(ConfigError, match="jobs must be at least 1, not 0"):
        fuse_dataset(["mean"], sample, "CT-MRI", tmp_path / "out", jobs=0, progress=False)
    with pytest.raises(ConfigError, match="batch_size must be at least 1, not 0"):
        fuse_dataset(["mean"], sample, "CT-MRI", tmp_path / "out", batch_size=0, progress=False)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="jobs must be at least 1, not 0"):
        BenchmarkConfig(data=tmp_path, out=tmp_path / "report", jobs=0)


def test_a_batch_takes_images_as_everywhere_and_the_model_keeps_its_mode() -> None:
    from lwnet.inference import fuse_batch

    model = _random_model(seed=3, width=4)
    model.train()  # e.g. between a notebook's training steps
    rng = np.random.default_rng(0)
    a8 = rng.integers(0, 256, (2, 24, 24), dtype=np.uint8)
    b8 = rng.integers(0, 256, (2, 24, 24), dtype=np.uint8)
    np.testing.assert_array_equal(fuse_batch(model, a8, b8),
                                  fuse_batch(model, a8 / np.float32(255), b8 / np.float32(255)))
    with pytest.raises(InputError, match=r"a: .*divide by 255 or pass uint8"):
        fuse_batch(model, a8.astype(np.float32), b8 / np.float32(255))
    lwnet.fuse(a8[0], b8[0], model=model)
    assert model.training


def test_loading_weights_leaves_the_callers_random_stream_alone(weights: Path) -> None:
    from lwnet.inference import load_weights

    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    load_weights(weights)  # builds a randomly initialised model before loading the tensors
    assert torch.equal(torch.rand(4), expected)
