"""Fusing image files: one pair, or a whole dataset or two folders, in parallel, resumably."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from tqdm import tqdm

from lwnet import __version__
from lwnet._files import (
    atomic_write_bytes,
    check_writable,
    refuse_existing,
    refuse_inputs_as_outputs,
    remove_stale_temps,
    removed_on_failure,
)
from lwnet._text import changes, counted
from lwnet.data.colour import fuse_in_luma
from lwnet.data.datasets import ImagePair, folder_pairs, harvard_pairs
from lwnet.data.io import encode_image, image_format, read_fusion_pair
from lwnet.errors import ConfigError, InputError, require_counts
from lwnet.inference.api import default_pair_type, network_fuser
from lwnet.inference.streaming import (
    BatchFuser,
    FuseJob,
    StreamStats,
    pairwise_fuser,
    single_pair,
    stream_fuse,
)
from lwnet.methods.registry import NETWORK, FuseFn, function_id, get_method, method_id
from lwnet.parallel import process_pool, require_picklable

#: Methods to run: registered names, or display names mapped to per-image ``(a, b) -> f`` or to
#: registered names.
Methods = Sequence[str] | Mapping[str, FuseFn | str]


def output_text(source: str, description: str) -> dict[str, str]:
    """What a fused image file carries about its making (PNG text, TIFF tags): the software,
    ``source`` (the method or the model that fused it, e.g. a weights file and its digest) and
    ``description`` (what the image shows). Never the inputs' file names: they may name a
    patient."""
    return {"Software": f"lwnet {__version__}", "Source": source, "Description": description}


#: Descriptions of the fused luminance and of the colour result (SPEC §1).
LUMA_OUTPUT = "multimodal medical image fusion: the fused luminance of A (MRI) and B"
COLOUR_OUTPUT = f"{LUMA_OUTPUT}, in B's colour (its BT.601 chroma) where B has colour"


def check_bits(bits: int) -> None:
    """Refuse output depths other than 8 and 16 bits, before any work."""
    if bits not in (8, 16):
        raise ConfigError(f"bits: 8 or 16 bits per sample, not {bits!r}")


def _refuse_namesakes(outputs: list[Path], inputs: list[Path]) -> None:
    """Refuse an output beside an input of the same name (``9028.tif`` by ``MRI/9028.png``):
    the folder would then hold two images of one id, and folder and dataset runs refuse it."""
    for out in outputs:
        for source in inputs:
            if (out.stem == source.stem and out.parent.exists()
                    and os.path.samefile(out.parent, source.parent)):
                raise InputError(f"{out}: beside the input {source} with the same name, which "
                                 "would leave two images of one id in that folder; name the "
                                 "output otherwise or write it elsewhere")


def fuse_file_pair(
    method: FuseFn | str, a_path: str | os.PathLike[str], b_path: str | os.PathLike[str],
    out: str | os.PathLike[str], *, luma_out: str | os.PathLike[str] | None = None,
    overwrite: bool = False, source: str | None = None, bits: int = 8,
) -> Path:
    """Fuse the image files A (MRI) and B with a per-image ``method`` (a function, a
    registered name, or ``"lwnet"``: the shipped model B implies, colour → SPECT-MRI, greyscale
    → CT-MRI); returns ``out``.

    Writes the colour result (SPEC §1: B's chroma back on the fused luminance) to ``out`` and,
    with ``luma_out``, the fused luminance too, each carrying :func:`output_text` with
    ``source`` (default: the method's name, or a function's module, name and code digest).
    ``bits`` (8 or 16) per sample of greyscale outputs, as :func:`fuse_pairs` takes it.
    Existing outputs are refused before any work unless ``overwrite``, and an output that is
    one of the inputs always is; each write is atomic.
    """
    outputs = [Path(out)] + ([Path(luma_out)] if luma_out else [])
    if luma_out and outputs[0].resolve() == outputs[1].resolve():
        raise InputError(f"{out}: named for both the colour result and the luminance")
    refuse_inputs_as_outputs(outputs, [a_path, b_path])
    _refuse_namesakes(outputs, [Path(a_path), Path(b_path)])
    check_bits(bits)
    for path in outputs:
        if path.is_dir():
            raise InputError(f"{path}: is a folder; a single pair is written to an image file")
        if image_format(path) not in ("PNG", "TIFF") and bits == 16:
            raise InputError(f"{path}: 16-bit output needs a .png or .tif file")
    refuse_existing(outputs, overwrite)
    check_writable({path.parent for path in outputs})
    network = method == NETWORK
    fn = method if callable(method) else None if network else get_method(method)
    a, b = read_fusion_pair(a_path, b_path)
    if network:  # its model follows B, so it is loaded once B is read
        fuser, record = network_fuser(pair_type=default_pair_type(b))
        method = f"{NETWORK} {record}"  # what made it, as recorded
        fn = single_pair(fuser, method)
    if source is None:
        source = method if isinstance(method, str) else function_id(method)
    assert fn is not None  # the network's fuser is made above, once B is read
    result, fused_luma = fuse_in_luma(fn, a, b)
    # Both files encoded first, then written together (a failed write takes back the other).
    files = {outputs[0]: encode_image(result, out, bits if result.ndim == 2 else 8,
                                      text=output_text(source, COLOUR_OUTPUT))}
    if luma_out:
        files[outputs[1]] = encode_image(fused_luma, luma_out, bits,
                                         text=output_text(source, LUMA_OUTPUT))
    with removed_on_failure(outputs):
        for path, data in files.items():
            atomic_write_bytes(path, data, overwrite)
    return Path(out)


#: Written into every output folder: what made its images, checked when a run resumes there.
SETTINGS_FILE = ".lwnet-outputs.json"


def claim_output_folder(folder: Path, settings: Mapping[str, str], redo: bool,
                        outputs: Iterable[Path] = ()) -> None:
    """Record ``settings`` (method, output kind, model, bits) in ``folder`` before fusing into
    it.

    Raises :class:`InputError` unless ``redo`` when the folder holds outputs made with other
    settings, a redo that has not finished, or, with no record at all, files of the names in
    ``outputs`` (nothing tells what made them, so they are not taken as this run's). A redo
    marks the folder as mixed until :func:`finish_output_folder`, so a redo killed midway is
    never resumed as if complete.
    """
    path = folder / SETTINGS_FILE
    if redo:
        _write_record(path, {**settings, "outputs": "mixed: a --redo has not finished"})
        return
    record = {**settings, "outputs": "alike"}
    if path.is_file():
        try:
            old = {"bits": "8", **json.loads(path.read_text())}  # records before bits: 8-bit
        except (OSError, ValueError, TypeError):
            old = {}
        changed = changes(old, record)
        if changed:
            raise InputError(f"{folder}: holds outputs made with other settings "
                             f"({', '.join(changed)}); use --redo to replace them, or another "
                             "output folder")
        return
    present = [out for out in outputs if out.exists()]
    if present:
        raise InputError(f"{folder}: already holds {counted(len(present), 'file')} of the names "
                         f"this run writes (e.g. {present[0].name}) but no {SETTINGS_FILE} "
                         "saying what made them; use --redo to replace them, or another output "
                         "folder")
    _write_record(path, record)


def finish_output_folder(folder: Path, settings: Mapping[str, str]) -> None:
    """Mark ``folder`` as holding only outputs of ``settings`` (after a finished redo)."""
    _write_record(folder / SETTINGS_FILE, {**settings, "outputs": "alike"})


def _write_record(path: Path, record: Mapping[str, str]) -> None:
    atomic_write_bytes(path, json.dumps(record, indent=1).encode(), overwrite=True)


def output_path(out: str | os.PathLike[str], method: str, pair_type: str, pair_id: str) -> Path:
    """``<out>/<method>/<pair_type>/<id>.png``, the layout :class:`ExternalMethod` reads."""
    return Path(out) / method / pair_type / f"{pair_id}.png"


def fuse_dataset(
    methods: Methods,
    root: str | os.PathLike[str],
    pair_type: str,
    out: str | os.PathLike[str],
    *,
    split: str | None = None,
    jobs: int = 1,
    redo: bool = False,
    luma: bool = False,
    bits: int = 8,
    progress: bool = True,
    fusers: Mapping[str, BatchFuser] | None = None,
    models: Mapping[str, str] | None = None,
    batch_size: int = 8,
) -> StreamStats:
    """Fuse every pair of a Harvard-layout dataset (``root``, e.g. ``<data>/harvard``) of
    ``pair_type`` with each of ``methods``; ``split`` restricts it to the ids of
    ``splits/<pair_type>_<split>.txt``.

    Writes ``<out>/<method>/<pair_type>/<id>.png``; the other arguments are those of
    :func:`fuse_pairs`. ``"lwnet"`` among ``methods`` runs the shipped model of ``pair_type``
    unless ``fusers`` holds another (:func:`lwnet.inference.network_fuser`).
    """
    pairs = harvard_pairs(root, pair_type, split)
    # Not even beside the modality folders: the pair type would no longer read as a dataset.
    refuse_inputs_as_outputs([out], [Path(root) / pair_type])
    fusers, models = dict(fusers or {}), dict(models or {})
    unset = [name for name in _network_names(methods) if name not in fusers]
    if unset:
        shipped = network_fuser(pair_type=pair_type)
        for name in unset:
            fusers[name], models[name] = shipped
    return fuse_pairs(methods, pairs,
                      lambda method, pair: output_path(out, method, pair_type, pair.id),
                      jobs=jobs, redo=redo, luma=luma, bits=bits, progress=progress,
                      fusers=fusers, models=models, batch_size=batch_size, label=pair_type)


def fuse_folders(
    methods: Methods,
    dir_a: str | os.PathLike[str],
    dir_b: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    jobs: int = 1,
    redo: bool = False,
    luma: bool = False,
    bits: int = 8,
    progress: bool = True,
    fusers: Mapping[str, BatchFuser] | None = None,
    models: Mapping[str, str] | None = None,
    batch_size: int = 8,
) -> StreamStats:
    """Fuse the pairs of two folders matched by file stem (A = MRI) with each of ``methods``.

    Writes ``<out>/<method>/<stem>.png``; the other arguments are those of :func:`fuse_pairs`
    (``"lwnet"`` needs its model in ``fusers``: the folders say no pair type).
    """
    return fuse_pairs(methods, folder_pairs(dir_a, dir_b),
                      lambda method, pair: Path(out) / method / f"{pair.id}.png",
                      jobs=jobs, redo=redo, luma=luma, bits=bits, progress=progress,
                      fusers=fusers, models=models, batch_size=batch_size)


def _by_name(methods: Methods) -> Mapping[str, FuseFn | str]:
    """``methods`` as display name → function or registered name."""
    if isinstance(methods, str):  # its letters would be taken as method names
        raise ConfigError(f"methods: a list of names, e.g. [{methods!r}], not the string "
                          f"{methods!r}")
    return methods if isinstance(methods, Mapping) else {m: m for m in methods}


def _network_names(methods: Methods) -> list[str]:
    """The display names that stand for the network (``"lwnet"``, or ``{"LWNet": "lwnet"}``)."""
    return [name for name, m in _by_name(methods).items() if m == NETWORK]


def fuse_pairs(
    methods: Methods,
    pairs: Sequence[ImagePair],
    destination: Callable[[str, ImagePair], Path],
    *,
    jobs: int = 1,
    redo: bool = False,
    luma: bool = False,
    bits: int = 8,
    progress: bool = True,
    fusers: Mapping[str, BatchFuser] | None = None,
    batch_size: int = 8,
    label: str = "",
    models: Mapping[str, str] | None = None,
) -> StreamStats:
    """Fuse ``pairs`` with each of ``methods``, writing to ``destination(method, pair)``.

    The engine of :func:`fuse_dataset` and :func:`fuse_folders`. Writes the colour result
    (SPEC §1), or with ``luma`` the fused luminance (what training and external folders use),
    through the bounded streaming pipeline (:func:`lwnet.inference.streaming.stream_fuse`):
    existing outputs are skipped unless ``redo``, so an interrupted run resumes; every write is
    atomic.

    Args:
        methods: registry names (unknown names raise before any work), or display names
            mapped to registry names or to per-image functions (module-level functions when
            ``jobs > 1``, so that worker processes can receive them); names that are keys of
            ``fusers`` run those instead.
        pairs: the source pairs.
        destination: the output file of a method's result for a pair.
        jobs: worker processes for per-image methods (1 runs in this process).
        redo: recompute and replace existing outputs.
        luma: write the fused luminance instead of the colour result.
        bits: 8 or 16 bits per sample of greyscale outputs (the luminance, a CT's result);
            colour results are 8-bit (Pillow writes no 16-bit colour).
        progress: show a tqdm bar over pairs, with pairs per second.
        fusers: batch fusers by name (e.g. LWNet through PyTorch or onnxruntime).
        batch_size: pairs per batch (at least ``2 * jobs`` for per-image methods).
        label: shown on the progress bar (e.g. the pair type).
        models: what each of ``fusers`` runs (e.g. the weights file and its digest); with the
            method and the output kind it is recorded in every output folder
            (:func:`claim_output_folder`), so a resumed run never mixes outputs of other
            settings. Every other method is recorded by its code (:func:`function_id`, or for
            a registry name :func:`method_id`), so a run after a method was edited does not
            take the old outputs as its own.
    """
    require_counts(jobs=jobs, batch_size=batch_size)  # before any folder is claimed
    check_bits(bits)
    fusers = dict(fusers or {})
    given = _by_name(methods)
    for name in _network_names(methods):
        if name not in fusers:
            raise ConfigError(f"{name}: the network needs its model: fusers={{{name!r}: "
                              f"fuser}}, models={{{name!r}: record}} from "
                              "lwnet.inference.network_fuser(weights or pair_type=...)")
    fns = {name: get_method(m) if isinstance(m, str) else m
           for name, m in given.items() if name not in fusers}
    models = {**{name: function_id(m) for name, m in given.items() if callable(m)},
              **(models or {})}
    # Registry names are recorded by their code as well; their files name just the method.
    codes = {name: method_id(m) for name, m in given.items()
             if isinstance(m, str) and name not in fusers}
    if jobs > 1:
        require_picklable({name: fn for name, fn in fns.items() if name not in fusers})
    run = StreamStats()
    pool = process_pool(jobs) if jobs > 1 else None
    try:
        for name in methods:
            fuser = fusers.get(name) or pairwise_fuser(fns[name], pool)
            per_batch = batch_size if name in fusers else max(batch_size, 2 * jobs)
            settings = {"method": name, "output": "luma" if luma else "colour",
                        "model": models.get(name) or codes.get(name, ""), "bits": str(bits)}
            outputs = [destination(name, p) for p in pairs]
            folders = sorted({out.parent for out in outputs})
            refuse_inputs_as_outputs(folders, {p.a.parent for p in pairs}
                                     | {p.b.parent for p in pairs})
            existed = {f for f in folders if f.exists()}
            recorded = {f for f in folders if (f / SETTINGS_FILE).exists()}
            for folder in folders:
                claim_output_folder(folder, settings, redo,
                                    (out for out in outputs if out.parent == folder))
                # A run killed midway left temp files beside its outputs: clear them.
                remove_stale_temps(folder)
            try:
                with tqdm(total=len(pairs), desc=f"{name} {label}".strip(), unit="pair",
                          disable=not progress) as bar:
                    def show(stats: StreamStats) -> None:
                        bar.n = stats.fused + stats.skipped
                        bar.set_postfix_str(f"{stats.pairs_per_second:.1f} pairs/s")

                    stats = stream_fuse(map(FuseJob, pairs, outputs), fuser,
                                        batch_size=per_batch, overwrite=redo, luma=luma,
                                        bits=bits, progress=show,
                                        text=output_text(f"{name} {models.get(name, '')}".strip(),
                                                         LUMA_OUTPUT if luma else COLOUR_OUTPUT))
            except BaseException:
                _release_empty_claims(set(folders) - recorded, existed)
                raise
            if redo:
                for folder in folders:
                    finish_output_folder(folder, settings)
            run = StreamStats(run.fused + stats.fused, run.written + stats.written,
                              run.skipped + stats.skipped, run.seconds + stats.seconds)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return run


def _release_empty_claims(claimed: set[Path], existed: set[Path]) -> None:
    """After a failed run: the settings records it wrote in ``claimed`` folders that it left
    empty go again, and so do those folders unless they were in ``existed``, so that a
    corrected run with other settings (``--luma`` added, say) is not refused there."""
    for folder in claimed:
        with contextlib.suppress(OSError):
            if [p.name for p in folder.iterdir()] == [SETTINGS_FILE]:
                (folder / SETTINGS_FILE).unlink()
                if folder not in existed:
                    folder.rmdir()
