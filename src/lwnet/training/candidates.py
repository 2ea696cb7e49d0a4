"""Label candidates for SPI (SPEC §3.1): every method's fused luminance of every training pair.

Candidates are 8-bit greyscale luminance images (what the metrics see). Each method's
candidates for one pair type form one ``(N, H, W)`` uint8 array, cached as ``.npy`` in a cache
folder, written atomically, so a re-run (or a second run on the same pair type) reuses them.
The file name holds everything the array depends on: the method name and a key of the ordered
pair ids (for a built-in method, of the sources' pixels too), then its version: for a built-in
method a digest of the code it runs (:func:`lwnet.methods.builtin_code_digest`), for an
external one a hash of the bytes of every result file. An edited method or a replaced result
file thus gets new candidates instead of stale ones, and the stale ones are removed, while a
copied or moved results folder (new paths, new modification times) reuses its cached
candidates. The score of every candidate on every patch is cached beside them (see
:func:`content_key`).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lwnet._code import contents_digest, remove_superseded
from lwnet._files import atomic_write_bytes, remove_stale_temps
from lwnet._text import Progress, tracked
from lwnet.data.colour import luma8
from lwnet.data.datasets import ImagePair
from lwnet.data.io import check_fused, read_fusion_pair
from lwnet.errors import InputError
from lwnet.methods.external import ExternalMethod
from lwnet.methods.registry import builtin_code_digest
from lwnet.parallel import INLINE, Workers

CACHE_VERSION = "1"


def load_sources(pairs: list[ImagePair]) -> tuple[np.ndarray, np.ndarray]:
    """8-bit luma of the sources: (A, B) each ``(N, H, W)`` uint8.

    Every pair is checked as for fusion (same size, greyscale A), and all pairs must share the
    first pair's size (one patch grid serves them all); a misfit raises :class:`InputError`
    naming the file.
    """
    a: list[np.ndarray] = []
    b: list[np.ndarray] = []
    for pair in pairs:
        a_img, b_img = read_fusion_pair(pair.a, pair.b)
        if a and a_img.shape[:2] != a[0].shape:
            raise InputError(f"{pair.a}: {a_img.shape[1]}x{a_img.shape[0]}, but the training "
                             f"pairs must share one size ({pairs[0].a} is "
                             f"{a[0].shape[1]}x{a[0].shape[0]})")
        a.append(luma8(a_img))
        b.append(luma8(b_img))
    return np.stack(a), np.stack(b)


def content_key(arrays: list[np.ndarray], texts: list[str]) -> str:
    """Short hash of arrays' contents (shape, dtype, bytes) and strings: a cache file name."""
    h = hashlib.blake2b(digest_size=8)
    for arr in arrays:
        h.update(f"{arr.shape}{arr.dtype}".encode())
        h.update(np.ascontiguousarray(arr).data)
    h.update("\n".join([CACHE_VERSION, *texts]).encode())
    return h.hexdigest()


def save_array(path: Path, arr: np.ndarray) -> None:
    """Write ``arr`` as ``.npy`` atomically (a killed run leaves no half-written cache), and
    remove the temporary files that killed writers left in the same cache folder."""
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue(), overwrite=True)
    remove_stale_temps(path.parent)


def _cached(cache_dir: Path, stem: str, version: str,
            compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The array cached as ``<stem>-<version>.npy``, computed and saved when absent.

    ``stem`` names what the array holds (a method on given pairs), ``version`` what made it
    (the method's code, the result files' contents). Saving a new version removes the versions
    it supersedes, so edits and upgrades do not pile up stale arrays in a shared cache.
    """
    path = cache_dir / f"{stem}-{version}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    arr = compute()
    save_array(path, arr)
    remove_superseded(path, f"{stem}-")
    return arr


def fused_luma(name: str, a8: np.ndarray, b8: np.ndarray) -> np.ndarray:
    """The built-in method ``name`` on one pair of 8-bit luma images → 8-bit luma."""
    from lwnet.methods import get_method

    fn = get_method(name)
    return luma8(check_fused(fn(a8.astype(np.float32) / 255, b8.astype(np.float32) / 255),
                             a8.shape, fn))


def builtin_candidates(pairs: list[ImagePair], a8: np.ndarray, b8: np.ndarray, name: str,
                       cache_dir: Path, workers: Workers = INLINE, progress: Progress = "off"
                       ) -> np.ndarray:
    """One built-in classical method (``lwnet.methods.get_method(name)``) on every pair,
    as uint8 luma ``(N, H, W)``; cached; pair by pair in ``workers`` when given, with its
    ``progress`` shown (:func:`lwnet._text.tracked`) when it is computed."""
    # The sources' pixels, not only their ids: two datasets with the same ids (pat00, ...)
    # sharing a cache folder must not share candidates.
    stem = f"{name}-{content_key([a8, b8], [name, 'builtin', *(p.id for p in pairs)])}"

    def compute() -> np.ndarray:
        args = ((name, a, b) for a, b in zip(a8, b8))
        return np.stack(list(tracked(workers.map(fused_luma, args), len(a8),
                                     f"label candidates: {name}", "pair", progress,
                                     announce=False)))
    return _cached(cache_dir, stem, builtin_code_digest(), compute)


def external_candidates(pairs: list[ImagePair], method: ExternalMethod, cache_dir: Path,
                        shape: tuple[int, int]) -> np.ndarray:
    """An external method's results for every pair, as uint8 luma ``(N, H, W)``; cached.
    Callers pass train pairs only; a result whose size is not the sources' ``shape`` raises
    :class:`InputError` naming it."""
    ids = [p.id for p in pairs]
    stem = f"ext-{method.name}-{content_key([], [method.name, *ids])}"
    pair_type = pairs[0].pair_type
    assert pair_type is not None  # training pairs come from a pair type's folders
    files = method.paths(pair_type, ids)
    version = contents_digest(files)

    def read(path: Path) -> np.ndarray:
        luma = luma8(method.read_file(path))
        if luma.shape != shape:
            raise InputError(f"{path}: {luma.shape[1]}x{luma.shape[0]}, but its pair is "
                             f"{shape[1]}x{shape[0]} (a result of {method.name} for other "
                             "images?)")
        return luma

    def compute() -> np.ndarray:
        return np.stack([read(f) for f in files])
    return _cached(cache_dir, stem, version, compute)


def all_candidates(pairs: list[ImagePair], a8: np.ndarray, b8: np.ndarray,
                   methods: list[str], external_root: Path | None,
                   cache_dir: Path, workers: Workers = INLINE, progress: Progress = "off",
                   ) -> tuple[list[str], np.ndarray]:
    """Candidates of every requested method: (names, ``(K, N, H, W)`` uint8).

    ``methods`` lists built-in names, ``["all"]`` for every built-in one. Every method folder
    under ``external_root`` that holds the pair type is added as ``ext:<Method>``; such a
    folder must hold every pair's result, which is checked before any candidate is computed.
    """
    from lwnet.methods import method_names

    names = method_names() if methods == ["all"] else list(methods)
    pair_type = pairs[0].pair_type
    assert pair_type is not None  # training pairs come from a pair type's folders
    externals = external_label_sources(pairs, external_root)
    if not names and not externals:
        where = (f"no folder under {external_root} holds {pair_type} results"
                 if external_root is not None else "external candidates are off")
        raise InputError(f"no label candidates: 'methods' is empty and {where}")
    stacks = [builtin_candidates(pairs, a8, b8, n, cache_dir, workers, progress)
              for n in names]
    for m in externals:
        names.append(f"ext:{m.name}")
        stacks.append(external_candidates(pairs, m, cache_dir, a8.shape[1:]))
    return names, np.stack(stacks)


def external_label_sources(pairs: list[ImagePair],
                           external_root: Path | None) -> list[ExternalMethod]:
    """The method folders under ``external_root`` holding the pairs' pair type.

    Raises :class:`InputError` for such a folder that lacks some pairs' results (it names the
    folder, how many are missing and the first), as a label set must cover every pair.
    """
    from lwnet.methods import external_methods

    if external_root is None or not external_root.is_dir():
        return []
    pair_type = pairs[0].pair_type
    assert pair_type is not None
    ids = [p.id for p in pairs]
    found = []
    for method in external_methods(external_root):
        if not (method.folder / pair_type).is_dir():
            continue
        missing = [i for i, f in zip(ids, method.paths(pair_type, ids)) if not f.is_file()]
        if missing:
            raise InputError(f"{method.folder / pair_type}: no result for {len(missing)} of "
                             f"the {len(ids)} training pairs (first: {missing[0]}); complete "
                             f"it, move {method.name} out of {external_root}, or set "
                             "external_root = \"none\"")
        found.append(method)
    return found

