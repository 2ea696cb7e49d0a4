"""Pair discovery in the Harvard layout and in plain folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lwnet.data import folder_pairs, harvard_pairs, read_split
from lwnet.data.datasets import pair_types
from lwnet.errors import InputError


def test_sample_has_three_pair_types(sample: Path) -> None:
    assert pair_types(sample) == ["CT-MRI", "PET-MRI", "SPECT-MRI"]
    pairs = harvard_pairs(sample, "SPECT-MRI")
    assert [p.id for p in pairs] == ["9028"]
    assert pairs[0].a.parent.name == "MRI" and pairs[0].b.parent.name == "SPECT"


def _write(folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(folder / name)


def test_folder_pairs_match_by_stem_and_report_missing_partner(tmp_path: Path) -> None:
    for name in ("2.png", "10.png"):
        _write(tmp_path / "a", name)
        _write(tmp_path / "b", name)
    assert [p.id for p in folder_pairs(tmp_path / "a", tmp_path / "b")] == ["2", "10"]
    _write(tmp_path / "a", "11.png")
    with pytest.raises(InputError, match=r"11\.\*: no partner"):
        folder_pairs(tmp_path / "a", tmp_path / "b")


def test_two_images_of_one_id_are_refused_naming_both(tmp_path: Path) -> None:
    """``pat01.png`` and ``pat01.tif`` (another patient's, say): no silent choice of one."""
    for name in ("pat01.png", "pat02.png"):
        _write(tmp_path / "a", name)
        _write(tmp_path / "b", name)
    (tmp_path / "a" / "._pat01.png").write_bytes(b"\x00\x05\x16\x07")  # macOS: no image
    assert [p.id for p in folder_pairs(tmp_path / "a", tmp_path / "b")] == ["pat01", "pat02"]
    _write(tmp_path / "a", "pat01.tif")
    with pytest.raises(InputError, match=r"a: two images of the name 'pat01' \(pat01.png, "
                                         r"pat01.tif\); keep one"):
        folder_pairs(tmp_path / "a", tmp_path / "b")


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _write(tmp_path / "b", "1.png")
    with pytest.raises(InputError, match="empty: folder holds no images"):
        folder_pairs(tmp_path / "empty", tmp_path / "b")
    with pytest.raises(InputError, match="nowhere: no such folder"):
        folder_pairs(tmp_path / "nowhere", tmp_path / "b")
    # A folder one level too high says what it holds instead.
    (tmp_path / "up/SPECT").mkdir(parents=True)
    with pytest.raises(InputError, match="up: folder holds no images, only the folders SPECT$"):
        folder_pairs(tmp_path / "up", tmp_path / "b")


def test_a_wrong_root_or_spelling_gets_a_hint(tmp_path: Path, sample: Path) -> None:
    shutil.copytree(sample, tmp_path / "harvard")
    with pytest.raises(InputError, match="one level down: .*harvard$"):
        harvard_pairs(tmp_path, "SPECT-MRI")
    with pytest.raises(InputError, match="did you mean SPECT-MRI"):
        harvard_pairs(tmp_path / "harvard", "spect-mri")
    with pytest.raises(InputError, match=r"pair types here: CT-MRI, PET-MRI, SPECT-MRI\)$"):
        harvard_pairs(tmp_path / "harvard", "MR-PET")
    with pytest.raises(InputError, match=r"nowhere does not exist$"):  # a user's own root
        harvard_pairs(tmp_path / "nowhere", "SPECT-MRI")
    from lwnet.data.datasets import default_data_root

    with pytest.raises(InputError, match=r"nowhere does not exist \(.*LWNET_DATA"):
        harvard_pairs(default_data_root() / "nowhere", "SPECT-MRI")


def test_split_files(tmp_path: Path, sample: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(sample, root)
    (root / "splits").mkdir()
    (root / "splits" / "CT-MRI_test.txt").write_text("16011.png\n\n")
    assert read_split(root, "CT-MRI", "test") == ["16011"]
    assert [p.id for p in harvard_pairs(root, "CT-MRI", "test")] == ["16011"]
    (root / "splits" / "CT-MRI_train.txt").write_text("99999.png\n")
    with pytest.raises(InputError, match=r"splits/CT-MRI_train.txt: 1 of 1 listed ids have no "
                                         r"pair of images \(first: '99999', in neither folder\)"):
        harvard_pairs(root, "CT-MRI", "train")
    # An id, or a file name; a byte-order mark (a Windows editor's) is no part of the first id.
    (root / "splits" / "CT-MRI_train.txt").write_text("\ufeff16011\nsub0.v2\n",
                                                       encoding="utf-8")
    assert read_split(root, "CT-MRI", "train") == ["16011", "sub0.v2"]
    with pytest.raises(InputError, match=r"2 listed ids .*'sub0.v2', in neither folder"):
        harvard_pairs(root, "CT-MRI", "train")
    for folder in (root / "CT-MRI/MRI", root / "CT-MRI/CT"):
        shutil.copy(folder / "16011.png", folder / "sub0.v2.png")
    assert [p.id for p in harvard_pairs(root, "CT-MRI", "train")] == ["16011", "sub0.v2"]
    (root / "CT-MRI/CT/sub0.v2.png").unlink()
    with pytest.raises(InputError, match=r"'sub0.v2', no image in CT\)"):
        harvard_pairs(root, "CT-MRI", "train")
    with pytest.raises(InputError, match="CT-MRI_val.txt: no such split file; splits of CT-MRI "
                                         "here: test, train$"):
        read_split(root, "CT-MRI", "val")


def test_shared_split_sizes(shared_data: Path) -> None:
    root = shared_data / "harvard"
    sizes = {t: len(harvard_pairs(root, t, "test")) for t in ("SPECT-MRI", "PET-MRI", "CT-MRI")}
    assert sizes == {"SPECT-MRI": 37, "PET-MRI": 30, "CT-MRI": 30}
    assert len(harvard_pairs(root, "SPECT-MRI", "train")) == 320
