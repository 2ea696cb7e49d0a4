"""The fault matrix of docs/reliability.md: bad inputs, unsafe weights, bad configs, odd sizes.

Every fault goes through the CLI (``lwnet.cli.main``) the way a user meets it: one line on
stderr naming the file and the problem, exit status 2, and no output file left behind.
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from lwnet.cli import main
from lwnet.data.colour import fuse_in_luma, luma8
from lwnet.data.io import read_image, write_image
from lwnet.inference import load_model
from lwnet.methods import get_method
from lwnet.model import LWNet
from lwnet.model.weights import FORMAT, FORMAT_VERSION, save_weights

from _killable import make_tiny_root


def _fails(capsys, argv: list[str], *needles: str) -> str:
    """Run the CLI, expect exit 2 and one error line (after any progress bar) holding every
    needle."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1, err
    line = err.strip().splitlines()[-1]
    for needle in needles:
        assert needle in line, err
    return line


# --- bad input images ---------------------------------------------------------------------------

def _truncated(path: Path, image: Path) -> None:
    data = image.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _text(path: Path, image: Path) -> None:
    path.write_text("this is not an image\n")


def _tiny(path: Path, image: Path) -> None:
    write_image(path, np.full((1, 1), 0.5, np.float32))


def _other_size(path: Path, image: Path) -> None:
    write_image(path, np.zeros((200, 256), np.float32))


@pytest.mark.parametrize("make, needle", [(_truncated, "bad.png"), (_text, "bad.png"),
                                          (_tiny, "1x1"), (_other_size, "256x200")])
def test_bad_image_is_named_and_nothing_is_written(sample_pair, tmp_path, capsys, make, needle):
    a, _ = sample_pair("SPECT-MRI")
    bad = tmp_path / "bad.png"
    make(bad, a)
    out = tmp_path / "f.png"
    for method in ("mean", "lwnet"):
        _fails(capsys, ["fuse", "-m", method, str(a), str(bad), "-o", str(out)], needle)
    assert not out.exists() and list(tmp_path.glob(".*.tmp")) == []


def test_an_image_over_pillows_pixel_limit_is_named(sample_pair, tmp_path, capsys, monkeypatch):
    # A 20,000² black PNG is 0.4 MB on disk; Pillow refuses it before decoding. The limit is
    # lowered here so that the 256² sample trips the same guard.
    a, b = sample_pair("SPECT-MRI")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    out = tmp_path / "f.png"
    _fails(capsys, ["fuse", str(a), str(b), "-o", str(out)], a.name, "decompression bombs",
           "MAX_IMAGE_PIXELS")
    assert not out.exists()


def test_missing_partner_in_folder_mode_is_named(sample_pair, tmp_path, capsys):
    a, b = sample_pair("SPECT-MRI")
    dir_a, dir_b = tmp_path / "A", tmp_path / "B"
    dir_a.mkdir()
    dir_b.mkdir()
    for stem in ("x", "y"):
        shutil.copy(a, dir_a / f"{stem}.png")
    shutil.copy(b, dir_b / "x.png")
    out = tmp_path / "out"
    _fails(capsys, ["fuse", "-m", "mean", str(dir_a), str(dir_b), "--out", str(out)], "y")
    assert not out.exists()


@pytest.mark.parametrize("which", ["empty", "missing"])
def test_empty_or_missing_folder_is_named(sample_pair, tmp_path, capsys, which):
    dir_a = tmp_path / "A"
    dir_a.mkdir()
    shutil.copy(sample_pair("SPECT-MRI")[0], dir_a / "x.png")
    dir_b = tmp_path / "B"
    if which == "empty":
        dir_b.mkdir()
    out = tmp_path / "out"
    problem = "no such file or folder" if which == "missing" else "holds no"
    _fails(capsys, ["fuse", "-m", "mean", str(dir_a), str(dir_b), "--out", str(out)],
           str(dir_b), problem)
    assert not out.exists()


def test_unwritable_output_folder_is_named(sample_pair, tmp_path, capsys):
    # Tests run as root, so chmod cannot forbid writing: the output's parent is a regular file.
    a, b = sample_pair("SPECT-MRI")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _fails(capsys, ["fuse", "-m", "mean", str(a), str(b), "-o", str(blocker / "f.png")], "file")
    dir_a, dir_b = tmp_path / "A", tmp_path / "B"
    for d, src in ((dir_a, a), (dir_b, b)):
        d.mkdir()
        shutil.copy(src, d / "x.png")
    _fails(capsys, ["fuse", "-m", "mean", str(dir_a), str(dir_b), "--out", str(blocker)], "file")
    assert blocker.read_text() == "x"


def test_existing_output_is_kept_without_overwrite(sample_pair, tmp_path, capsys):
    a, b = sample_pair("SPECT-MRI")
    out = tmp_path / "f.png"
    out.write_bytes(b"precious")
    _fails(capsys, ["fuse", "-m", "mean", str(a), str(b), "-o", str(out)], "f.png", "overwrite")
    assert out.read_bytes() == b"precious"
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(out), "--overwrite"]) == 0
    assert read_image(out).shape == (256, 256, 3)


def test_16bit_and_palette_inputs_fuse_like_their_8bit_rgb_equivalent(sample_pair, tmp_path):
    a, b = sample_pair("SPECT-MRI")
    a8 = np.asarray(Image.open(a).convert("L"))
    a16 = tmp_path / "a16.png"
    Image.fromarray(a8.astype(np.uint16) * 257).save(a16)  # same values on the 16-bit scale
    pal = tmp_path / "b_palette.png"
    Image.open(b).convert("RGB").quantize(64).save(pal)
    b_rgb = np.asarray(Image.open(pal).convert("RGB"), np.float32) / 255
    out = tmp_path / "f.png"
    assert main(["fuse", "-m", "gff", str(a16), str(pal), "-o", str(out)]) == 0
    expected, _ = fuse_in_luma(get_method("gff"), a8.astype(np.float32) / 255, b_rgb)
    assert np.abs(luma8(read_image(out)).astype(int) - luma8(expected).astype(int)).max() <= 1


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lwnet", "laplacian"])
def test_4096_square_pair_fuses(tmp_path, method):
    rng = np.random.default_rng(0)
    a = np.zeros((4096, 4096), np.float32)
    a[512:3584, 512:3584] = rng.random((3072, 3072), dtype=np.float32)
    write_image(tmp_path / "a.png", a)
    write_image(tmp_path / "b.png", np.ascontiguousarray(a[::-1]))
    out = tmp_path / "f.png"
    argv = ["fuse", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(out)]
    assert main(argv + ["-m", method]) == 0  # grey B: the network uses the CT-MRI model
    f = read_image(out)
    assert f.shape == (4096, 4096)
    assert f[:256, :256].max() == 0  # the black background stays black at full size


# --- weights ------------------------------------------------------------------------------------

def test_wrong_architecture_weights_are_refused(sample_pair, tmp_path, capsys):
    # Width-4 tensors under metadata that claims the default width.
    tensors = {k: v.contiguous() for k, v in LWNet(width=4).state_dict().items()}
    bad = tmp_path / "wrong.safetensors"
    save_file(tensors, str(bad), metadata={"format": FORMAT, "format_version": FORMAT_VERSION,
                                           "config": json.dumps(LWNet().config)})
    a, b = sample_pair("SPECT-MRI")
    out = tmp_path / "f.png"
    _fails(capsys, ["fuse", str(a), str(b), "-o", str(out), "--weights", str(bad)],
           "wrong.safetensors", "do not fit")
    assert not out.exists()


def test_non_finite_weights_are_refused(sample_pair, tmp_path, capsys):
    model = LWNet()
    tensors = {k: v.contiguous().clone() for k, v in model.state_dict().items()}
    key = next(iter(tensors))
    tensors[key].view(-1)[0] = float("nan")
    bad = tmp_path / "nan.safetensors"
    save_file(tensors, str(bad), metadata={"format": FORMAT, "format_version": FORMAT_VERSION,
                                           "config": json.dumps(model.config)})
    a, b = sample_pair("SPECT-MRI")
    out = tmp_path / "f.png"
    _fails(capsys, ["fuse", str(a), str(b), "-o", str(out), "--weights", str(bad)],
           "nan.safetensors", key, "NaN or infinite")
    assert not out.exists()


@pytest.mark.parametrize("argv, needles", [
    (["profile", "--device", "nonsense"], ["'nonsense'", "not a torch device"]),
    (["profile", "--device", "cuda:0"] if not torch.cuda.is_available() else
     ["profile", "--device", "cuda:99"], ["device cuda"]),
    (["profile", "--scales", "4"], ["scales must be odd", "[4]"]),
    (["profile", "--scales", "0", "3"], ["scales must be odd"]),
    (["profile", "--size", "10", "10"], ["--size 10 10", "16×16"]),
    (["train", "--set", "model.scales=[4]", "--run-dir", "{tmp}/run"], ["model", "scales"]),
    (["export", "--pair", "SPECT-MRI", "-o", "{tmp}/x.onnx", "--opset", "5"], ["opset 5", "11–23"]),
    (["export", "--pair", "SPECT-MRI", "-o", "{tmp}/x.txt"], ["x.txt", ".onnx"]),
], ids=["device-name", "device-absent", "scales-even", "scales-zero", "size-tiny",
        "train-scales", "opset", "onnx-suffix"])
def test_bad_options_are_named_before_any_work(argv, needles, tmp_path, capsys):
    _fails(capsys, [x.format(tmp=tmp_path) for x in argv], *needles)
    assert list(tmp_path.iterdir()) == []  # no run folder, no half-written graph


def test_bad_device_is_named_by_fuse(sample_pair, tmp_path, capsys):
    a, b = sample_pair("SPECT-MRI")
    out = tmp_path / "f.png"
    _fails(capsys, ["fuse", str(a), str(b), "-o", str(out), "--device", "nonsense"],
           "'nonsense'", "not a torch device")
    assert not out.exists()


@pytest.mark.parametrize("module, extra, command", [
    ("onnx", "onnx", "export"), ("onnxruntime", "onnx", "export"),
    ("onnxscript", "onnx", "export --dynamo"), ("onnxruntime", "onnx", "fuse --onnx"),
    ("nibabel", "medical", "fuse-volume NIfTI"), ("pydicom", "medical", "fuse-volume DICOM"),
])
def test_a_missing_optional_package_names_its_extra(module, extra, command, sample, sample_pair,
                                                     tmp_path, capsys, monkeypatch):
    # What a plain `pip install lwnet` lacks: the command says which extra to install, and
    # writes nothing (torch's exporter used to raise its own error from deep in the export).
    a, b = sample_pair("CT-MRI")
    graph = tmp_path / "m.onnx"
    if command == "fuse --onnx":
        main(["export", "--pair", "CT-MRI", "-o", str(graph)])
    dicom = tmp_path / "series"
    dicom.mkdir()
    (dicom / "x.dcm").write_bytes(b"\0" * 128 + b"DICM")
    out = tmp_path / "out"
    argv = {"export": ["export", "--pair", "CT-MRI", "-o", f"{out}.onnx"],
            "export --dynamo": ["export", "--pair", "CT-MRI", "--dynamo", "-o", f"{out}.onnx"],
            "fuse --onnx": ["fuse", "--onnx", str(graph), str(a), str(b), "-o", f"{out}.png"],
            "fuse-volume NIfTI": ["fuse-volume", str(a), str(b), "-o", f"{out}.nii"],
            "fuse-volume DICOM": ["fuse-volume", str(dicom), str(dicom), "-o", f"{out}.nii"],
            }[command]
    if command == "fuse-volume NIfTI":  # two small volumes, written while nibabel is there
        import nibabel as nib

        for path in (a, b):
            nib.save(nib.Nifti1Image(np.ones((8, 8, 2), np.float32), np.eye(4)),
                     tmp_path / f"{path.parent.name}.nii")
        argv[1:3] = [str(tmp_path / f"{p.parent.name}.nii") for p in (a, b)]
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, module, None)  # import then raises ImportError
    _fails(capsys, argv, f"the Python package '{module}'", f"pip install 'lwnet[{extra}]'")
    assert not any(p.name.startswith("out") for p in tmp_path.iterdir())


class _Marker:
    """Unpickling this object creates a marker file: proof that the payload ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_pickled_payload_is_refused_on_every_loading_path(sample, tmp_path, capsys, sample_pair):
    marker = tmp_path / "payload-ran"
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"weight": _Marker(marker)}))
    a, b = sample_pair("SPECT-MRI")
    with pytest.raises(Exception, match="evil.safetensors.*refused"):
        load_model(evil)
    _fails(capsys, ["fuse", str(a), str(b), "-o", str(tmp_path / "f.png"), "--weights",
                    str(evil)], "evil.safetensors", "refused")
    _fails(capsys, ["export", "--weights", str(evil), "-o", str(tmp_path / "m.onnx")],
           "evil.safetensors", "refused")
    _fails(capsys, ["profile", "--weights", str(evil)], "evil.safetensors", "refused")
    # Training resume: the run folder's checkpoint replaced by the payload.
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(evil, run / "checkpoint.safetensors")
    root = make_tiny_root(tmp_path / "harvard", sample)
    from lwnet.training import load_config

    config = load_config(None, None, [f"data_root='{root}'", "model.width=4"]).to_dict()
    (run / "config.json").write_text(json.dumps(config))  # the rest of the run folder is genuine
    _fails(capsys, ["train", "--set", f"data_root='{root}'", "--set", "model.width=4",
                    "--run-dir", str(run), "--resume", "--no-progress"],
           "checkpoint.safetensors", "refused")
    # Benchmark weights discovery: a payload named like shipped weights.
    wdir = tmp_path / "weights"
    wdir.mkdir()
    shutil.copy(evil, wdir / "spect-mri.safetensors")
    data = tmp_path / "data"
    shutil.copytree(root, data / "harvard")
    (data / "harvard/splits/SPECT-MRI_test.txt").write_text("0.png\n")
    _fails(capsys, ["benchmark", "--data", str(data), "--out", str(tmp_path / "report"),
                    "--weights", str(wdir), "--no-external", "--pairs", "SPECT-MRI", "--quiet"],
           "spect-mri.safetensors", "refused")
    assert not (tmp_path / "report").exists()
    assert not marker.exists()
    pickle.loads(evil.read_bytes())  # the payload is live: the refusals are what stopped it
    assert marker.exists()


def test_valid_weights_still_load_on_those_paths(tmp_path, capsys):
    good = save_weights(tmp_path / "good.safetensors", LWNet(width=4), "test card")
    assert main(["profile", "--weights", str(good), "--repeats", "1", "--warmup", "0"]) == 0
    assert load_model(good).config["width"] == 4


# --- configs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("setting, key", [("bogus_key=1", "bogus_key"), ("epochs=0", "epochs"),
                                          ("model.width=0", "width"),
                                          ("labelled=1.5", "labelled")])
def test_bad_config_is_named_before_any_work(tmp_path, capsys, setting, key):
    run = tmp_path / "run"
    _fails(capsys, ["train", "--set", setting, "--run-dir", str(run), "--no-progress"], key)
    assert not run.exists()


def test_bad_config_file_key_is_named(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("epochs = 2\n[model]\nwidht = 8\n")
    run = tmp_path / "run"
    _fails(capsys, ["train", "--config", str(cfg), "--run-dir", str(run)], "widht")
    assert not run.exists()



def _as_12_bit(path: Path) -> Image.Image:
    """An 8-bit grey image as a scanner exporter may save it: 12 bits, unscaled, in 16."""
    return Image.fromarray(np.asarray(Image.open(path).convert("L")).astype(np.uint16) * 16)

def test_12_bit_data_in_a_16_bit_file_is_fused_with_one_warning(sample_pair, tmp_path, capsys):
    a, b = sample_pair("CT-MRI")
    ct12 = tmp_path / "ct12.png"
    _as_12_bit(b).save(ct12)
    out = tmp_path / "f.png"
    # B is read twice (to choose the model, then to fuse): the warning is still said once.
    assert main(["fuse", str(a), str(ct12), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1, err
    assert f"lwnet fuse: warning: {ct12}: brightest value " in err
    assert "12-bit data? Scale it to the full range first (x 65535/4095)" in err
    assert out.exists()


def test_a_worker_process_says_its_input_warnings_the_same_way(sample_pair, tmp_path):
    # `lwnet evaluate -j 2` and `lwnet train` read files in worker processes.
    a, _ = sample_pair("CT-MRI")
    mri12 = tmp_path / "mri12.png"
    _as_12_bit(a).save(mri12)
    script = ("from lwnet.data import read_image\nfrom lwnet.parallel import Workers\n"
              f"with Workers(2) as w:\n    list(w.map(read_image, [({str(mri12)!r},)]))\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=True)
    assert run.stderr.startswith(f"lwnet: warning: {mri12}: brightest value "), run.stderr


def test_a_folder_of_12_bit_files_gets_five_warnings_then_one_line(sample_pair, tmp_path,
                                                                   capsys):
    a, b = sample_pair("CT-MRI")
    dir_a, dir_b = tmp_path / "A", tmp_path / "B"
    dir_a.mkdir()
    dir_b.mkdir()
    mri12 = _as_12_bit(a)
    for i in range(7):
        mri12.save(dir_a / f"p{i}.png")
        shutil.copy(b, dir_b / f"p{i}.png")
    out = tmp_path / "out"
    assert main(["fuse", "-m", "mean", str(dir_a), str(dir_b), "--out", str(out), "-q"]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    warned = [line for line in lines if line.startswith("lwnet fuse: warning: ")]
    assert len(warned) == 6, lines
    assert all("brightest value 4080" in line for line in warned[:5])
    assert warned[5] == "lwnet fuse: warning: further input warnings are not shown"
    assert len(list((out / "mean").glob("*.png"))) == 7
