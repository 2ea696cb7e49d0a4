"""Python inference API: ``load_model``, ``fuse`` and ``network_fuser``.

Model choice (SPEC §6): the SPECT-MRI model serves SPECT and PET, the CT-MRI model serves CT.
It follows ``pair_type`` when given, else the functional image: colour → SPECT-MRI model,
greyscale → CT-MRI model.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from lwnet._device import resolve_device
from lwnet.data.colour import fuse_in_luma
from lwnet.data.io import as_float_image, check_fusion_pair, pil_to_float, read_image, unit_float
from lwnet.errors import ConfigError, WeightsError
from lwnet.methods.registry import NETWORK
from lwnet.model import LWNet
from lwnet.model.weights import load_weights, shipped_weights

if TYPE_CHECKING:
    from lwnet.inference.streaming import BatchFuser

@functools.lru_cache(maxsize=4)
def _cached_model(path: str, mtime_ns: int) -> LWNet:
    # mtime_ns is part of the cache key only: a file replaced in place is parsed again.
    return load_weights(path)


def load_model(
    path: str | os.PathLike[str] | None = None, pair_type: str | None = None,
    device: str | torch.device = "cpu",
) -> LWNet:
    """Load LWNet weights: a file, or the shipped model for ``pair_type`` (default SPECT-MRI).

    Returns a model in eval mode on ``device``. Each call returns a fresh copy; files are parsed
    once and cached by path and modification time.
    """
    if path is not None and pair_type is not None:
        raise ConfigError("load_model: pair_type picks a shipped model; give a weights file or "
                          "a pair type, not both")
    device = resolve_device(device)
    path = Path(path) if path is not None else shipped_weights(pair_type or "SPECT-MRI")
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise WeightsError(f"{path}: no such weights file") from None
    cached = _cached_model(str(path.resolve()), mtime)
    model = LWNet(**cached.config)
    model.load_state_dict(cached.state_dict())
    return model.eval().to(device)


def _as_array(image: Any, name: str | os.PathLike[str]) -> np.ndarray:
    """A numpy array, PIL image or image file → float32 ``(H, W)`` or ``(H, W, 3)`` in [0, 1]."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    if isinstance(image, Image.Image):
        image = pil_to_float(image, Path(name))
    return as_float_image(image, name)


def default_pair_type(functional: np.ndarray) -> str:
    """Pair type implied by the functional image: colour → SPECT-MRI, greyscale → CT-MRI."""
    return "SPECT-MRI" if functional.ndim == 3 else "CT-MRI"


def fuse_batch(model: torch.nn.Module, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Run ``model`` in eval mode on a batch: ``a``, ``b`` ``(N, H, W)``, floats in [0, 1] or
    uint8/uint16 (scaled by their range, as images are read everywhere) → float32 ``(N, H, W)``.
    The model is left in the mode it came in (a model in training stays in training)."""
    a, b = unit_float(a, "a"), unit_float(b, "b")
    device = next(model.parameters()).device
    training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            ta = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[:, None].to(device)
            tb = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32))[:, None].to(device)
            return model(ta, tb)[:, 0].float().cpu().numpy()
    finally:
        model.train(training)


def network_method(model: LWNet) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``model`` as a fusion method ``(a, b) -> f`` on float32 ``(H, W)`` luminance images."""
    from lwnet.inference.streaming import module_fuser, single_pair

    return single_pair(module_fuser(model))


def network_fuser(
    weights: str | os.PathLike[str] | None = None, pair_type: str | None = None, *,
    device: str | torch.device = "cpu", onnx: str | os.PathLike[str] | None = None,
    threads: int = 0,
) -> tuple[BatchFuser, str]:
    """LWNet as a batch fuser (:mod:`lwnet.inference.streaming`) and the record its outputs
    carry, e.g. ``spect-mri.safetensors (sha256 4ee7682c0b5a0439)``.

    Args:
        weights: a weights file; default the shipped model of ``pair_type`` (SPECT-MRI when
            ``None``), run by PyTorch on ``device``.
        onnx: an exported graph (``lwnet export``) run by onnxruntime on the CPU instead of
            ``weights``.
        threads: CPU threads (0: the library's default); for PyTorch this sets
            ``torch.set_num_threads`` for the whole process.

    What ``lwnet fuse`` and ``lwnet fuse-volume`` run; pass it to :func:`fuse_pairs` (and
    :func:`fuse_folders`, :func:`fuse_dataset`) as ``fusers={NETWORK: fuser}``,
    ``models={NETWORK: record}``.
    """
    from lwnet.inference.streaming import module_fuser
    from lwnet.model.weights import weights_id

    if onnx is not None:
        if weights is not None:
            raise ConfigError("network_fuser: an ONNX graph or weights, not both")
        if str(device).split(":")[0] != "cpu":  # a name torch does not know included
            raise ConfigError(f"an ONNX graph runs on the CPU here (onnxruntime's CPU "
                              f"provider), not on {device}; PyTorch runs the weights there")
        from lwnet.inference.onnx import OnnxFuser

        return OnnxFuser(onnx, threads=threads).fuse_batch, weights_id(onnx)
    path = Path(weights) if weights is not None else shipped_weights(pair_type or "SPECT-MRI")
    if threads:
        torch.set_num_threads(threads)
    return module_fuser(load_model(path, device=device)), weights_id(path)


def fuse(
    mri: Any, functional: Any, model: LWNet | str | os.PathLike[str] | None = None,
    pair_type: str | None = None, device: str | torch.device = "cpu", *,
    method: str | None = None,
) -> np.ndarray:
    """Fuse an MRI with a SPECT/PET/CT image with LWNet (SPEC §1: through luminance).

    Args:
        mri: the MRI: numpy array (uint8, uint16 or float in [0, 1]), PIL image or file path.
        functional: SPECT/PET (colour) or CT (greyscale), same H×W.
        model: an :class:`LWNet`, a weights file, or None for the shipped model.
        pair_type: ``SPECT-MRI``, ``PET-MRI`` or ``CT-MRI`` choosing the shipped model (not
            with ``model``); by default a colour ``functional`` picks the SPECT-MRI model,
            greyscale the CT-MRI one (for a PET or SPECT stored in grey, pass ``"PET-MRI"``: it
            fuses those clearly better, benchmarks/grey_functional.py).
        device: where a loaded model runs.
        method: a classical method of :func:`lwnet.methods.method_names` (``"gff"`` …) instead
            of the network, with the same colour handling (``lwnet fuse --method``);
            ``"lwnet"`` (the command's default) or None: the network.

    Returns:
        float32 in [0, 1]: ``(H, W, 3)`` with the functional image's chroma when it is colour,
        else ``(H, W)``.
    """
    names = [x if isinstance(x, (str, os.PathLike)) else n
             for x, n in ((mri, "mri"), (functional, "functional"))]
    a, b = (_as_array(x, n) for x, n in zip((mri, functional), names))
    check_fusion_pair(a, b, *names)
    if method is not None and method != NETWORK:
        if model is not None or pair_type is not None:
            raise ConfigError("fuse: method runs a classical method; it takes no model or "
                              "pair_type")
        from lwnet.methods import get_method

        result, _ = fuse_in_luma(get_method(method), a, b)
        return result
    if model is not None and pair_type is not None:
        raise ConfigError("fuse: pair_type picks a shipped model; give model or pair_type, "
                          "not both")
    if model is None:
        model = load_model(None, pair_type or default_pair_type(b), device)
    elif not isinstance(model, torch.nn.Module):
        model = load_model(model, device=device)
    result, _ = fuse_in_luma(network_method(model), a, b)
    return result
