"""``lwnet fuse``: single pair and dataset mode, colour handling, safety of outputs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from lwnet.cli import main
from lwnet.data import fuse_in_luma, luma8, read_image, write_image
from lwnet.errors import ConfigError, InputError
from lwnet.inference import fuse_dataset, shipped_weights
from lwnet.inference.dataset import SETTINGS_FILE, claim_output_folder
from lwnet.methods import ExternalMethod, get_method


def test_single_pair_colour_and_luma(sample_pair, tmp_path: Path) -> None:
    a, b = sample_pair("PET-MRI")
    out, luma_out = tmp_path / "f.png", tmp_path / "y.png"
    assert main(["fuse", "--method", "gff", str(a), str(b), "-o", str(out),
                 "--luma-out", str(luma_out)]) == 0
    rgb, y = read_image(out), read_image(luma_out)
    assert rgb.shape == (256, 256, 3) and y.shape == (256, 256)
    expected_rgb, expected_y = fuse_in_luma(get_method("gff"), read_image(a), read_image(b))
    np.testing.assert_array_equal(luma8(y), luma8(expected_y))
    # the colour result carries the fused luminance, up to 8-bit rounding of R, G, B and the
    # RGB gamut clipping of saturated pseudo-colour pixels (about 8 % of this PET slice)
    assert (np.abs(luma8(rgb).astype(int) - luma8(expected_y).astype(int)) <= 2).mean() > 0.85
    np.testing.assert_array_equal(luma8(rgb), luma8(expected_rgb))


def test_grey_pair_gives_grey_output(sample: Path, tmp_path: Path) -> None:
    a, b = sample / "CT-MRI" / "MRI" / "16011.png", sample / "CT-MRI" / "CT" / "16011.png"
    assert main(["fuse", "-m", "max", str(a), str(b), "-o", str(tmp_path / "f.png")]) == 0
    f = read_image(tmp_path / "f.png")
    assert f.ndim == 2
    np.testing.assert_array_equal(luma8(f), np.maximum(luma8(read_image(a)), luma8(read_image(b))))


@pytest.mark.parametrize(("options", "noted"), [
    ([], True), (["--pair", "CT-MRI"], False), (["--pair", "PET-MRI"], False),
    (["-m", "max"], False)])
def test_a_grey_b_says_which_model_fused_it(sample: Path, tmp_path: Path, capsys,
                                           options: list[str], noted: bool) -> None:
    # Grey B could be a PET or SPECT stored in grey, which the SPECT-MRI model fuses clearly
    # better (benchmarks/grey_functional.py): the choice made from the input is said.
    a, b = sample / "CT-MRI" / "MRI" / "16011.png", sample / "CT-MRI" / "CT" / "16011.png"
    assert main(["fuse", *options, str(a), str(b), "-o", str(tmp_path / "f.png")]) == 0
    out = capsys.readouterr().out
    note = ("note: B is greyscale, so the CT-MRI model fused it; for a greyscale PET or SPECT, "
            "--pair PET-MRI takes the SPECT-MRI model")
    assert (note in out) == noted, out
    model = "spect-mri" if "PET-MRI" in options else "ct-mri"
    assert (f"lwnet {model}.safetensors" in out) == ("-m" not in options), out


def test_the_same_file_as_a_and_b_is_fused_and_said(sample: Path, tmp_path: Path,
                                                    capsys) -> None:
    a = sample / "CT-MRI" / "MRI" / "16011.png"
    (tmp_path / "link.png").symlink_to(a)  # the same file under another name counts too
    for b in (a, tmp_path / "link.png"):
        out = tmp_path / f"f-{b.name}"
        assert main(["fuse", "-m", "max", str(a), str(b), "-o", str(out)]) == 0
        said = capsys.readouterr().out.splitlines()
        assert said == [f"wrote {out}: max",
                        f"note: A and B are the same input ({a}), so the result is it fused "
                        "with itself"]
        np.testing.assert_array_equal(read_image(out), read_image(a))
    # Folder mode: one folder as A and B.
    assert main(["fuse", "-m", "max", str(a.parent), str(a.parent), "--out",
                 str(tmp_path / "folder"), "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(
        f"note: A and B are the same input ({a.parent})")


def test_refuses_to_overwrite(sample_pair, tmp_path: Path, capsys) -> None:
    a, b = sample_pair("PET-MRI")
    out = tmp_path / "f.png"
    out.write_bytes(b"keep")
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(out)]) == 2
    assert out.read_bytes() == b"keep"
    assert "already exists" in capsys.readouterr().err
    luma_out = tmp_path / "y.png"
    luma_out.write_bytes(b"keep")
    # an existing second output also blocks the first: nothing is half-written
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(tmp_path / "new.png"),
                 "--luma-out", str(luma_out)]) == 2
    assert not (tmp_path / "new.png").exists()
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(out), "--overwrite"]) == 0
    assert read_image(out).shape == (256, 256, 3)
    assert capsys.readouterr().out == f"wrote {out}: mean\n"
    # A format that keeps no record (and loses grey levels) is written, and said so.
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(tmp_path / "f.jpg")]) == 0
    assert capsys.readouterr().out.endswith("JPEG keeps no record of what made the image and is "
                                            "lossy (PNG or TIFF keep every level)\n")
    # GIF's 256-entry palette quantises a colour result: also said.
    gif = tmp_path / "f.gif"
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(gif)]) == 0
    assert capsys.readouterr().out.endswith("GIF keeps no record of what made the image and at "
                                            "most 256 colours (PNG or TIFF keep every level)\n")
    assert np.abs(read_image(gif) - read_image(out)).max() > 1 / 255  # the loss is real


def test_an_output_never_replaces_an_input(sample: Path, tmp_path: Path, capsys) -> None:
    """Not even with --overwrite; nor do folder and dataset results go into the data."""
    import shutil

    root = tmp_path / "data"
    shutil.copytree(sample, root)
    a, b = root / "SPECT-MRI/MRI/9028.png", root / "SPECT-MRI/SPECT/9028.png"
    before = a.read_bytes()
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(a), "--overwrite"]) == 2
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(tmp_path / "f.png"),
                 "--luma-out", str(b), "--overwrite"]) == 2
    link = tmp_path / "link.png"  # the same file under another name
    link.symlink_to(a)
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(link), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.count("is an input; name another output") == 3 and a.read_bytes() == before
    # Another image of the same id beside an input: that folder would no longer read as data.
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(a.with_suffix(".tif"))]) == 2
    assert ("9028.tif: beside the input " + str(a) + " with the same name"
            in capsys.readouterr().err)
    modality = ["MRI", "SPECT"]
    assert main(["fuse", "-m", "mean", "--root", str(root), "--pair", "SPECT-MRI", "-q",
                 "--out", str(root / "SPECT-MRI")]) == 2
    assert main(["fuse", "-m", "mean", str(root / "SPECT-MRI/MRI"), str(root / "SPECT-MRI/SPECT"),
                 "-q", "--out", str(root / "SPECT-MRI/SPECT/out")]) == 2
    assert capsys.readouterr().err.count("inside the input folder") == 2
    assert sorted(p.name for p in (root / "SPECT-MRI").iterdir()) == modality
    assert sorted(p.name for p in (root / "SPECT-MRI/SPECT").iterdir()) == ["9028.png"]
    # A method's folder under --out that is an input folder (A named "mean").
    (tmp_path / "two").mkdir()
    shutil.copytree(root / "SPECT-MRI/MRI", tmp_path / "two/mean")
    shutil.copytree(root / "SPECT-MRI/SPECT", tmp_path / "two/SPECT")
    mri = (tmp_path / "two/mean/9028.png").read_bytes()
    assert main(["fuse", "-m", "mean", str(tmp_path / "two/mean"), str(tmp_path / "two/SPECT"),
                 "-q", "--redo", "--out", str(tmp_path / "two")]) == 2
    assert (tmp_path / "two/mean/9028.png").read_bytes() == mri
    assert "inside the input folder" in capsys.readouterr().err
    # Beside the pair-type folders is fine.
    assert main(["fuse", "-m", "mean", "--root", str(root), "--pair", "SPECT-MRI", "-q",
                 "--out", str(root / "results")]) == 0


def test_a_failed_folder_run_leaves_no_record_to_refuse_the_next(sample: Path, tmp_path: Path,
                                                                capsys) -> None:
    """Swapped folders fail on the first pair; the corrected run, with other settings, goes."""
    a_dir, b_dir, out = sample / "SPECT-MRI/MRI", sample / "SPECT-MRI/SPECT", tmp_path / "out"
    assert main(["fuse", "-m", "gff", str(b_dir), str(a_dir), "--out", str(out), "-q"]) == 2
    assert "a colour image as A" in capsys.readouterr().err
    assert not (out / "gff").exists()  # nor the folder it had made for them
    assert main(["fuse", "-m", "gff", str(a_dir), str(b_dir), "--out", str(out), "-q",
                 "--luma"]) == 0
    assert read_image(out / "gff/9028.png").ndim == 2


def test_bad_inputs_exit_2_with_one_line(sample_pair, tmp_path: Path, capsys) -> None:
    a, _ = sample_pair("PET-MRI")
    small = tmp_path / "small.png"
    write_image(small, np.zeros((20, 30)))
    assert main(["fuse", "-m", "mean", str(a), str(small), "-o", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert "size mismatch" in err and err.count("\n") == 1
    assert main(["fuse", "-m", "nope", str(a), str(a), "-o", str(tmp_path / "o.png")]) == 2
    assert "known methods" in capsys.readouterr().err
    assert main(["fuse", "-m", "mean", str(a), str(tmp_path / "missing.png"),
                 "-o", str(tmp_path / "o.png")]) == 2
    assert "missing.png" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_dataset_mode_writes_skips_and_redoes(sample: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    args = ["fuse", "-m", "dwt", "-m", "mean", "--root", str(sample), "--pair", "SPECT-MRI",
            "--out", str(out)]
    assert main(args) == 0
    assert "2 written, 0 already present" in capsys.readouterr().out
    target = out / "dwt" / "SPECT-MRI" / "9028.png"
    assert read_image(target).shape == (256, 256, 3)
    mtime = target.stat().st_mtime_ns
    assert main(args) == 0
    assert "0 written, 2 already present" in capsys.readouterr().out
    assert target.stat().st_mtime_ns == mtime
    os.utime(target, ns=(0, 0))
    assert main(args + ["--redo"]) == 0
    assert target.stat().st_mtime_ns != 0
    # the output folder is itself an external-method folder
    y = ExternalMethod(out / "dwt").luma("SPECT-MRI", "9028")
    assert y.shape == (256, 256)


def test_resume_into_a_folder_of_other_settings_is_refused(sample: Path, tmp_path: Path,
                                                          capsys) -> None:
    """Colour outputs are never taken for luma ones, nor one model's results for another's."""
    out = tmp_path / "out"
    args = ["fuse", "--root", str(sample), "--pair", "SPECT-MRI", "--out", str(out)]
    assert main([*args, "-m", "mean"]) == 0
    capsys.readouterr()
    assert main([*args, "-m", "mean", "--luma"]) == 2
    err = capsys.readouterr().err
    assert str(out / "mean" / "SPECT-MRI") in err and "output 'colour' → 'luma'" in err
    assert read_image(out / "mean/SPECT-MRI/9028.png").ndim == 3  # left as it was
    assert main([*args, "-m", "mean", "--luma", "--redo"]) == 0
    assert read_image(out / "mean/SPECT-MRI/9028.png").ndim == 2
    # A redo killed midway leaves the folder marked mixed: no plain resume, either way.
    claim_output_folder(out / "mean/SPECT-MRI", {"method": "mean", "output": "colour",
                                                 "model": ""}, redo=True)
    for luma in ([], ["--luma"]):
        assert main([*args, "-m", "mean", *luma]) == 2
        assert "a --redo has not finished" in capsys.readouterr().err
    assert main([*args, "-m", "lwnet"]) == 0  # the shipped SPECT-MRI model
    capsys.readouterr()
    ct = str(shipped_weights("CT-MRI"))
    assert main([*args, "-m", "lwnet", "--weights", ct]) == 2
    assert "model 'spect-mri.safetensors (sha256" in capsys.readouterr().err


def test_folder_without_a_record_is_not_adopted(sample: Path, tmp_path: Path, capsys) -> None:
    """Files of the names a run writes, in a folder with no record of what made them, are
    neither skipped as this run's results nor overwritten."""
    out = tmp_path / "out"
    theirs = out / "mean" / "SPECT-MRI" / "9028.png"
    write_image(theirs, np.zeros((8, 8)))
    args = ["fuse", "-m", "mean", "--root", str(sample), "--pair", "SPECT-MRI", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{theirs.parent}: already holds 1 file" in err and "9028.png" in err
    assert read_image(theirs).shape == (8, 8)
    assert not (theirs.parent / SETTINGS_FILE).exists()
    assert main([*args, "--redo"]) == 0
    assert read_image(theirs).shape == (256, 256, 3)
    assert main(args) == 0  # the folder now records this run's settings
    assert "0 written, 1 already present" in capsys.readouterr().out
    other = tmp_path / "other"
    (other / "mean" / "SPECT-MRI").mkdir(parents=True)
    (other / "mean" / "SPECT-MRI" / "notes.txt").write_text("files of other names are no bar")
    assert main([*args[:-1], str(other)]) == 0


def test_mode_mix_ups_are_named(sample: Path, tmp_path: Path, capsys, sample_pair) -> None:
    a, b = sample_pair("PET-MRI")
    cases = [
        (["fuse", str(a.parent), str(b), "--out", str(tmp_path / "o")],
         f"{a.parent}: A is a folder but B is a file"),
        (["fuse", "-m", "mean", str(a), str(b), "-o", str(tmp_path), "--overwrite"],
         f"{tmp_path}: is a folder"),
        (["fuse", "--root", str(sample), "--pair", "FOO-MRI", "--out", str(tmp_path / "o")],
         f"{sample / 'FOO-MRI'}: no such pair-type folder"),
        (["fuse", "-m", "nope", str(a), str(b), "-o", str(tmp_path / "o.png")],
         "known methods: lwnet, "),
        (["fuse", "-m", "mean", "--onnx", "x.onnx", str(a), str(b), "-o", str(tmp_path / "o.png")],
         "--onnx applies to the network only"),
        (["fuse", "-m", "gff", "--device", "cuda", str(a), str(b), "-o", str(tmp_path / "o.png")],
         "--device applies to the network only"),
        (["fuse", "-m", "gff", "--threads", "2", str(a), str(b), "-o",
          str(tmp_path / "o.png")], "--threads applies to the network only"),
        (["fuse", "-m", "gff", "--pair", "CT-MRI", str(a), str(b), "-o",
          str(tmp_path / "o.png")],
         "--pair picks the network's shipped model for a single pair; --method gff takes none"),
        (["fuse", "--list-methods", str(a), str(b), "-o", str(tmp_path / "o.png")],
         "--list-methods prints the methods and exits; give it alone"),
        (["fuse", "-m", "mean", "--split", "test", str(a.parent), str(b.parent), "--out",
          str(tmp_path / "o")], "--split needs dataset mode"),
        (["fuse", str(a.parent), str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")],
         f"{tmp_path / 'nowhere'}: no such file or folder"),
        (["fuse", "-m", "mean", str(a.parent), str(b.parent), "--out", str(tmp_path / "o"),
          "--luma-out", "y.png"], "--luma-out is for a single pair"),
        (["fuse", "-m", "mean", str(a), str(b), "-o", str(tmp_path / "o.png"), "--jobs", "2",
          "--quiet"], "--quiet, --jobs: for folders or a dataset, not a single pair"),
        (["fuse", "-m", "mean", "-m", "max", "-m", "mean", str(a.parent), str(b.parent),
          "--out", str(tmp_path / "o")], "--method mean is given twice"),
        (["fuse", "-m", "mean", str(a), str(b), "-o", str(tmp_path / "s.png"), "--luma-out",
          str(tmp_path / "s.png")], "s.png: named for both the colour result and the luminance"),
        (["fuse", "-m", "mean", str(a), str(b), "-o", str(tmp_path / "o.xyz")],
         f"{tmp_path / 'o.xyz'}: not an image file name (extension: '.xyz')"),
        (["fuse", str(a), str(b), "-o", str(tmp_path / "fused")],
         f"{tmp_path / 'fused'}: not an image file name (extension: none)"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2, argv
        assert needle in capsys.readouterr().err, argv
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written


def test_fuse_dataset_luma_in_parallel(sample: Path, tmp_path: Path) -> None:
    run = fuse_dataset(["laplacian", "max"], sample, "CT-MRI", tmp_path, jobs=2, luma=True,
                       progress=False)
    assert (run.written, run.skipped) == (2, 0)
    y = read_image(tmp_path / "laplacian" / "CT-MRI" / "16011.png")
    a = read_image(sample / "CT-MRI" / "MRI" / "16011.png")
    b = read_image(sample / "CT-MRI" / "CT" / "16011.png")
    np.testing.assert_array_equal(luma8(y), luma8(get_method("laplacian")(a, b)))


def _darker_max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.5 * b)


def _brighter_max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(a, b)


def test_fuse_dataset_runs_functions_by_name(sample: Path, tmp_path: Path) -> None:
    # A user's own function, in worker processes: they receive it, not a registry name.
    run = fuse_dataset({"mine": _darker_max}, sample, "CT-MRI", tmp_path, jobs=2, luma=True,
                       progress=False)
    assert run.written == 1
    a = read_image(sample / "CT-MRI/MRI/16011.png")
    b = read_image(sample / "CT-MRI/CT/16011.png")
    np.testing.assert_array_equal(luma8(read_image(tmp_path / "mine/CT-MRI/16011.png")),
                                  luma8(_darker_max(a, b)))
    with pytest.raises(ConfigError, match="lambda: this fusion function cannot be sent"):
        fuse_dataset({"lambda": lambda a, b: a}, sample, "CT-MRI", tmp_path / "x", jobs=2,
                     progress=False)
    assert not (tmp_path / "x").exists()
    # Another function under the same name (an edited method) does not adopt the old outputs.
    with pytest.raises(InputError, match=r"model '.*_darker_max \(code [0-9a-f]{12}\)' → "
                                         r"'.*_brighter_max \(code"):
        fuse_dataset({"mine": _brighter_max}, sample, "CT-MRI", tmp_path, luma=True,
                     progress=False)
    # A registered name may stand for the function too.
    assert fuse_dataset({"gff-copy": "gff"}, sample, "CT-MRI", tmp_path, progress=False).written


def test_a_method_name_alone_is_not_read_letter_by_letter(sample: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"methods: a list of names, e.g. \['gff'\]"):
        fuse_dataset("gff", sample, "CT-MRI", tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_a_built_in_method_edited_since_does_not_adopt_the_old_outputs(
        sample: Path, tmp_path: Path, monkeypatch) -> None:
    from lwnet.methods import registry

    assert fuse_dataset(["mean"], sample, "CT-MRI", tmp_path, progress=False).written == 1
    assert fuse_dataset(["mean"], sample, "CT-MRI", tmp_path, progress=False).written == 0
    monkeypatch.setattr(registry, "builtin_code_digest", lambda: "edited-code")
    with pytest.raises(InputError, match=r"other settings \(model '.*' → 'lwnet built-in "
                                         r"methods \(code edited-code\)'\)"):
        fuse_dataset(["mean"], sample, "CT-MRI", tmp_path, progress=False)


def test_dataset_mode_argument_errors(sample: Path, tmp_path: Path, capsys, sample_pair) -> None:
    assert main(["fuse", "-m", "mean", "--root", str(sample), "--out", str(tmp_path)]) == 2
    assert "--pair" in capsys.readouterr().err
    assert main(["fuse", "-m", "mean", "--root", str(sample), "--pair", "SPECT-MRI",
                 "--split", "test", "--out", str(tmp_path)]) == 2
    assert "split" in capsys.readouterr().err
    a, b = sample_pair("PET-MRI")
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(tmp_path / "o.png"),
                 "--luma"]) == 2
    assert "--luma: for folders or a dataset, not a single pair" in capsys.readouterr().err
    assert main(["fuse", "-m", "mean", "--root", str(sample), "--pair", "SPECT-MRI",
                 "--out", str(tmp_path), "--luma-out", "x.png"]) == 2
    assert "--luma-out" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "said"), [
    (["fuse", "a.png", "b.png", "-o", "f.png", "--batch-size", "0"],
     "argument --batch-size: must be at least 1, not 0"),
    (["fuse", "a.png", "b.png", "-o", "f.png", "-j", "two"],
     "argument --jobs/-j: not a whole number: 'two'"),
    (["fuse-volume", "a.nii", "b.nii", "-o", "f.nii", "--threads", "-1"],
     "argument --threads: must be at least 0, not -1"),
    (["benchmark", "--data", "d", "--out", "r", "--grid-pairs", "-2"],
     "argument --grid-pairs: must be at least 0, not -2"),
    (["profile", "--repeats", "0"], "argument --repeats: must be at least 1, not 0"),
])
def test_count_options_are_named_in_their_errors(argv: list[str], said: str, capsys) -> None:
    # The user typed the option, so the error names it (not the API's batch_size), before
    # any file is read.
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and said in capsys.readouterr().err


@pytest.mark.parametrize(("extra", "said"), [
    (["--method", "gff", "--weights", "w.safetensors"], "--method runs a classical method"),
    (["--method", "gff", "--backend", "onnx"], "--method runs a classical method"),
    (["--method", "gff", "--device", "cuda"], "--method runs a classical method"),
    (["--method", "gff", "--threads", "2"], "no weights, ONNX graph, backend, device or threads"),
    (["--backend", "onnx", "--weights", "w.safetensors"], "runs the graph given by --onnx"),
    (["--backend", "onnx"], "--backend onnx needs --onnx PATH"),
    (["--onnx", "w.onnx", "--backend", "torch"], "drop --backend torch"),
    (["--onnx", "w.onnx", "--weights", "w.safetensors"], "runs the graph given by --onnx"),
    (["--onnx", "w.onnx", "--device", "cuda"], "runs on the CPU here"),
    (["--cmap", "hot"], "give --colour-dir too"),
    (["--window", "1", "99", "--no-window"], "--window has no window to apply to"),
    (["--no-keep-zero", "--no-window"], "--no-keep-zero has no window to apply to"),
])
def test_conflicting_options_are_refused_before_reading(
        extra: list[str], said: str, tmp_path: Path, capsys) -> None:
    # The volumes do not exist: the options are judged first, and nothing is written.
    out = tmp_path / "f.nii"
    assert main(["fuse-volume", "a.nii", "b.nii", "-o", str(out), *extra]) == 2
    assert said in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("argv", [["fuse", "--list-methods"]])
def test_list_methods(argv: list[str], capsys, monkeypatch) -> None:
    from lwnet.methods import register_method, registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    def mine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """My rule: the brighter source, dimmed.

        More words that stay out of the list."""
        return 0.9 * np.maximum(a, b)

    register_method("mine", mine)
    assert main(argv) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "Guided-filtering fusion, GFF (Li, Kang, Hu" in lines["gff"]  # its paper
    assert lines["mine"].endswith("My rule: the brighter source, dimmed.")


def test_fused_files_record_what_made_them_and_never_the_input_names(sample_pair, sample: Path,
                                                                   tmp_path: Path) -> None:
    """PNG text of every fused file: the software, the method or the shipped weights with the
    digest of their bytes, what the image shows; not the inputs' names (they may name a
    patient)."""
    import hashlib

    from PIL import Image

    import lwnet

    a, b = sample_pair("SPECT-MRI")
    out, luma_out = tmp_path / "f.png", tmp_path / "y.png"
    assert main(["fuse", str(a), str(b), "-o", str(out), "--luma-out", str(luma_out)]) == 0
    weights = shipped_weights("SPECT-MRI")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    text = Image.open(out).text
    assert text["Software"] == f"lwnet {lwnet.__version__}"
    assert text["Source"] == f"lwnet {weights.name} (sha256 {digest})"
    assert "colour" in text["Description"] and "colour" not in Image.open(luma_out).text[
        "Description"]
    assert not any(a.stem in v or b.stem in v for v in text.values())
    # Folder and dataset modes record the method in each file as in the folder's record.
    assert main(["fuse", "-m", "gff", "--root", str(sample), "--pair", "CT-MRI", "--out",
                 str(tmp_path / "out"), "--quiet"]) == 0
    fused = next((tmp_path / "out/gff/CT-MRI").glob("*.png"))
    assert Image.open(fused).text["Source"] == "gff"


@pytest.mark.parametrize("terminal", [False, True])
def test_fuse_and_evaluate_draw_bars_on_a_terminal_only(sample, tmp_path, stderr_to,
                                                        terminal) -> None:
    err = stderr_to(terminal)
    out = tmp_path / "out"
    assert main(["fuse", "-m", "mean", "--root", str(sample), "--pair", "CT-MRI",
                 "--out", str(out)]) == 0
    assert main(["evaluate", "--root", str(sample), "--pair", "CT-MRI", "--split", "",
                 f"mean={out / 'mean'}", "--out", str(tmp_path / "eval")]) == 0
    text = err.getvalue()
    # A bar redraws itself with carriage returns, which a log file would keep, every one.
    assert ("\r" in text) == terminal
    assert ("pair/s" in text) == terminal


def test_a_single_pair_writes_both_outputs_or_neither(sample_pair, tmp_path, capsys,
                                                       monkeypatch, unwritable) -> None:
    import lwnet.inference.dataset as dataset_module

    a, b = sample_pair("PET-MRI")
    (tmp_path / "ro").mkdir()
    unwritable("ro")
    argv = ["fuse", "-m", "mean", str(a), str(b), "-o", str(tmp_path / "out" / "f.png")]
    assert main([*argv, "--luma-out", str(tmp_path / "ro" / "y.png")]) == 2
    assert "ro: cannot write here (Permission denied)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro"]
    # The second write failing all the same (a full disk, say): the first is taken back.
    write, calls = dataset_module.atomic_write_bytes, []

    def second_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise InputError("y.png: no space left on device")
        return write(*args, **kwargs)

    monkeypatch.setattr(dataset_module, "atomic_write_bytes", second_fails)
    assert main([*argv, "--luma-out", str(tmp_path / "out" / "y.png")]) == 2
    assert len(calls) == 2 and not (tmp_path / "out" / "f.png").exists()


def _png_bit_depth(path: Path) -> int:
    """The bit depth in a PNG's IHDR (signature 8 bytes, length and type 8, width and height
    8: byte 24), as every Pillow version writes it; Pillow's read mode for it varies."""
    return path.read_bytes()[24]


def test_greyscale_results_in_16_bits(sample, sample_pair, tmp_path, capsys) -> None:
    from PIL import Image

    a, b = sample_pair("CT-MRI")
    out, luma = tmp_path / "ct.png", tmp_path / "ct-y.tif"
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(out), "--luma-out", str(luma),
                 "--bits", "16"]) == 0
    expected, _ = fuse_in_luma(get_method("mean"), read_image(a), read_image(b))
    for path in (out, luma):  # 16 bits' precision (8 bits would be off by up to 0.5/255)
        np.testing.assert_allclose(read_image(path), expected, atol=0.5 / 65535 + 1e-7)
    assert _png_bit_depth(out) == 16
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(tmp_path / "c.jpg"),
                 "--bits", "16"]) == 2
    assert "c.jpg: 16-bit output needs a .png or .tif file" in capsys.readouterr().err
    # A colour result stays 8-bit beside a 16-bit luminance.
    pa, pb = sample_pair("PET-MRI")
    assert main(["fuse", "-m", "mean", str(pa), str(pb), "-o", str(tmp_path / "pet.png"),
                 "--luma-out", str(tmp_path / "pet-y.png"), "--bits", "16"]) == 0
    assert Image.open(tmp_path / "pet.png").mode == "RGB"
    assert _png_bit_depth(tmp_path / "pet-y.png") == 16
    # A folder of 16-bit results is not resumed at 8 bits, nor the other way round.
    dataset = ["fuse", "-m", "mean", "--root", str(sample), "--pair", "CT-MRI", "--luma", "-q",
               "--out", str(tmp_path / "ds")]
    assert main([*dataset, "--bits", "16"]) == 0
    assert _png_bit_depth(tmp_path / "ds/mean/CT-MRI/16011.png") == 16
    assert main(dataset) == 2
    assert "holds outputs made with other settings (bits" in capsys.readouterr().err
