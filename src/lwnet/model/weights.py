"""LWNet weights on disk: safetensors with the model config and card in the metadata.

A weights file holds the state dict as safetensors (never pickle: loading can run no code) and
four metadata strings: ``format`` (``"lwnet"``), ``format_version``, ``config`` (JSON of the
``LWNet`` constructor arguments) and ``card`` (the model card as Markdown). The card is also
written beside the weights as ``<stem>.md`` so people can read it without tools.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_safetensors

from lwnet._files import atomic_write_bytes, refuse_existing
from lwnet.errors import WeightsError
from lwnet.model.lwnet import LWNet

FORMAT = "lwnet"
FORMAT_VERSION = "1"

#: Folder of the shipped weights, ``<name>.safetensors`` with a ``<name>.md`` card each.
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"

#: Pair type → name of the shipped weights that fuse it (PET-MRI has no model of its own).
SHIPPED_MODELS = {"SPECT-MRI": "spect-mri", "PET-MRI": "spect-mri", "CT-MRI": "ct-mri"}
# The modality alone names the same model.
_SHIPPED = {**SHIPPED_MODELS, **{k.split("-")[0]: v for k, v in SHIPPED_MODELS.items()}}


def shipped_weights(pair_type: str) -> Path:
    """Path of the shipped weights for a pair type (``SPECT-MRI``, ``PET-MRI``, ``CT-MRI``).

    Raises :class:`WeightsError` for an unknown pair type or when the file is not installed.
    """
    name = _SHIPPED.get(pair_type.upper())
    if name is None:
        raise WeightsError(
            f"no shipped model for pair type {pair_type!r}; known: SPECT-MRI, PET-MRI, CT-MRI"
        )
    path = WEIGHTS_DIR / f"{name}.safetensors"
    if not path.is_file():
        raise WeightsError(f"{path}: shipped weights for {pair_type} are not installed; "
                           "pass a weights file instead (lwnet fuse --weights PATH)")
    return path

# Leading bytes of formats that must never be deserialised here: pickle protocol 2+ and the
# zip container of torch.save.
_PICKLE_MAGIC = b"\x80"
_ZIP_MAGIC = b"PK\x03\x04"


def render_card(card: Mapping[str, Any] | str, config: Mapping[str, Any]) -> str:
    """Model card as Markdown: a given string as is, or a dict as a title and key/value list.

    The architecture config is appended when a dict is rendered.
    """
    if isinstance(card, str):
        return card if card.endswith("\n") else card + "\n"
    title = card.get("title", "LWNet weights")
    lines = [f"# {title}", ""]
    lines += [f"- **{key}**: {value}" for key, value in card.items() if key != "title"]
    lines += ["", f"Architecture (`LWNet(**config)`): `{json.dumps(dict(config))}`", ""]
    return "\n".join(lines)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, in hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def weights_id(path: str | os.PathLike[str]) -> str:
    """``name (sha256 <16 hex>)`` of a weights or ONNX file: which model made a result."""
    return f"{Path(path).name} (sha256 {file_sha256(path)[:16]})"


def card_path(path: str | os.PathLike[str]) -> Path:
    """The Markdown card beside a weights file: ``x.safetensors`` → ``x.md``."""
    return Path(path).with_suffix(".md")


def save_weights(
    path: str | os.PathLike[str], model: LWNet, card: Mapping[str, Any] | str,
    overwrite: bool = False,
) -> Path:
    """Write ``model``'s weights to ``path`` (safetensors) and its card to ``<stem>.md``.

    Both writes are atomic; without ``overwrite`` an existing weights file or card raises
    :class:`OutputExistsError` before anything is written. Returns ``path``.
    """
    path = Path(path)
    md = card_path(path)
    refuse_existing((path, md), overwrite)
    text = render_card(card, model.config)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "config": json.dumps(model.config), "card": text,
    }
    data = sorted_metadata(save_safetensors(tensors, metadata=metadata))
    atomic_write_bytes(path, data, overwrite=overwrite)
    atomic_write_bytes(md, text.encode("utf-8"), overwrite=overwrite)
    return path


def sorted_metadata(data: bytes) -> bytes:
    """safetensors bytes with the header's metadata keys in sorted order.

    The library writes its metadata map in hash order, which changes from process to process,
    so the same weights would get other bytes, and another SHA-256 in every provenance record
    and cache name that quotes them. The tensors' entries keep the library's order; the header
    stays padded with spaces to a multiple of 8 bytes, as the format has it.
    """
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data[8 + size:]


def read_weights(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """State dict and metadata of a weights file, refusing anything but safetensors.

    Raises :class:`WeightsError` naming the file for a missing file, a pickle or ``torch.save``
    checkpoint (detected from its first bytes and never unpickled), or a corrupt file.
    """
    path = Path(path)
    if path.is_dir():
        final = path / "weights.safetensors"
        hint = f"; did you mean {final}?" if final.is_file() else ""
        raise WeightsError(f"{path}: is a folder, not a weights file{hint}")
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    with path.open("rb") as handle:
        head = handle.read(9)
    # safetensors: an 8-byte little-endian header length, then the JSON header. The length's
    # first byte can be 0x80 too, so the JSON brace is checked before calling it a pickle.
    is_safetensors = head[8:9] == b"{"
    if not is_safetensors and (head.startswith(_PICKLE_MAGIC) or head.startswith(_ZIP_MAGIC)):
        raise WeightsError(
            f"{path}: a pickle/torch.save checkpoint, refused (loading it could run arbitrary "
            "code); LWNet reads safetensors files only"
        )
    try:
        with safe_open(path, framework="pt", device="cpu") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, ValueError, OSError) as exc:
        raise WeightsError(f"{path}: not a valid safetensors file ({exc})") from None
    return tensors, metadata


def _check_state(path: Path, model: LWNet, tensors: Mapping[str, torch.Tensor]) -> None:
    """Raise :class:`WeightsError` listing missing/unexpected keys and shape mismatches."""
    expected = model.state_dict()
    problems = []
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing:
        problems.append(f"missing {', '.join(missing[:5])}" + (" …" if len(missing) > 5 else ""))
    if unexpected:
        problems.append(
            f"unexpected {', '.join(unexpected[:5])}" + (" …" if len(unexpected) > 5 else "")
        )
    for key in sorted(set(expected) & set(tensors)):
        if expected[key].shape != tensors[key].shape:
            problems.append(
                f"{key} has shape {tuple(tensors[key].shape)}, the model expects "
                f"{tuple(expected[key].shape)}"
            )
    if problems:
        raise WeightsError(
            f"{path}: weights do not fit LWNet({model.config}): " + "; ".join(problems[:6])
        )


def load_weights(
    path: str | os.PathLike[str], config: Mapping[str, Any] | None = None
) -> LWNet:
    """Build the LWNet a weights file describes and load its weights (eval mode, CPU).

    ``config`` overrides the architecture stored in the file (to check a file against a given
    architecture). Raises :class:`WeightsError` for unsafe, corrupt or mismatching files.
    """
    path = Path(path)
    tensors, metadata = read_weights(path)
    if config is None:
        if metadata.get("format") != FORMAT or "config" not in metadata:
            if "state" in metadata:  # lwnet.training.checkpoint's key
                raise WeightsError(f"{path}: a training checkpoint, not weights; the run's "
                                   "final weights are weights.safetensors in its folder")
            raise WeightsError(f"{path}: safetensors file without LWNet metadata (config)")
        if metadata.get("format_version") != FORMAT_VERSION:
            raise WeightsError(
                f"{path}: weights format version {metadata.get('format_version')!r}, this "
                f"LWNet reads version {FORMAT_VERSION}"
            )
        try:
            config = json.loads(metadata["config"])
        except json.JSONDecodeError as exc:
            raise WeightsError(f"{path}: unreadable config metadata ({exc})") from None
    try:
        with torch.random.fork_rng(devices=[]):  # the caller's random stream stays as it was
            model = LWNet(**config)
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{path}: config {config} does not describe an LWNet ({exc})") from None
    _check_state(path, model, tensors)
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise WeightsError(f"{path}: tensor {key} holds NaN or infinite values")
    model.load_state_dict(tensors)
    return model.eval()


def read_card(path: str | os.PathLike[str]) -> str:
    """The model card stored in a weights file's metadata ('' when there is none)."""
    return read_weights(path)[1].get("card", "")
