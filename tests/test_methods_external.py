"""External result folders and built-in methods as (pair type, id) sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lwnet.data import write_image
from lwnet.errors import InputError
from lwnet.methods import ExternalMethod, external_methods


def test_external_method_reads_luma_and_names_missing_files(tmp_path: Path) -> None:
    img = np.linspace(0, 1, 20 * 24).reshape(20, 24)
    write_image(tmp_path / "Foo" / "CT-MRI" / "7.png", img)
    rgb = np.stack([img, img * 0.5, img * 0.2], axis=-1)
    write_image(tmp_path / "Foo" / "PET-MRI" / "7.png", rgb)
    m = ExternalMethod(tmp_path / "Foo")
    assert m.name == "Foo"
    assert m.path("CT-MRI", "7") == tmp_path / "Foo" / "CT-MRI" / "7.png"
    np.testing.assert_allclose(m.luma("CT-MRI", "7"), img, atol=0.5 / 255 + 1e-6)
    y = m.luma("PET-MRI", "7")  # a colour result is reduced to its BT.601 luma
    assert y.shape == (20, 24)
    np.testing.assert_allclose(y, img * (0.299 + 0.587 * 0.5 + 0.114 * 0.2), atol=2 / 255)
    with pytest.raises(InputError, match=r"Foo/CT-MRI/8\.png"):
        m.luma("CT-MRI", "8")


def test_results_of_any_image_type_are_found_as_evaluate_finds_them(tmp_path: Path) -> None:
    """A folder of TIFF results is read (by training, the benchmark's grid and its provenance)
    as ``lwnet evaluate`` reads it; two results of one id are refused, naming both."""
    from lwnet.evaluation.runner import result_files

    img = np.linspace(0, 1, 20 * 24).reshape(20, 24)
    write_image(tmp_path / "Net" / "CT-MRI" / "7.tif", img)
    write_image(tmp_path / "Net" / "CT-MRI" / "7.5.png", img[::-1])  # another id, "7.5"
    m = ExternalMethod(tmp_path / "Net")
    assert m.path("CT-MRI", "7") == tmp_path / "Net" / "CT-MRI" / "7.tif"
    assert result_files(tmp_path / "Net", "CT-MRI", ["7"]) == {"7": m.path("CT-MRI", "7")}
    np.testing.assert_allclose(m.luma("CT-MRI", "7"), img, atol=0.5 / 255 + 1e-6)
    assert m.path("CT-MRI", "8") == tmp_path / "Net" / "CT-MRI" / "8.png"  # none: named on read
    write_image(tmp_path / "Net" / "CT-MRI" / "7.png", img)
    for find in (lambda: m.path("CT-MRI", "7"),
                 lambda: result_files(tmp_path / "Net", "CT-MRI", ["7"])):
        with pytest.raises(InputError, match=r"two images of the name '7' \(7\.png, 7\.tif\)"):
            find()


def test_external_methods_lists_method_folders(tmp_path: Path) -> None:
    for name in ("B", "A"):
        (tmp_path / name / "CT-MRI").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    (tmp_path / "MANIFEST.md").write_text("x")
    assert [m.name for m in external_methods(tmp_path)] == ["A", "B"]
    with pytest.raises(InputError, match="no such"):
        external_methods(tmp_path / "missing")
    with pytest.raises(InputError, match="no such"):
        ExternalMethod(tmp_path / "missing")


def test_shared_external_folder(shared_data: Path) -> None:
    ext = external_methods(shared_data / "external")
    assert {m.name for m in ext} >= {"IFCNN", "LRFNet", "MATR", "U2Fusion"}
    y = ext[0].luma("SPECT-MRI", "9028")
    assert y.shape == (256, 256) and y.dtype == np.float32 and 0 <= y.min() <= y.max() <= 1
