"""``lwnet fuse``: fuse one pair of images, or a whole dataset, with a registered method."""

from __future__ import annotations

import argparse
from pathlib import Path

from lwnet.errors import InputError, OutputExistsError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fuse",
        help="fuse an MRI with a SPECT/PET/CT image, or a whole dataset",
        description=(
            "Single pair: lwnet fuse --method NAME A B -o OUT. "
            "Dataset: lwnet fuse --method NAME [--method NAME ...] --root DATA/harvard "
            "--pair SPECT-MRI [--split test] --out OUTDIR, writing OUTDIR/<method>/<PAIR>/<id>.png."
        ),
    )
    p.add_argument("images", nargs="*", metavar="IMAGE", help="A (MRI) and B (SPECT/PET/CT)")
    p.add_argument("--method", "-m", action="append", metavar="NAME",
                   help="fusion method (repeat in dataset mode); see --list-methods")
    p.add_argument("--list-methods", action="store_true", help="print the method names and exit")
    p.add_argument("-o", "--out", metavar="PATH",
                   help="output image (single pair) or output folder (dataset)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--luma-out", metavar="PATH", help="also save the fused luminance (single pair)")
    p.add_argument("--root", metavar="DIR", help="dataset mode: Harvard-layout data root")
    p.add_argument("--pair", metavar="PAIR", help="dataset mode: pair type, e.g. SPECT-MRI")
    p.add_argument("--split", metavar="NAME", help="dataset mode: only the ids of this split")
    p.add_argument("--jobs", "-j", type=int, default=1, help="dataset mode: worker processes")
    p.add_argument("--redo", action="store_true", help="dataset mode: recompute existing outputs")
    p.add_argument("--luma", action="store_true",
                   help="dataset mode: write the fused luminance instead of the colour result")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lwnet.methods import method_names

    if args.list_methods:
        print("\n".join(method_names()))
        return 0
    if not args.method:
        raise InputError("choose a method with --method NAME (see --list-methods)")
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
    fn = get_method(args.method[0])
    outputs = [Path(args.out)] + ([Path(args.luma_out)] if args.luma_out else [])
    for path in outputs:  # refuse before computing, so nothing is half-written
        if path.exists() and not args.overwrite:
            raise OutputExistsError(f"{path}: already exists (use --overwrite to replace it)")
    a_path, b_path = args.images
    a, b = read_image(a_path), read_image(b_path)
    check_same_size(a, b, a_path, b_path)
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
    done = fuse_dataset(args.method, args.root, args.pair, args.out, split=args.split,
                        jobs=args.jobs, redo=args.redo or args.overwrite, luma=args.luma)
    print(f"{done.written} written, {done.skipped} already present, under {args.out}")
    return 0
