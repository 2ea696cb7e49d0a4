"""``lwnet fuse``: fuse one pair of images, two folders, or a whole dataset.

The default method is the network, ``lwnet``: weights from ``--weights``, else the shipped model
for ``--pair``, else (single pair) the one the functional image implies (colour → SPECT-MRI,
greyscale → CT-MRI). It runs through PyTorch, or through onnxruntime on an exported graph with
``--onnx PATH``. Folders and datasets go through the bounded, resumable
streaming pipeline (:mod:`lwnet.inference.streaming`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lwnet._text import draws_bars
from lwnet.cli._arguments import count, say_if_same_input
from lwnet.cli._network import (
    add_network_options,
    network_backend,
    network_options_given,
    selected_fuser,
)
from lwnet.errors import InputError
from lwnet.methods.registry import NETWORK

NETWORK_SUMMARY = ("LWNet, the network (default): shipped weights, the SPECT-MRI model for "
                   "SPECT/PET and the CT-MRI model for CT, or --weights")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fuse",
        help="fuse an MRI with a SPECT/PET/CT image, two folders, or a whole dataset",
        description=(
            "Single pair: lwnet fuse [--method NAME] A B -o OUT. "
            "Two folders (pairs matched by file name): lwnet fuse [--method NAME ...] "
            "[--pair SPECT-MRI] DIR_A DIR_B --out OUTDIR, writing OUTDIR/<method>/<name>.png "
            "(the network needs --pair or --weights here: one model serves the whole folder). "
            "Dataset: lwnet fuse [--method NAME ...] --root DATA/harvard "
            "--pair SPECT-MRI [--split test] --out OUTDIR, writing "
            "OUTDIR/<method>/<PAIR>/<id>.png. "
            f"The default method is the network ({NETWORK}) with the shipped weights."
        ),
    )
    p.add_argument("images", nargs="*", metavar="IMAGE",
                   help="A (MRI) and B (SPECT/PET/CT): two images, or two folders")
    p.add_argument("--method", "-m", action="append", metavar="NAME",
                   help=f"fusion method (repeat for folders/datasets; default {NETWORK}, the "
                   "network); see --list-methods")
    p.add_argument("--list-methods", action="store_true",
                   help="print the methods, one line each, and exit")
    p.add_argument("-o", "--out", metavar="PATH",
                   help="output image (single pair) or output folder (folders, dataset)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--luma-out", metavar="PATH", help="also save the fused luminance (single pair)")
    p.add_argument("--root", metavar="DIR", help="dataset mode: Harvard-layout data root")
    p.add_argument("--pair", metavar="PAIR",
                   help="pair type, e.g. SPECT-MRI: the dataset to fuse (dataset mode) and the "
                   "shipped network model to use (SPECT-MRI model for SPECT/PET, CT-MRI for CT)")
    add_network_options(p.add_argument_group(f"network ({NETWORK})"))
    p.add_argument("--split", metavar="NAME", help="dataset mode: only the ids of this split")
    p.add_argument("--jobs", "-j", type=count(), default=1,
                   help="folders/dataset: worker processes for the classical methods")
    p.add_argument("--batch-size", type=count(),
                   help="folders/dataset: pairs per batch (default: 8 with torch, 1 with "
                        "onnx, which gains nothing from batching on CPU)")
    p.add_argument("--redo", action="store_true",
                   help="folders/dataset: recompute existing outputs")
    p.add_argument("--luma", action="store_true",
                   help="folders/dataset: write the fused luminance instead of the colour result")
    p.add_argument("--bits", type=int, choices=(8, 16), default=8,
                   help="bits per sample of greyscale results (a CT's, --luma, --luma-out): "
                        "16 keeps a 16-bit input's precision (PNG or TIFF); colour results "
                        "stay 8-bit (default: 8)")
    p.add_argument("--quiet", "-q", action="store_true", help="folders/dataset: no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lwnet.methods import method_names, method_summary

    known = [NETWORK, *method_names()]
    if args.list_methods:
        if args.images or args.out or args.root:
            raise InputError("--list-methods prints the methods and exits; give it alone")
        summaries = [NETWORK_SUMMARY, *map(method_summary, method_names())]
        width = max(map(len, known))
        print("\n".join(f"{name:<{width}}  {text}" for name, text in zip(known, summaries)))
        return 0
    args.method = args.method or [NETWORK]
    unknown = [m for m in args.method if m not in known]
    if unknown:
        raise InputError(f"unknown fusion method {unknown[0]!r}; known methods: "
                         f"{', '.join(known)}")
    twice = next((m for i, m in enumerate(args.method) if m in args.method[:i]), None)
    if twice:
        raise InputError(f"--method {twice} is given twice")
    given = network_options_given(args)
    if given and NETWORK not in args.method:
        raise InputError(f"{given[0]} applies to the network only (--method {NETWORK})")
    if args.pair and not args.root and (args.weights or args.onnx):
        raise InputError(f"--pair picks a shipped model (outside dataset mode), and "
                         f"{'--weights' if args.weights else '--onnx'} already names the model")
    if not args.out:
        raise InputError("name the output with -o/--out")
    if args.root:
        return _run_many(args)
    missing = next((p for p in args.images if not Path(p).exists()), None)
    if missing is not None:
        raise InputError(f"{missing}: no such file or folder")
    folders = [Path(p).is_dir() for p in args.images]
    if len(args.images) == 2 and folders[0] != folders[1]:
        which = ("A", "B") if folders[0] else ("B", "A")
        raise InputError(f"{args.images[0 if folders[0] else 1]}: {which[0]} is a folder but "
                         f"{which[1]} is a file; give two images or two folders")
    if len(args.images) == 2 and all(folders):
        return _run_many(args)
    return _run_pair(args)


def _run_pair(args: argparse.Namespace) -> int:
    from lwnet.inference import fuse_file_pair
    from lwnet.methods import get_method

    if args.pair and NETWORK not in args.method:
        raise InputError(f"--pair picks the network's shipped model for a single pair; "
                         f"--method {args.method[0]} takes none")
    keys = ("split", "redo", "luma", "batch_size", "quiet")
    many_only = [f"--{k.replace('_', '-')}" for k in keys if getattr(args, k)]
    many_only += ["--jobs"] if args.jobs != 1 else []
    if many_only:
        luma = "; a single pair's luminance: --luma-out PATH" if args.luma else ""
        raise InputError(f"{', '.join(many_only)}: for folders or a dataset, not a single "
                         f"pair{luma}")
    if len(args.images) != 2:
        raise InputError(f"expected two input images A B, got {len(args.images)}")
    if len(args.method) != 1:
        raise InputError("a single pair takes exactly one --method")
    a_path, b_path = args.images
    pair_type = None
    if args.method[0] == NETWORK:
        from lwnet.data import read_image
        from lwnet.inference import default_pair_type
        from lwnet.inference.streaming import single_pair

        pair_type = args.pair or default_pair_type(read_image(b_path))
        fuser, record = selected_fuser(args, pair_type)
        source = f"{NETWORK} {record}"  # as folder mode records it
        method = single_pair(fuser, source)
    else:
        method = get_method(args.method[0])
        source = args.method[0]
    fuse_file_pair(method, a_path, b_path, args.out, luma_out=args.luma_out, bits=args.bits,
                   overwrite=args.overwrite, source=source)
    for out in filter(None, (args.out, args.luma_out)):
        print(f"wrote {out}: {source}{_format_note(out)}")
    if pair_type == "CT-MRI" and not (args.pair or args.weights or args.onnx):
        # Grey could be a PET or SPECT too: the SPECT-MRI model fuses those clearly better
        # (benchmarks/grey_functional.py).
        print("note: B is greyscale, so the CT-MRI model fused it; for a greyscale PET or "
              "SPECT, --pair PET-MRI takes the SPECT-MRI model")
    say_if_same_input(a_path, b_path)
    return 0


def _format_note(path: str) -> str:
    """What a file format loses: the record of what made the image (kept by PNG and TIFF
    only), for JPEG and WebP grey levels too, and for GIF colours (a 256-entry palette)."""
    from lwnet.data.io import image_format

    fmt = image_format(path)
    if fmt in ("PNG", "TIFF"):
        return ""
    loss = {"JPEG": " and is lossy", "WEBP": " and is lossy",
            "GIF": " and at most 256 colours"}.get(fmt)
    keep = f"{loss} (PNG or TIFF keep every level)" if loss else ""
    return f"; note: {fmt} keeps no record of what made the image{keep}"


def _run_many(args: argparse.Namespace) -> int:
    """Folder or dataset mode, through the streaming pipeline."""
    from lwnet.data.datasets import modality_folders
    from lwnet.inference import fuse_dataset, fuse_folders
    from lwnet.inference.streaming import default_batch_size

    if args.root:
        if args.images or args.luma_out:
            raise InputError("dataset mode (--root) takes no input images and no --luma-out "
                             "(use --luma)")
        if not args.pair:
            raise InputError("dataset mode needs --pair (e.g. SPECT-MRI)")
        modality_folders(args.root, args.pair)  # before any work; its error names what exists
    else:
        if args.split:
            raise InputError("--split needs dataset mode (--root)")
        if args.luma_out:
            raise InputError("--luma-out is for a single pair; folders take --luma")
        if NETWORK in args.method and not (args.pair or args.weights or args.onnx):
            raise InputError(f"folder mode with the network ({NETWORK}) needs --pair, "
                             "--weights or --onnx to choose the model")
    fusers, models = {}, {}
    if NETWORK in args.method:
        fusers[NETWORK], models[NETWORK] = selected_fuser(args, args.pair)
    options = dict(jobs=args.jobs, redo=args.redo or args.overwrite, luma=args.luma,
                   bits=args.bits,
                   fusers=fusers, models=models, progress=draws_bars(not args.quiet),
                   batch_size=(default_batch_size(network_backend(args)) if args.batch_size is None
                               else args.batch_size))
    if args.root:
        done = fuse_dataset(args.method, args.root, args.pair, args.out, split=args.split,
                            **options)
    else:
        dir_a, dir_b = args.images
        done = fuse_folders(args.method, dir_a, dir_b, args.out, **options)
    speed = f" ({done.pairs_per_second:.1f} pairs/s)" if done.fused else ""
    print(f"{done.written} written, {done.skipped} already present, under {args.out}{speed}")
    if not args.root:
        say_if_same_input(*args.images)
    return 0
