"""``lwnet export``: write LWNet as an ONNX graph with dynamic batch, height and width."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="export LWNet to ONNX",
        description="Export LWNet weights as an ONNX graph (inputs a, b and output f, float32 "
                    "N x 1 x H x W, all sizes dynamic), verified against PyTorch.")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--weights", help="LWNet weights (.safetensors)")
    source.add_argument("--pair", dest="pair_type", help="shipped weights of this pair type")
    p.add_argument("-o", "--output", required=True, help="output .onnx file")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset, 11 to 23 (default: 18)")
    p.add_argument("--dynamo", action="store_true",
                   help="use the torch.export-based exporter (recent torch only) instead of "
                        "the TorchScript one")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lwnet.inference import load_model, shipped_weights
    from lwnet.inference.onnx import export_onnx

    weights = args.weights or shipped_weights(args.pair_type or "SPECT-MRI")  # the default
    worst = export_onnx(load_model(weights), args.output, opset=args.opset, dynamo=args.dynamo,
                        overwrite=args.overwrite)
    print(f"wrote {args.output}: {Path(weights).name} (max |onnxruntime - torch| = "
          f"{worst:.2g})")
    return 0
