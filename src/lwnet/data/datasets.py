"""Finding registered image pairs on disk.

Two layouts are understood:

* the Harvard (AANLIB) layout of ``../shared/data/harvard``:
  ``<root>/<PAIR>/<MOD_A>/<id>.png`` and ``<root>/<PAIR>/<MOD_B>/<id>.png`` with optional
  ``<root>/splits/<PAIR>_<split>.txt`` (one file name per line). The MRI folder is always A.
* two plain folders matched by file stem (:func:`folder_pairs`).

Problems (missing partner, empty folder, unknown split) raise :class:`InputError` naming the path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lwnet.data.io import is_image_file, require_file
from lwnet.errors import InputError

MRI = "MRI"


@dataclass(frozen=True)
class ImagePair:
    """One registered pair: ``a`` is the MRI, ``b`` the functional/anatomical image."""

    id: str
    a: Path
    b: Path
    pair_type: str | None = None


def sample_root() -> Path:
    """Root of the tiny sample shipped with the package (Harvard layout, three pairs)."""
    return Path(__file__).with_name("sample")


def default_data_root() -> Path:
    """The shared data root: ``$LWNET_DATA`` or ``../shared/data`` beside the repository."""
    env = os.environ.get("LWNET_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _is_listed_image(path: Path) -> bool:
    """An image file that counts as a pair's: hidden files (macOS's ``._9028.png`` resource
    forks on a copied drive, say) are not, whatever their suffix."""
    return not path.name.startswith(".") and path.is_file() and is_image_file(path)


def _one_per_stem(paths: Iterable[Path], folder: Path) -> dict[str, Path]:
    """``paths`` by stem. Two images of one stem (``7.png`` and ``7.tif``) would make the choice
    between them silent, so they are refused, naming both."""
    files: dict[str, Path] = {}
    for p in paths:
        if p.stem in files:
            raise InputError(f"{folder}: two images of the name {p.stem!r} "
                             f"({files[p.stem].name}, {p.name}); keep one")
        files[p.stem] = p
    return files


def image_files(folder: Path) -> dict[str, Path]:
    """Every image file in ``folder`` by its name without suffix (``{}`` for none, or for no
    folder); two images of one name raise :class:`InputError`."""
    if not folder.is_dir():
        return {}
    return _one_per_stem((p for p in sorted(folder.iterdir()) if _is_listed_image(p)), folder)


def images_by_stem(folder: Path, kind: str = "folder") -> dict[str, Path]:
    """Every image file in ``folder`` by its name without suffix (the pair id).

    Raises :class:`InputError` when the folder is missing, holds no image or two images of one
    name; ``kind`` names it in the message (``"result folder"``).
    """
    if not folder.is_dir():
        raise InputError(f"{folder}: no such {kind}")
    files = image_files(folder)
    if not files:
        inside = sorted(p.name for p in folder.iterdir() if p.is_dir())
        shown = ", ".join(inside[:8]) + (", ..." if len(inside) > 8 else "")
        raise InputError(f"{folder}: {kind} holds no images"
                         + (f", only the folders {shown}" if inside else ""))
    return files


def modality_folders(root: str | os.PathLike[str], pair_type: str) -> tuple[Path, Path]:
    """The (A, B) folders of a pair type: A is ``MRI``, B the other modality folder."""
    pair_dir = Path(root) / pair_type
    if not pair_dir.is_dir():
        raise InputError(f"{pair_dir}: no such pair-type folder{_root_hint(Path(root), pair_type)}")
    subdirs = sorted(p for p in pair_dir.iterdir() if p.is_dir())
    names = [p.name for p in subdirs]
    others = [p for p in subdirs if p.name != MRI]
    if MRI not in names or len(others) != 1:
        raise InputError(
            f"{pair_dir}: expected an {MRI} folder and one other modality folder, found {names}"
        )
    return pair_dir / MRI, others[0]


def _root_hint(root: Path, pair_type: str) -> str:
    """What a root without the pair-type folder probably meant: the Harvard layout one level
    down (``<data>`` for ``<data>/harvard``), another spelling, or the pair types it holds."""
    if not root.exists():
        shared = default_data_root()
        # How the shared data is found matters only where the shared data was looked for.
        return f"; {root} does not exist" + (
            " (the shared data is found through $LWNET_DATA, else ../shared/data beside the "
            "repository)" if root == shared or shared in root.parents else "")
    if (root / "harvard" / pair_type).is_dir():
        return f"; the Harvard layout is one level down: {root / 'harvard'}"
    known = pair_types(root) if root.is_dir() else []
    same = [name for name in known if name.lower() == pair_type.lower()]
    if same:
        return f"; did you mean {same[0]}?"
    return f" (pair types here: {', '.join(known)})" if known else ""


def split_path(root: str | os.PathLike[str], pair_type: str, split: str) -> Path:
    """``<root>/splits/<pair_type>_<split>.txt``."""
    return Path(root) / "splits" / f"{pair_type}_{split}.txt"


def read_split(root: str | os.PathLike[str], pair_type: str, split: str) -> list[str]:
    """Ids listed in :func:`split_path`, one per line: an id (``sub0.v2``) or an image file
    name (``9028.png``: its stem). A byte-order mark (Windows editors) is ignored."""
    path = split_path(root, pair_type, split)
    if not path.exists():  # a misspelt split: name the ones there are
        known = sorted(p.stem[len(pair_type) + 1:] for p in path.parent.glob(f"{pair_type}_*.txt"))
        hint = f"; splits of {pair_type} here: {', '.join(known)}" if known else ""
        raise InputError(f"{path}: no such split file{hint}")
    require_file(path, "split file")  # a folder or a device by that name
    lines = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    ids = [Path(line).stem if is_image_file(Path(line)) else line for line in lines if line]
    if not ids:
        raise InputError(f"{path}: split file is empty")
    return ids


def _match(a_files: dict[str, Path], b_files: dict[str, Path], ids: list[str] | None,
           a_dir: Path, b_dir: Path, pair_type: str | None) -> list[ImagePair]:
    if ids is None:
        missing_b = sorted(set(a_files) - set(b_files))
        missing_a = sorted(set(b_files) - set(a_files))
        ids = sorted(set(a_files) & set(b_files), key=_id_key)
    else:
        missing_a = [i for i in ids if i not in a_files]
        missing_b = [i for i in ids if i not in b_files]
    if missing_b:
        raise InputError(f"{a_dir / missing_b[0]}.*: no partner in {b_dir} "
                         f"({len(missing_b)} unmatched)")
    if missing_a:
        raise InputError(f"{b_dir / missing_a[0]}.*: no partner in {a_dir} "
                         f"({len(missing_a)} unmatched)")
    return [ImagePair(i, a_files[i], b_files[i], pair_type) for i in ids]


def _id_key(stem: str) -> tuple[int, int | str]:
    return (0, int(stem)) if stem.isdigit() else (1, stem)


def harvard_pairs(
    root: str | os.PathLike[str], pair_type: str, split: str | None = None
) -> list[ImagePair]:
    """Pairs of one pair type in the Harvard layout, optionally restricted to a split."""
    a_dir, b_dir = modality_folders(root, pair_type)
    a_files, b_files = images_by_stem(a_dir), images_by_stem(b_dir)
    ids = None
    if split:
        ids = read_split(root, pair_type, split)
        # A listed id without its images is the split file's fault (a typo, another dataset's).
        absent = [i for i in ids if i not in a_files or i not in b_files]
        if absent:
            first = absent[0]
            where = ("in neither folder" if first not in a_files and first not in b_files else
                     f"no image in {b_dir.name if first in a_files else a_dir.name}")
            raise InputError(f"{split_path(root, pair_type, split)}: {len(absent)} of "
                             f"{len(ids)} listed ids have no pair of images (first: {first!r}, "
                             f"{where})")
    return _match(a_files, b_files, ids, a_dir, b_dir, pair_type)


def folder_pairs(dir_a: str | os.PathLike[str], dir_b: str | os.PathLike[str]) -> list[ImagePair]:
    """Pairs from two plain folders matched by file stem (A = MRI folder)."""
    a_dir, b_dir = Path(dir_a), Path(dir_b)
    return _match(images_by_stem(a_dir), images_by_stem(b_dir), None, a_dir, b_dir, None)


def pair_types(root: str | os.PathLike[str]) -> list[str]:
    """Pair-type folders under a Harvard-layout root (those holding an ``MRI`` folder)."""
    return sorted(p.name for p in Path(root).iterdir() if (p / MRI).is_dir())
