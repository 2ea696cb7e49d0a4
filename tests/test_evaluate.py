"""lwnet.evaluation: tables, folder evaluation, and the `metrics` / `evaluate` CLI on good and
bad input."""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lwnet.cli import main
from lwnet.data import fuse_in_luma, harvard_pairs, read_image, write_image
from lwnet.errors import ConfigError, InputError
from lwnet.evaluation import (
    best_two,
    evaluate_folders,
    paired_difference,
    paired_rows,
    result_files,
    rows_to_csv,
    summarise,
    to_csv,
    to_latex,
    to_markdown,
)
from lwnet.methods import register_method, registry
from lwnet.metrics import EXTRA_NAMES, METRIC_NAMES, compute_metrics

PAIR = "SPECT-MRI"


def _mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a + b) / 2


def _max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(a, b)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A Harvard-layout root with four 96×96 SPECT-MRI pairs (colour SPECT) and a test split."""
    root = tmp_path_factory.mktemp("harvard")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:96, :96]
    body = ((yy - 48) ** 2 + (xx - 48) ** 2) < 40**2
    for k, pid in enumerate(["101", "102", "103", "104"]):
        mri = np.where(body, 0.3 + 0.4 * np.sin(xx / (4 + k)) ** 2, 0.0)
        mri = np.clip(mri + 0.05 * rng.random(mri.shape) * body, 0, 1)
        spect = np.zeros((96, 96, 3))
        spect[..., 0] = np.where(body, np.exp(-((yy - 40 - k) ** 2 + (xx - 50) ** 2) / 300), 0)
        spect[..., 1] = spect[..., 0] * 0.5
        write_image(root / PAIR / "MRI" / f"{pid}.png", mri)
        write_image(root / PAIR / "SPECT" / f"{pid}.png", spect)
    (root / "splits").mkdir()
    (root / "splits" / f"{PAIR}_test.txt").write_text("101.png\n103.png\n104.png\n")
    return root


def _write_results(dataset: Path, folder: Path, fn, nested: bool, skip: set[str] = frozenset(),
                   luma: bool = False):
    for pair in harvard_pairs(dataset, PAIR):
        if pair.id in skip:
            continue
        result, fused_luma = fuse_in_luma(fn, read_image(pair.a), read_image(pair.b))
        target = folder / PAIR if nested else folder
        write_image(target / f"{pair.id}.png", fused_luma if luma else result)
    return folder


@pytest.fixture(scope="module")
def results(dataset, tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("results")
    return {
        "mean": _write_results(dataset, base / "mean", _mean, nested=False),
        "max": _write_results(dataset, base / "max", _max, nested=True),
    }


# --- tables -----------------------------------------------------------------------------------

def test_best_two_ties_and_nan():
    assert best_two([0.1, 0.5, 0.3]) == [0, 1, 2]
    assert best_two([0.5, 0.5, 0.3, 0.2]) == [1, 1, 2, 0]
    assert best_two([math.nan, 2.0, 1.0, math.inf]) == [0, 2, 0, 1]


def _rows():
    return [
        {"method": "x", "pair_type": PAIR, "id": "1", "VIF": 0.2, "PSNR": 30.0},
        {"method": "y", "pair_type": PAIR, "id": "1", "VIF": 0.4, "PSNR": 10.0},
        {"method": "x", "pair_type": PAIR, "id": "2", "VIF": 0.4, "PSNR": 32.0},
        {"method": "y", "pair_type": PAIR, "id": "2", "VIF": 0.8, "PSNR": 14.0},
        {"method": "z", "pair_type": PAIR, "id": "1", "VIF": 0.1, "PSNR": 20.0},
        {"method": "z", "pair_type": PAIR, "id": "2", "VIF": 0.1, "PSNR": 20.0},
    ]


def test_summarise_means_stds_and_writers():
    table = summarise(_rows(), ("VIF", "PSNR"))
    assert table.methods == ("x", "y", "z") and table.count == (2, 2, 2)
    np.testing.assert_allclose(table.mean, [[0.3, 31.0], [0.6, 12.0], [0.1, 20.0]])
    np.testing.assert_allclose(table.std, [[0.1, 1.0], [0.2, 2.0], [0.0, 0.0]])
    md = to_markdown(table, digits=2).splitlines()
    assert md[0] == "| method | n | VIF | PSNR |"
    assert md[2] == "| x | 2 | *0.30 ± 0.10* | **31.00 ± 1.00** |"
    assert md[3] == "| y | 2 | **0.60 ± 0.20** | 12.00 ± 2.00 |"
    assert md[4] == "| z | 2 | 0.10 ± 0.00 | *20.00 ± 0.00* |"
    parsed = list(csv.DictReader(io.StringIO(to_csv(table))))
    assert [r["VIF_rank"] for r in parsed] == ["2", "1", ""]
    assert float(parsed[0]["PSNR_mean"]) == 31.0 and parsed[2]["PSNR_rank"] == "2"
    tex = to_latex(table, digits=2, caption="SPECT_MRI & co")
    assert r"\textbf{0.60 $\pm$ 0.20}" in tex and r"\underline{20.00 $\pm$ 0.00}" in tex
    assert r"SPECT\_MRI \& co" in tex and tex.count(r"\\") == 4
    tex = to_latex(table, caption=r"a\b~c^{d}")  # every special character, each escaped once
    assert r"a\textbackslash{}b\textasciitilde{}c\textasciicircum{}\{d\}" in tex
    # The caption says what the marks mean, in the cells' notation; a label to cite it by.
    tex = to_latex(table, caption="x: mean ± std", label="tab:x_1 {y}")
    assert r"\caption{x: mean $\pm$ std. Best in bold, second best underlined.}" in tex
    assert r"\label{tab:x_1--y-}" in tex and "±" not in tex
    # One image: no spread to show; one method: nothing to mark.
    one = summarise([r for r in _rows() if r["id"] == "1"], ("VIF",))
    assert to_markdown(one, 2).splitlines()[2:] == [
        "| x | 1 | *0.20* |", "| y | 1 | **0.40** |", "| z | 1 | 0.10 |"]
    alone = summarise([r for r in _rows() if r["method"] == "x"], ("VIF",))
    assert to_markdown(alone, 2).splitlines()[2] == "| x | 2 | 0.30 ± 0.10 |"
    # PSNR is infinite where F equals both sources: the mean is inf, with no spread to show.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "invalid value" of inf - inf included
        same = summarise([{"method": "f", "PSNR": math.inf}, {"method": "f", "PSNR": 30.0},
                          {"method": "g", "PSNR": 20.0}, {"method": "g", "PSNR": 22.0}],
                         ("PSNR",))
    assert to_markdown(same, 2).splitlines()[2:] == ["| f | 2 | **inf** |",
                                                     "| g | 2 | *21.00 ± 1.00* |"]
    with pytest.raises(ValueError, match="no metric 'vif' in the rows \\(they hold"):
        summarise(_rows(), ("vif",))
    per_image = list(csv.DictReader(io.StringIO(rows_to_csv(_rows(), ("VIF", "PSNR")))))
    assert len(per_image) == 6 and per_image[1] == {
        "method": "y", "pair_type": PAIR, "id": "1", "VIF": "0.4", "PSNR": "10.0"}


# --- evaluate_folders -------------------------------------------------------------------------

def test_evaluate_folders_matches_direct_metrics(dataset, results):
    pairs = harvard_pairs(dataset, PAIR, "test")
    rows = evaluate_folders(pairs, results, progress=False)
    assert [(r["method"], r["id"]) for r in rows] == [
        (m, i) for m in ("mean", "max") for i in ("101", "103", "104")]
    for row in rows:
        pair = next(p for p in pairs if p.id == row["id"])
        folder = results[row["method"]]
        f_path = folder / PAIR / f"{pair.id}.png" if row["method"] == "max" else \
            folder / f"{pair.id}.png"
        expected = compute_metrics(read_image(pair.a), read_image(pair.b), read_image(f_path))
        assert {k: row[k] for k in expected} == expected


@pytest.mark.slow  # two spawned workers import torch
def test_evaluate_folders_parallel_equals_serial(dataset, results):
    pairs = harvard_pairs(dataset, PAIR)
    serial = evaluate_folders(pairs, results, jobs=1, progress=False)
    parallel = evaluate_folders(pairs, results, jobs=2, progress=False)
    assert parallel == serial


def test_missing_ids_name_folder_and_ids(dataset, tmp_path):
    folder = _write_results(dataset, tmp_path / "partial", _mean, nested=False,
                            skip={"102", "104"})
    ids = [p.id for p in harvard_pairs(dataset, PAIR)]
    with pytest.raises(InputError, match=r"partial: missing 2 of 4 results \(first: 102, 104\)"):
        result_files(folder, PAIR, ids)
    # The test split only needs 101, 103, 104.
    with pytest.raises(InputError, match="first: 104"):
        evaluate_folders(harvard_pairs(dataset, PAIR, "test"), {"p": folder}, progress=False)


# --- CLI --------------------------------------------------------------------------------------

def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_metrics_json(dataset, results, capsys):
    a, b = dataset / PAIR / "MRI" / "101.png", dataset / PAIR / "SPECT" / "101.png"
    f = results["mean"] / "101.png"
    code, out, _ = _cli(capsys, "metrics", a, b, f, "--json")
    assert code == 0
    scores = json.loads(out)
    assert list(scores) == list(METRIC_NAMES + EXTRA_NAMES)
    assert scores == pytest.approx(compute_metrics(read_image(a), read_image(b), read_image(f)))
    code, out, _ = _cli(capsys, "metrics", a, b, f, "--json", "--reduction", "sum")
    assert json.loads(out)["SSIM"] == pytest.approx(2 * scores["SSIM"])
    code, out, _ = _cli(capsys, "metrics", a, a, a, "--json")
    assert json.loads(out)["PSNR"] is None  # infinite PSNR stays valid JSON


def test_cli_evaluate_writes_tables_and_refuses_overwrite(dataset, results, tmp_path, capsys):
    out_dir = tmp_path / "eval"
    argv = ["evaluate", "--root", dataset, "--pair", PAIR, "--split", "test",
            f"mean={results['mean']}", "--method", f"max={results['max']}", "--out", out_dir,
            "--quiet"]
    code, out, _ = _cli(capsys, *argv)
    assert code == 0 and "| mean | 3 |" in out
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["per_image.csv", "summary.csv", "summary.md", "summary.tex"]
    convention = ("3 pairs; VIF: VIFF; two-source scores: MI summed over A and B, "
                  "UQI and SSIM averaged")
    assert convention in (out_dir / "summary.md").read_text().splitlines()[0]
    legend = "Best in **bold**, second best in *italics*; every metric is higher-is-better."
    assert (out_dir / "summary.md").read_text().splitlines()[-1] == legend and legend in out
    assert convention in (out_dir / "summary.tex").read_text()
    per_image = list(csv.DictReader((out_dir / "per_image.csv").open()))
    assert len(per_image) == 6 and set(METRIC_NAMES + EXTRA_NAMES) <= set(per_image[0])
    before = {n: (out_dir / n).read_bytes() for n in names}
    code, _, err = _cli(capsys, *argv)
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1
    assert {n: (out_dir / n).read_bytes() for n in names} == before
    code, _, _ = _cli(capsys, *argv, "--overwrite", "--reduction", "sum", "--vif", "vifp")
    assert code == 0
    assert ("VIF: VIFP; two-source scores: MI, UQI, SSIM, VIFP: sum over A and B"
            in (out_dir / "summary.md").read_text())


def test_cli_evaluate_notes_colour_results(dataset, tmp_path, capsys):
    """A folder of colour results is scored on their RGB luma, unlike every other row: said."""
    colour, grey = tmp_path / "colour", tmp_path / "grey"
    for pair in harvard_pairs(dataset, PAIR, "test"):
        write_image(colour / f"{pair.id}.png", read_image(pair.b))
        write_image(grey / f"{pair.id}.png", read_image(pair.a))
    code, _, err = _cli(capsys, "evaluate", "--root", dataset, "--pair", PAIR, "--split", "test",
                        f"C={colour}", f"Y={grey}", "G=builtin:gff", "--quiet",
                        "--out", tmp_path / "eval")
    assert code == 0 and err.startswith("note: C: colour images"), err


def test_cli_evaluate_paired(dataset, results, tmp_path, capsys):
    out_dir = tmp_path / "eval"
    base = ["evaluate", "--root", dataset, "--pair", PAIR, "--split", "test",
            f"mean={results['mean']}", f"max={results['max']}", "--out", out_dir, "--quiet"]
    code, out, _ = _cli(capsys, *base, "--paired", "max")
    assert code == 0 and "| max minus | VIF |" in out and "paired.md" in out
    table = (out_dir / "paired.md").read_text()
    per_image = list(csv.DictReader((out_dir / "per_image.csv").open()))
    a, b = paired_rows(per_image, "max", "mean", "PSNR")
    mean, se = paired_difference(a, b)
    assert table.startswith(f"{PAIR} (test split), 3 pairs; VIF: VIFF")  # its convention
    assert f"{mean:+.4f} ± {se:.4f}" in table.splitlines()[4]
    refused = tmp_path / "refused"
    argv = [refused if arg == out_dir else arg for arg in base] + ["--paired", "gff"]
    _assert_clean_failure(capsys, argv, "--paired gff", refused)


def _assert_clean_failure(capsys, argv, needle: str, out_dir: Path | None = None):
    code, _, err = _cli(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err
    if out_dir is not None:
        assert not out_dir.exists()


@pytest.mark.parametrize("kind", ["truncated", "text", "tiny", "size", "small_for_vif",
                                  "colour_a"])
def test_cli_metrics_bad_input(dataset, tmp_path, capsys, kind):
    a, b = dataset / PAIR / "MRI" / "101.png", dataset / PAIR / "SPECT" / "101.png"
    bad = tmp_path / "bad.png"
    if kind == "colour_a":  # F A B: a colour image where the MRI goes, as fusing refuses it
        _assert_clean_failure(capsys, ["metrics", b, a, a], "a colour image as A")
        return
    if kind == "truncated":
        bad.write_bytes(a.read_bytes()[:200])
    elif kind == "text":
        bad.write_text("not an image\n")
    elif kind == "tiny":
        Image.fromarray(np.zeros((1, 1), np.uint8)).save(bad)
    elif kind == "size":
        Image.fromarray(np.zeros((96, 97), np.uint8)).save(bad)
    else:
        small = tmp_path / "small_a.png"
        Image.fromarray(np.zeros((64, 64), np.uint8)).save(small)
        Image.fromarray(np.zeros((64, 64), np.uint8)).save(bad)
        _assert_clean_failure(capsys, ["metrics", small, bad, bad], "small_a.png")
        return
    _assert_clean_failure(capsys, ["metrics", a, b, bad], str(bad))


@pytest.mark.parametrize("kind", ["truncated", "text", "tiny", "size", "empty", "missing"])
def test_cli_evaluate_bad_input(dataset, results, tmp_path, capsys, kind):
    folder = tmp_path / "res"
    folder.mkdir()
    pairs = harvard_pairs(dataset, PAIR, "test")
    for p in pairs:
        (folder / f"{p.id}.png").write_bytes((results["mean"] / f"{p.id}.png").read_bytes())
    bad = folder / "103.png"
    needle = str(bad)
    if kind == "truncated":
        bad.write_bytes(bad.read_bytes()[:300])
    elif kind == "text":
        bad.write_text("hello\n")
    elif kind == "tiny":
        Image.fromarray(np.zeros((1, 1), np.uint8)).save(bad)
    elif kind == "size":
        Image.fromarray(np.zeros((80, 96), np.uint8)).save(bad)
    elif kind == "empty":
        for p in folder.iterdir():
            p.unlink()
        needle = f"{folder}: result folder holds no images"
    else:
        bad.unlink()
        needle = f"{folder}: missing 1 of 3 results (first: 103)"
    out_dir = tmp_path / "out"
    argv = ["evaluate", "--root", dataset, "--pair", PAIR, "--split", "test",
            f"res={folder}", "--out", out_dir, "--quiet"]
    _assert_clean_failure(capsys, argv, needle, out_dir)


def test_methods_run_on_the_fly(dataset, tmp_path, monkeypatch):
    # A method registered at run time, as a user would (kept out of the process-wide registry
    # that other tests enumerate).
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_method("my-mean", _mean)
    pairs = harvard_pairs(dataset, PAIR, "test")
    saved_luma = _write_results(dataset, tmp_path / "mean", _mean, nested=False, luma=True)
    rows = evaluate_folders(pairs, {"saved": saved_luma, "live": "builtin:my-mean",
                                    "function": _mean}, progress=False)
    saved = [{**r, "method": None} for r in rows if r["method"] == "saved"]
    # A method is scored on its fused luminance exactly as if saved to PNG with
    # `lwnet fuse --luma`, so every route agrees to the bit.
    for route in ("live", "function"):
        assert [{**r, "method": None} for r in rows if r["method"] == route] == saved
    # Worker processes receive the function itself, so a method registered at run time works
    # in parallel too (they never see this process's registry).
    parallel = evaluate_folders(pairs, {"live": "builtin:my-mean"}, jobs=2, progress=False)
    assert [{**r, "method": None} for r in parallel] == saved
    with pytest.raises(ConfigError, match="unknown built-in method 'nope'; known: .*my-mean"):
        evaluate_folders(pairs, {"x": "builtin:nope"}, progress=False)
    with pytest.raises(ConfigError, match="lambda: this fusion function cannot be sent"):
        evaluate_folders(pairs, {"lambda": lambda a, b: a}, jobs=2, progress=False)


@pytest.mark.parametrize(("argv", "said"), [
    (["evaluate", "--pair", "CT-MRI", "--out", "o", "GFF"],
     "argument NAME=DIR: expected NAME=DIR or NAME=builtin:METHOD, not 'GFF'"),
    (["evaluate", "--pair", "CT-MRI", "--out", "o", "-m", "=dir"],
     "argument --method/-m: expected NAME=DIR or NAME=builtin:METHOD, not '=dir'"),
    (["benchmark", "--data", "d", "--out", "o", "--spi-log", "LWNet="],
     "argument --spi-log: expected NAME=CSV, not 'LWNet='")])
def test_name_value_arguments_need_both_halves(argv: list[str], said: str,
                                               capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and said in capsys.readouterr().err


def test_cli_evaluate_writes_into_no_input_folder(dataset, results, tmp_path, capsys):
    for out in (results["mean"] / "eval", dataset / "eval"):
        code, _, err = _cli(capsys, "evaluate", "--root", dataset, "--pair", PAIR, "--quiet",
                            f"mean={results['mean']}", "--out", out)
        assert code == 2 and "inside the input folder" in err and not out.exists()


def test_cli_evaluate_without_a_split_says_it_takes_every_pair(dataset, results, tmp_path,
                                                              capsys):
    _, _, err = _cli(capsys, "evaluate", "--root", dataset, "--pair", PAIR, "--quiet",
                     f"mean={results['mean']}", "--out", tmp_path / "e")
    assert ("note: no --split, so all 4 pairs of SPECT-MRI are evaluated; --split test takes "
            "the test ids only") in err
