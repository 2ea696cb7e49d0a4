"""``lwnet benchmark`` end to end on a tiny Harvard-layout dataset built from the shipped sample."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from lwnet._code import code_digest
from lwnet.cli import main
from lwnet.data.datasets import harvard_pairs, pair_types
from lwnet.data.io import read_image, write_image
from lwnet.errors import OutputExistsError
from lwnet.inference import save_weights
from lwnet.methods import builtin_code_digest, register_method, registry
from lwnet.model import LWNet
from lwnet.reports import results as results_module
from lwnet.reports import rows as rows_module
from lwnet.reports.benchmark import (
    BenchmarkConfig,
    PairResult,
    ReportWriter,
    grid_ids,
    run_benchmark,
    write_metric_tables,
)
from lwnet.reports.rows import NETWORK_CODE
from lwnet.reports.spi_log import default_spi_logs, read_spi_log
from test_reports import check_page_in_chromium


def test_tables_mark_best_and_second(tmp_path: Path) -> None:
    # Hand-made: per metric, which method is best / second is known by construction.
    metrics = ("VIF", "MI", "UQI", "SSIM", "PSNR", "Qcb")
    means = {"a": [0.9, 1.0, 0.5, 0.2, 30.0, 0.1],
             "b": [0.5, 3.0, 0.7, 0.4, 20.0, 0.3],
             "c": [0.7, 2.0, 0.6, 0.3, 10.0, 0.2]}
    res = PairResult("CT-MRI", ["1", "2"])
    for m, vals in means.items():  # two images: mean ± 0.01, so the means are as above
        res.scores[m] = {k: [v - 0.01, v + 0.01] for k, v in zip(metrics, vals)}
    header, cells, marks = write_metric_tables(res, ReportWriter(tmp_path), "tables/x", metrics)
    assert header == ["method", "n", *metrics]
    col = {k: j + 2 for j, k in enumerate(metrics)}
    row = {"a": 0, "b": 1, "c": 2}
    expected = {"VIF": ("a", "c"), "MI": ("b", "c"), "UQI": ("b", "c"), "SSIM": ("b", "c"),
                "PSNR": ("a", "b"), "Qcb": ("b", "c")}
    want = {}
    for k, (best, second) in expected.items():
        want[(row[best], col[k])] = "best"
        want[(row[second], col[k])] = "second"
    assert marks == want
    assert cells[0][col["PSNR"]] == "30.0000 ± 0.0100"
    md = (tmp_path / "tables/x.md").read_text()
    assert "**30.0000 ± 0.0100**" in md and "*20.0000 ± 0.0100*" in md
    tex = (tmp_path / "tables/x.tex").read_text()
    assert r"\textbf{0.9000 $\pm$ 0.0100}" in tex and r"\underline{0.7000 $\pm$ 0.0100}" in tex
    assert (tmp_path / "tables/x.csv").read_text().startswith("method,n,VIF_mean")
    # One method on one image: nothing to beat and no spread, in the HTML as in the files.
    one = PairResult("CT-MRI", ["1"], {"a": {k: [v] for k, v in zip(metrics, means["a"])}})
    _, cells, marks = write_metric_tables(one, ReportWriter(tmp_path), "tables/one", metrics)
    assert marks == {} and cells[0][col["PSNR"]] == "30.0000"
    assert "| a | 1 | 0.9000 |" in (tmp_path / "tables/one.md").read_text()


def test_grid_ids_spread() -> None:
    ids = [str(i) for i in range(10)]
    assert grid_ids(ids, 2) == ["3", "6"]
    assert grid_ids(ids, 0) == [] and grid_ids(["7"], 3) == ["7"]


def _fail(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    raise RuntimeError("deliberate failure")


@pytest.fixture()
def tiny_data(tmp_path: Path, sample: Path) -> Path:
    """The sample pairs as a data root with test splits and one external method folder."""
    root = tmp_path / "data"
    shutil.copytree(sample, root / "harvard", ignore=shutil.ignore_patterns("*.md"))
    (root / "harvard" / "splits").mkdir()
    for pt in pair_types(root / "harvard"):
        pairs = harvard_pairs(root / "harvard", pt)
        (root / "harvard" / "splits" / f"{pt}_test.txt").write_text(
            "".join(f"{p.id}.png\n" for p in pairs))
        for p in pairs:  # an "external" method: the MRI itself, as fused luma
            write_image(root / "external" / "CopyMRI" / pt / f"{p.id}.png", read_image(p.a))
    # A method with CT-MRI results only, and those corrupt.
    broken = root / "external" / "Broken" / "CT-MRI"
    broken.mkdir(parents=True)
    for p in harvard_pairs(root / "harvard", "CT-MRI"):
        (broken / f"{p.id}.png").write_bytes(b"not a png")
    return root


def _expected_files(pts: list[str]) -> list[str]:
    files = ["index.html", "complexity.md", "complexity.csv", "figures/spi_curves.png",
             "figures/spi_curves.pdf"]
    for pt in pts:
        files += [f"tables/{pt}.{ext}" for ext in ("md", "csv", "tex")]
        files += [f"tables/{pt}_extras.{ext}" for ext in ("md", "csv", "tex")]
        files += [f"scores/{pt}.csv"]
        files += [f"figures/{kind}_{pt}.{ext}" for kind in ("boxplots", "radar", "grid")
                  for ext in ("png", "pdf")]
    return files


@pytest.mark.slow
def test_benchmark_end_to_end(tiny_data: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    # A failing method, registered as a user would: kept out of the process-wide registry
    # that other tests enumerate.
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_method("always-fails", _fail, replace=True)
    spi = tmp_path / "log.csv"
    spi.write_text("iteration,L,P,admitted,refined,label_gain,loss\n"
                   "1,100,0,0,0,0.0,0.3\n2,100,20,20,0,0.01,0.2\n3,100,30,10,5,0.02,0.1\n")
    weights = tmp_path / "weights"  # untrained CT-MRI model and ablation: only CT-MRI gets them
    torch.manual_seed(0)
    save_weights(weights / "ct-mri.safetensors", LWNet(width=4), "untrained, for tests")
    save_weights(weights / "ct-mri-no-mca.safetensors", LWNet(width=4, use_mca=False), "test")
    out = tmp_path / "report"
    cfg = BenchmarkConfig(
        data=tiny_data, out=out,  # method names in any case
        methods=["lwnet", "LWNet-no-mca", "mean", "MAX", "always-fails", "CopyMRI", "Broken"],
        pairs=["CT-MRI", "spect-mri"], weights=weights, spi_logs={"toy": spi},  # any case
        grid_pairs=1, latency_repeats=2, progress=False,
    )
    index = run_benchmark(cfg)
    pts = ["CT-MRI", "SPECT-MRI"]
    for rel in _expected_files(pts):
        assert (out / rel).is_file(), rel
    html = index.read_text()
    assert "always-fails on CT-MRI: RuntimeError: deliberate failure" in html
    assert "Broken on CT-MRI: InputError:" in html and "not a readable image" in html
    assert "Broken on SPECT-MRI" not in html  # no SPECT-MRI folder: not applicable, no failure
    assert "Whole Brain Atlas" in html and "xianming-gu" in html
    # What each row is: the classical methods by their paper, LWNet by its weights file.
    assert "Guided-filtering" not in html  # gff was not asked for
    assert "<td>max</td><td>Element-wise maximum" in html and "ct-mri-no-mca.safetensors" in html
    table = (out / "tables/CT-MRI.md").read_text()
    assert "| mean |" in table and "| CopyMRI |" in table and "always-fails" not in table
    assert "| LWNet |" in table and "| LWNet-no-mca |" in table
    assert "LWNet" not in (out / "tables/SPECT-MRI.md").read_text()
    paired = (out / "tables/CT-MRI_paired.md").read_text()  # one test pair: no spread to judge
    assert paired.startswith("| LWNet minus | VIF |") and "| mean | — |" in paired
    assert "LWNet minus each method" in html and not (out / "tables/SPECT-MRI_paired.md").exists()
    # The pixel mean maximises this PSNR by construction (SPEC §5): it must be marked best.
    with (out / "tables/CT-MRI.csv").open() as fh:
        ranks = {r["method"]: r["PSNR_rank"] for r in csv.DictReader(fh)}
    assert ranks["mean"] == "1"
    complexity = (out / "complexity.md").read_text()
    assert "| mean | — | — |" in complexity and "CopyMRI" not in complexity
    params = sum(p.numel() for p in LWNet(width=4).parameters())
    assert f"| LWNet (ct-mri) | {params:,} |" in complexity
    # Provenance: the weights by their own SHA-256, the test images and the metric code by the
    # digests their caches are keyed by, the software that ran.
    record = json.loads((out / "provenance.json").read_text())
    ct_cache = out / f"cache/CT-MRI@{record['data']['CT-MRI']['sha256']}"
    cached = ct_cache / f"mean@{builtin_code_digest()}/CT-MRI/16011.png"
    assert cached.is_file()
    digest = hashlib.sha256((weights / "ct-mri.safetensors").read_bytes()).hexdigest()
    assert record["weights"]["LWNet (ct-mri)"] == {"file": "ct-mri.safetensors",
                                                   "sha256": digest,
                                                   "card": ""}  # a bare card has no title
    assert {pt: d["pairs"] for pt, d in record["data"].items()} == {"CT-MRI": 1, "SPECT-MRI": 1}
    metrics_cache = ct_cache / f"metrics@{record['code']['metrics']}/CT-MRI"
    assert len(list(metrics_cache.glob(f"mean@{record['code']['built-in methods']}@*.csv"))) == 1
    assert record["software"]["torch"] == torch.__version__
    # External results by their folder and the digest of the files read (not Broken: failed).
    assert list(record["external"]) == ["CopyMRI"]
    assert re.fullmatch(re.escape(str(tiny_data / "external/CopyMRI"))
                        + r" \(sha256 [0-9a-f]{16} of 2 test results\)",
                        record["external"]["CopyMRI"])
    # LWNet's outputs are keyed by the weights and by the network's code.
    assert record["code"]["network"] == code_digest(NETWORK_CODE)
    assert (ct_cache / f"LWNet@{digest[:12]}-{code_digest(NETWORK_CODE)[:8]}").is_dir()
    assert "Provenance" in html and digest[:16] in html

    # A second run refuses to overwrite, and with --overwrite reuses the cached outputs.
    with pytest.raises(OutputExistsError):
        run_benchmark(cfg)
    before = cached.stat().st_mtime_ns
    cfg.overwrite = True
    cfg.methods, cfg.pairs = ["mean", "CopyMRI"], ["CT-MRI"]
    cfg.grid_ids = ["nosuch", "16011"]  # chosen ids: those of the pair type's test split
    (out / "figures/mine.pdf").write_bytes(b"a figure of the user's own")
    run_benchmark(cfg)
    assert cached.stat().st_mtime_ns == before
    assert "always-fails" not in index.read_text()
    # The grid's panels at their own resolution: the sources as read, the results in colour.
    panel = out / "figures/panels/CT-MRI/16011"
    np.testing.assert_array_equal(read_image(panel / "MRI.png"),
                                  read_image(tiny_data / "harvard/CT-MRI/MRI/16011.png"))
    assert read_image(panel / "mean.png").shape == (256, 256)
    # The report now holds CT-MRI only: the SPECT-MRI files of the first run are gone.
    assert not [p for p in out.rglob("*SPECT-MRI*") if "cache" not in p.parts]
    assert (out / "figures/mine.pdf").is_file()  # what the report did not write stays
    assert "index.html" in (out / ".lwnet-report-files").read_text().splitlines()
    assert (out / "tables/CT-MRI.md").is_file() and (out / "figures/grid_CT-MRI.png").is_file()
    # After an edit of the methods' code, their outputs are computed afresh.
    monkeypatch.setattr(rows_module, "builtin_code_digest", lambda: "edited")
    run_benchmark(cfg)
    assert (ct_cache / "mean@edited/CT-MRI/16011.png").is_file()
    # After an edit of the metric code, the per-image metrics are computed afresh.
    monkeypatch.setattr(results_module, "code_digest", lambda modules: "metrics-edited")
    run_benchmark(cfg)
    [store] = (ct_cache / "metrics@metrics-edited/CT-MRI").glob("mean@edited@*.csv")
    # External results replaced by other images with an older time stamp (a restored backup,
    # `cp -p`) are scored afresh, and the metrics of the replaced ones are dropped.
    def copy_mri_psnr() -> float:
        with (out / "scores/CT-MRI.csv").open() as fh:
            return next(float(r["PSNR"]) for r in csv.DictReader(fh) if r["method"] == "CopyMRI")

    before_psnr = copy_mri_psnr()
    result = tiny_data / "external/CopyMRI/CT-MRI/16011.png"
    write_image(result, 1.0 - read_image(result), overwrite=True)
    os.utime(result, (0, 0))
    run_benchmark(cfg)
    assert copy_mri_psnr() != before_psnr
    assert len(list(store.parent.glob("CopyMRI@*.csv"))) == 1
    # Other test images (an edited source) get a cache of their own: nothing of the old reused.
    source = tiny_data / "harvard/CT-MRI/CT/16011.png"
    write_image(source, 1.0 - read_image(source), overwrite=True)
    run_benchmark(cfg)
    record = json.loads((out / "provenance.json").read_text())
    new_cache = out / f"cache/CT-MRI@{record['data']['CT-MRI']['sha256']}"
    assert new_cache != ct_cache and (new_cache / "mean@edited/CT-MRI/16011.png").is_file()

    dom, shot = check_page_in_chromium(index, tmp_path)
    assert 'data-images="ok"' in dom
    n_images = 3 + 1  # box plots, radar, grid of CT-MRI; SPI curves
    assert f'data-image-count="{n_images}"' in dom
    assert shot.is_file()


def test_cli_bad_input(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(["benchmark", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")])
    assert rc == 2
    assert "nowhere/harvard: no such folder" in capsys.readouterr().err
    rc = main(["benchmark", "--data", str(tiny_data), "--out", str(tmp_path / "r"),
               "--methods", "nosuch"])
    assert rc == 2
    assert "unknown method(s) nosuch" in capsys.readouterr().err
    rc = main(["benchmark", "--data", str(tiny_data), "--out", str(tmp_path / "r"),
               "--grid-ids", "123", "456"])
    assert rc == 2
    assert "--grid-ids 123 456: none is a test id of CT-MRI, " in capsys.readouterr().err
    # Neither the report nor its cache goes into the data.
    for where in (["--out", str(tiny_data / "harvard" / "report")],
                  ["--out", str(tmp_path / "r"), "--cache", str(tiny_data / "cache")]):
        assert main(["benchmark", "--data", str(tiny_data), *where]) == 2
        assert "inside the input folder " + str(tiny_data) in capsys.readouterr().err
    assert not (tiny_data / "harvard" / "report").exists() and not (tiny_data / "cache").exists()
    # An SPI log asked for by name that cannot be drawn stops the run before any work.
    (tmp_path / "summary.csv").write_text("method,VIF\nmean,0.5\n")
    for log, said in [(tmp_path / "none.csv", "none.csv: cannot read the SPI log of mine (No "
                                               "such file or directory)"),
                      (tmp_path / "summary.csv", "summary.csv: not an SPI log (needs the "
                                                 "columns iteration, admitted")]:
        assert main(["benchmark", "--data", str(tiny_data), "--out", str(tmp_path / "r"),
                     "--spi-log", f"mine={log}"]) == 2
        assert said in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    shutil.rmtree(tiny_data / "harvard" / "splits")  # pairs, but no test split to run on
    rc = main(["benchmark", "--data", str(tiny_data), "--out", str(tmp_path / "r")])
    assert rc == 2
    assert "harvard: no test split (splits/<PAIR>_test.txt) for any pair type (CT-MRI, " \
        in capsys.readouterr().err
    assert not (tmp_path / "r" / "index.html").exists()


@pytest.mark.parametrize(("options", "said"), [
    (["--no-external", "--external", "x"], "--external: not allowed with argument --no-external"),
    (["--grid-pairs", "3", "--grid-ids", "2004"],
     "--grid-ids: not allowed with argument --grid-pairs")])
def test_cli_options_that_cancel_each_other_are_refused(
        options: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # One would be ignored (--no-external, --grid-ids win), so neither is taken.
    with pytest.raises(SystemExit) as exit_:
        main(["benchmark", "--data", str(tmp_path), "--out", str(tmp_path / "r"), *options])
    assert exit_.value.code == 2
    assert f"argument {said}" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_read_spi_log_rejects_other_csv(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(Exception, match="not an SPI log"):
        read_spi_log(bad)


def test_default_spi_logs_finds_only_spi_logs(tmp_path: Path) -> None:
    (tmp_path / "spect-mri.log.csv").write_text(
        "iteration,admitted,refined,label_gain\n1,5,0,0.01\n")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    (tmp_path / "ct-mri.md").write_text(  # a model card with its SPI log table
        "# card\n\n## SPI log\n\n| iteration | L | admitted | refined | label gain |\n"
        "|---|---|---|---|---|\n| 1 | 300 | 0 | 0 | 0.0000 |\n| 2 | 300 | 4 | 1 | 0.0012 |\n"
        "\n## Test metrics\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    (tmp_path / "notes.md").write_text("# no log here\n")
    assert default_spi_logs(tmp_path) == {"spect-mri": tmp_path / "spect-mri.log.csv",
                                          "ct-mri": tmp_path / "ct-mri.md"}
    assert read_spi_log(tmp_path / "ct-mri.md") == [
        {"iteration": 1.0, "admitted": 0.0, "refined": 0.0, "label_gain": 0.0},
        {"iteration": 2.0, "admitted": 4.0, "refined": 1.0, "label_gain": 0.0012}]
    assert default_spi_logs(tmp_path / "absent") == {}


def test_a_requested_method_missing_for_a_pair_type_is_reported(tmp_path: Path) -> None:
    from lwnet.errors import InputError
    from lwnet.reports.rows import Row, requested_but_absent

    (tmp_path / "Mine" / "SPECT-MRI").mkdir(parents=True)
    rows = [Row("LWNet", "LWNet", model_key="ct-mri"),
            Row("Mine", "external", folder=tmp_path / "Mine"), Row("gff", "classical")]
    assert requested_but_absent(rows, ["CT-MRI", "SPECT-MRI"], None) == []
    assert requested_but_absent(rows, ["CT-MRI", "SPECT-MRI"], ["Mine", "LWNet", "gff"]) == [
        "Mine: nothing for CT-MRI (no results folder or weights of that pair type)",
        "LWNet: nothing for SPECT-MRI (no results folder or weights of that pair type)"]
    with pytest.raises(InputError, match="Mine: no results or weights for CT-MRI"):
        requested_but_absent(rows, ["CT-MRI"], ["Mine", "gff"])


def test_two_methods_of_one_name_are_refused(tmp_path: Path) -> None:
    """Results are keyed by name: an external "mean" or a method in two external folders would
    silently replace a row; the shipped LWNet rows share a name, one per pair type."""
    from lwnet.errors import InputError
    from lwnet.inference import WEIGHTS_DIR
    from lwnet.reports.rows import collect_rows

    for folder in ("one/IFCNN", "two/IFCNN", "three/mean"):
        (tmp_path / folder / "CT-MRI").mkdir(parents=True)
    rows = collect_rows(WEIGHTS_DIR, [tmp_path / "one"])
    assert [r.name for r in rows].count("LWNet") == 2 and "IFCNN" in {r.name for r in rows}
    with pytest.raises(InputError, match=r"two methods named 'IFCNN': .*one/IFCNN and .*two/IFCNN"):
        collect_rows(WEIGHTS_DIR, [tmp_path / "one", tmp_path / "two"])
    with pytest.raises(InputError, match=r"'mean': the built-in classical method and .*three/mean"):
        collect_rows(WEIGHTS_DIR, [tmp_path / "three"])


def test_a_weights_folder_without_lwnet_weights_is_named(tmp_path: Path) -> None:
    """A run folder given as --weights (its file is weights.safetensors) or a mistyped path
    would make a report without its LWNet row: both are named, with the names that count."""
    import shutil

    from lwnet.errors import InputError
    from lwnet.inference import WEIGHTS_DIR
    from lwnet.reports.rows import collect_rows

    (tmp_path / "run").mkdir()
    shutil.copy(WEIGHTS_DIR / "ct-mri.safetensors", tmp_path / "run/weights.safetensors")
    with pytest.raises(InputError, match=r"run: no LWNet weights named <model>\[-<variant>\]"
                                         r"\.safetensors, <model> one of ct-mri, spect-mri "
                                         r"\(found weights.safetensors\); copy or link"):
        collect_rows(tmp_path / "run", [])
    with pytest.raises(InputError, match="nowhere: no such folder of LWNet weights"):
        collect_rows(tmp_path / "nowhere", [])
    shutil.move(tmp_path / "run/weights.safetensors", tmp_path / "run/ct-mri-mine.safetensors")
    assert [r.name for r in collect_rows(tmp_path / "run", [])][0] == "LWNet-mine"


def test_provenance_digests_tell_test_images_apart_and_commits_need_a_checkout(
        tiny_data: Path, tmp_path: Path) -> None:
    from lwnet._environment import source_commit
    from lwnet.reports.provenance import files_digest

    pairs = harvard_pairs(tiny_data / "harvard", "CT-MRI")
    before = files_digest(pairs)
    assert files_digest(pairs) == before and len(before) == 16
    img = read_image(pairs[0].b)
    img[0, 0] = 1.0 - img[0, 0]  # one pixel of one source
    write_image(pairs[0].b, img, overwrite=True)
    assert files_digest(pairs) != before
    assert source_commit(tmp_path / "not-a-checkout.py") is None
    import lwnet.reports.provenance as module

    here = Path(module.__file__)
    in_checkout = source_commit(here)  # this checkout's commit, or None for an installed copy
    assert source_commit(here.parent / "untracked.py") is None  # inside, but not its file
    if in_checkout is not None:
        assert len(in_checkout.split()[0]) == 40


def test_provenance_names_torch_by_its_build_not_only_its_release(monkeypatch) -> None:
    """A CUDA image's torch may carry metadata ``2.11.0`` for a ``2.11.0+cu130`` build (seen on
    the lent H100): the record keeps the build, which decides the kernels behind the figures."""
    import importlib.metadata

    from lwnet._environment import software_versions

    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "2.11.0" if name == "torch" else real(name))
    monkeypatch.setattr(torch, "__version__", "2.11.0+cu130")
    versions = software_versions(("torch", "numpy", "no-such-distribution"))
    assert versions["torch"] == "2.11.0+cu130"
    assert versions["numpy"] == np.__version__ and versions["no-such-distribution"] == "absent"
    assert software_versions(("numpy",)).keys() == {"python", "numpy"}  # torch only when asked
