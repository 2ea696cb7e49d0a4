"""``lwnet fuse``: fuse one pair of images, or a whole dataset, with a registered method.

The default method is the network, ``lwnet``: weights from ``--weights``, else the shipped model
for ``--pair``, else (single pair) the one the functional image implies (colour → SPECT-MRI,
greyscale → CT-MRI). It is registered under that name once its weights are known.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lwnet.errors import InputError, OutputExistsError

#: Registry name of the network; the default method.
NETWORK = "lwnet"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fuse",
        help="fuse an MRI with a SPECT/PET/CT image, or a whole dataset",
        description=(
            "Single pair: lwnet fuse [--method NAME] A B -o OUT. "
            "Dataset: lwnet fuse [--method NAME ...] --root DATA/harvard "
            "--pair SPECT-MRI [--split test] --out OUTDIR, writing OUTDIR/<method>/<PAIR>/<id>.png. "
            f"The default method is the network ({NETWORK}) with the shipped weights."
        ),
    )
    p.add_argument("images", nargs="*", metavar="IMAGE", help="A (MRI) and B (SPECT/PET/CT)")
    p.add_argument("--method", "-m", action="append", metavar="NAME",
                   help=f"fusion method (repeat in dataset mode; default {NETWORK}, the "
                   "network); see --list-methods")
    p.add_argument("--list-methods", action="store_true", help="print the method names and exit")
    p.add_argument("-o", "--out", metavar="PATH",
                   help="output image (single pair) or output folder (dataset)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--luma-out", metavar="PATH", help="also save the fused luminance (single pair)")
    p.add_argument("--root", metavar="DIR", help="dataset mode: Harvard-layout data root")
    p.add_argument("--pair", metavar="PAIR",
                   help="pair type, e.g. SPECT-MRI: the dataset to fuse (dataset mode) and the "
                   "shipped network model to use (SPECT-MRI model for SPECT/PET, CT-MRI for CT)")
    p.add_argument("--weights", metavar="PATH", help=f"{NETWORK}: weights file (safetensors)")
    p.add_argument("--device", default="cpu", help=f"{NETWORK}: torch device (cpu, cuda, ...)")
    p.add_argument("--split", metavar="NAME", help="dataset mode: only the ids of this split")
    p.add_argument("--jobs", "-j", type=int, default=1, help="dataset mode: worker processes")
    p.add_argument("--redo", action="store_true", help="dataset mode: recompute existing outputs")
    p.add_argument("--luma", action="store_true",
                   help="dataset mode: write the fused luminance instead of the colour result")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lwnet.methods import method_names

    if args.list_methods:
        print("\n".join([NETWORK] + [m for m in method_names() if m != NETWORK]))
        return 0
    args.method = args.method or [NETWORK]
    if args.weights and NETWORK not in args.method:
        raise InputError(f"--weights applies to the network only (--method {NETWORK})")
    if not args.out:
        raise InputError("name the output with -o/--out")
    if args.root:
        return _run_dataset(args)
    return _run_pair(args)


def _run_pair(args: argparse.Namespace) -> int:
    from lwnet.data import check_same_size, fuse_in_luma, read_image, write_image
    from lwnet.methods import get_method

    if len(args.images) != 2:
        raise InputError(f"expected two input images A B, got {len(args.images)}")
    if len(args.method) != 1:
        raise InputError("a single pair takes exactly one --method")
    outputs = [Path(args.out)] + ([Path(args.luma_out)] if args.luma_out else [])
    for path in outputs:  # refuse before computing, so nothing is half-written
        if path.exists() and not args.overwrite:
            raise OutputExistsError(f"{path}: already exists (use --overwrite to replace it)")
    a_path, b_path = args.images
    a, b = read_image(a_path), read_image(b_path)
    check_same_size(a, b, a_path, b_path)
    if args.method[0] == NETWORK:
        from lwnet.inference import default_pair_type

        _register_network(args, args.pair or default_pair_type(b))
    fn = get_method(args.method[0])
    result, fused_luma = fuse_in_luma(fn, a, b)
    write_image(args.out, result, overwrite=args.overwrite)
    if args.luma_out:
        write_image(args.luma_out, fused_luma, overwrite=args.overwrite)
    return 0


def _run_dataset(args: argparse.Namespace) -> int:
    from lwnet.methods import fuse_dataset

    if args.images:
        raise InputError("dataset mode (--root) takes no input images")
    if not args.pair:
        raise InputError("dataset mode needs --pair (e.g. SPECT-MRI)")
    if args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    written = skipped = 0
    # The network runs in this process (batch of one pair at a time, all threads); the
    # classical methods may use worker processes.
    groups = [[m for m in args.method if m == NETWORK], [m for m in args.method if m != NETWORK]]
    for methods, jobs in zip(groups, (1, args.jobs)):
        if not methods:
            continue
        if methods == [NETWORK]:
            _register_network(args, args.pair)
        done = fuse_dataset(methods, args.root, args.pair, args.out, split=args.split,
                            jobs=jobs, redo=args.redo or args.overwrite, luma=args.luma)
        written, skipped = written + done.written, skipped + done.skipped
    print(f"{written} written, {skipped} already present, under {args.out}")
    return 0


def _register_network(args: argparse.Namespace, pair_type: str) -> None:
    """Register the network as method ``lwnet`` with the weights the options select."""
    from lwnet.inference import load_model, network_method
    from lwnet.methods import register_method

    model = load_model(args.weights, pair_type=pair_type, device=args.device)
    register_method(NETWORK, network_method(model), replace=True)
