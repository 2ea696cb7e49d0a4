"""The network options shared by ``lwnet fuse`` and ``lwnet fuse-volume``, and the fuser they
select."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lwnet.cli._arguments import count
from lwnet.errors import ConfigError

if TYPE_CHECKING:
    from lwnet.inference.streaming import BatchFuser


def add_network_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--weights``, ``--device``, ``--backend``, ``--onnx`` and ``--threads``: what runs the
    network, and on how many CPU threads."""
    parser.add_argument("--weights", metavar="PATH",
                        help="network weights (.safetensors); default: the shipped model of "
                             "the pair type")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")
    parser.add_argument("--backend", choices=("torch", "onnx"),
                        help="run the network with PyTorch or onnxruntime (default: onnx with "
                             "--onnx, else torch)")
    parser.add_argument("--onnx", metavar="PATH",
                        help="run this exported graph (lwnet export) through onnxruntime")
    parser.add_argument("--threads", type=count(0), default=0,
                        help="CPU threads of the network (default 0: the library's choice)")


def network_options_given(args: argparse.Namespace) -> list[str]:
    """The network options on the command line, as typed: a run without the network refuses
    them, since they would do nothing."""
    return [option for given, option in (
        (args.weights, "--weights"), (args.backend == "onnx", "--backend onnx"),
        (args.onnx, "--onnx"), (args.device != "cpu", "--device"),
        (args.threads, "--threads")) if given]


def network_backend(args: argparse.Namespace) -> str:
    """``"onnx"`` or ``"torch"``: what runs the network. ``--onnx PATH`` alone says onnx."""
    if args.onnx and args.backend == "torch":
        raise ConfigError("--onnx runs the graph through onnxruntime; drop --backend torch")
    return "onnx" if args.onnx or args.backend == "onnx" else "torch"


def selected_fuser(args: argparse.Namespace, pair_type: str | None,
                   method: str | None = None) -> tuple[BatchFuser, str]:
    """The batch fuser the options select, and what outputs record of it: ``method``'s name,
    or the network's file and digest (:func:`lwnet.inference.network_fuser`).

    ``method`` names a built-in classical method; otherwise the network runs, through PyTorch on
    ``--device`` (``--weights``, or the shipped model of ``pair_type``) or, with
    ``--onnx``, through onnxruntime on that graph, on ``--threads`` CPU threads (0: the
    library's default).
    """
    if method is not None:
        if network_options_given(args):
            raise ConfigError("--method runs a classical method with NumPy on the CPU; it takes "
                              "no weights, ONNX graph, backend, device or threads")
        from lwnet.inference.streaming import pairwise_fuser
        from lwnet.methods import get_method

        return pairwise_fuser(get_method(method)), method
    if network_backend(args) == "onnx":
        if args.weights:
            raise ConfigError("onnxruntime runs the graph given by --onnx, not --weights")
        if not args.onnx:
            raise ConfigError("--backend onnx needs --onnx PATH (make one with lwnet export)")
    from lwnet.inference import network_fuser

    return network_fuser(args.weights, pair_type, device=args.device, onnx=args.onnx,
                         threads=args.threads)
