"""ONNX export of a fusion network and inference through onnxruntime.

The graph takes ``a`` and ``b`` float32 ``(N, 1, H, W)`` and returns ``f`` of the same shape,
with batch, height and width dynamic. Export uses the TorchScript-based exporter by default
(``dynamo=False``): it traces the channel-attention reshapes with symbolic sizes; the dynamo
exporter is available as an option. Every export is verified before it is written: the graph is
run by onnxruntime at two sizes that differ from the tracing size and compared with PyTorch.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from lwnet._files import atomic_write_bytes, refuse_existing
from lwnet._optional import optional_import
from lwnet.data.io import require_file, unit_float
from lwnet.errors import ConfigError, InputError, WeightsError

if TYPE_CHECKING:
    import torch

#: Maximum absolute difference from PyTorch accepted when an export is verified.
PARITY_TOL = 1e-4

_INPUTS, _OUTPUT = ("a", "b"), "f"
_VERIFY_SHAPES = ((1, 37, 53), (2, 64, 48))


#: ONNX opsets at which LWNet exports and verifies with both exporters, measured with torch
#: 2.13 (below 11 the TorchScript exporter lacks operators LWNet needs; 23 is that torch's
#: newest). An older torch may stop lower; its exporter then names the problem.
OPSETS = range(11, 24)

#: The oldest torch whose dynamo exporter exports LWNet (measured: 2.5.1, 2.6.0 and 2.7.1 fail,
#: torch.export on a guard of the dynamic batch or the ONNX translation after it; 2.8.0 passes).
DYNAMO_MIN_TORCH = "2.8"


def _onnx_bytes(model: torch.nn.Module, opset: int, dynamo: bool) -> bytes:
    import torch

    # Batch 2, not 1: torch.export specialises dimensions of size 1 to constants.
    example = (torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32))
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        path = Path(tmp) / "model.onnx"
        if dynamo:
            # Height and width share their constraints, so torch names both axes alike and
            # says so; the graph is dynamic in both all the same (verify_onnx checks it).
            warnings.filterwarnings("ignore", message=r".*shares the same shape constraints",
                                    category=UserWarning)
            # torch.export's own use of a pytree class torch has deprecated; not ours to fix.
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*is deprecated",
                                    category=FutureWarning)
            dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("height", min=2),
                    3: torch.export.Dim("width", min=2)}
            torch.onnx.export(model, example, str(path), input_names=list(_INPUTS),
                              output_names=[_OUTPUT], opset_version=opset, dynamo=True,
                              dynamic_shapes=(dims, dims), external_data=False,
                              verbose=False)
        else:
            axes = {0: "batch", 2: "height", 3: "width"}
            # The legacy exporter is chosen on purpose, and the tracer's warnings about Python
            # shape checks are covered by verify_onnx running other sizes.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(model, example, str(path), input_names=list(_INPUTS),
                              output_names=[_OUTPUT], opset_version=opset, dynamo=False,
                              dynamic_axes={name: axes for name in (*_INPUTS, _OUTPUT)})
        return path.read_bytes()


def verify_onnx(model: torch.nn.Module, onnx_model: bytes | str | os.PathLike[str],
                tol: float = PARITY_TOL,
                shapes: tuple[tuple[int, int, int], ...] = _VERIFY_SHAPES) -> float:
    """Largest |onnxruntime − PyTorch| over random inputs of ``shapes`` ``(N, H, W)``.

    Raises :class:`WeightsError` when it exceeds ``tol``.
    """
    import torch

    fuser = OnnxFuser(onnx_model, threads=1)
    rng = np.random.default_rng(0)
    worst = 0.0
    for n, h, w in shapes:
        a = rng.random((n, 1, h, w), dtype=np.float32)
        b = rng.random((n, 1, h, w), dtype=np.float32)
        with torch.inference_mode():
            ref = model(torch.from_numpy(a), torch.from_numpy(b)).numpy()
        worst = max(worst, float(np.abs(fuser(a, b) - ref).max()))
    if worst > tol:
        raise WeightsError(f"ONNX graph differs from PyTorch by {worst:.3g} (> {tol})")
    return worst


def export_onnx(model: torch.nn.Module, path: str | os.PathLike[str], *, opset: int = 18,
                dynamo: bool = False, overwrite: bool = False) -> float:
    """Export ``model(a, b) -> f`` to ONNX with dynamic batch, height and width.

    The graph is verified against PyTorch (:func:`verify_onnx`) before it is written atomically
    to ``path``; an existing file is kept unless ``overwrite``. Returns the verified difference.
    """
    path = Path(path)
    if opset not in OPSETS:
        raise ConfigError(f"opset {opset}: LWNet exports at opsets {OPSETS.start}–"
                          f"{OPSETS.stop - 1}")
    if path.suffix.lower() != ".onnx":
        raise InputError(f"{path}: an ONNX graph is written to a .onnx file")
    refuse_existing([path], overwrite)
    # torch's exporters need onnx (and the dynamo one onnxscript) but raise their own error
    # deep in the export when it is missing; the check runs onnxruntime.
    for module in ("onnx", "onnxruntime", *(("onnxscript",) if dynamo else ())):
        optional_import(module, "onnx")
    if dynamo:
        import torch

        if torch.__version__ < DYNAMO_MIN_TORCH:
            raise ConfigError(f"the dynamo exporter needs torch >= {DYNAMO_MIN_TORCH} to export "
                              f"LWNet, this is torch {torch.__version__}; the default TorchScript "
                              "exporter works")
    model = model.eval().cpu()
    data = _onnx_bytes(model, opset, dynamo)
    worst = verify_onnx(model, data)
    atomic_write_bytes(path, data, overwrite=overwrite)
    return worst


class OnnxFuser:
    """Run an exported fusion graph with onnxruntime; called like the torch model.

    ``OnnxFuser(path)(a, b)`` takes ``(N, 1, H, W)`` float arrays in [0, 1] (numpy or torch)
    and returns ``f`` of the same shape and kind. ``threads`` sets onnxruntime's intra-op
    threads (0: its default). :meth:`fuse_batch` is the ``(N, H, W)`` batch-fuser form used by
    the streaming and volume pipelines.
    """

    def __init__(self, model: bytes | str | os.PathLike[str], threads: int = 0) -> None:
        ort = optional_import("onnxruntime", "onnx")

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        source: bytes | str
        if isinstance(model, bytes):
            source, name = model, "ONNX model"  # errors name it, never print its bytes
        else:
            source = name = str(model)
            require_file(Path(source), "ONNX file")
        try:
            self.session = ort.InferenceSession(source, options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise WeightsError(f"{name}: cannot load ONNX graph ({exc})") from None
        names = tuple(i.name for i in self.session.get_inputs())
        if names != _INPUTS:
            raise WeightsError(f"{name}: expected ONNX inputs {_INPUTS}, found {names}")

    def __call__(self, a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor
                 ) -> np.ndarray | torch.Tensor:
        is_torch = type(a).__module__.startswith("torch")
        if is_torch:
            import torch

            ta, tb = cast(torch.Tensor, a), cast(torch.Tensor, b)
            device = ta.device
            a, b = ta.detach().cpu().numpy(), tb.detach().cpu().numpy()
        feed = {"a": np.ascontiguousarray(a, dtype=np.float32),
                "b": np.ascontiguousarray(b, dtype=np.float32)}
        (f,) = self.session.run([_OUTPUT], feed)
        return torch.from_numpy(f).to(device) if is_torch else f

    def fuse_batch(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Fuse ``(N, H, W)`` stacks, floats in [0, 1] or uint8/uint16 (scaled by their range,
        as :func:`lwnet.inference.fuse_batch` takes them); returns float32 ``(N, H, W)``."""
        a, b = unit_float(a, "a"), unit_float(b, "b")
        return cast(np.ndarray, self(a[:, None], b[:, None]))[:, 0]
