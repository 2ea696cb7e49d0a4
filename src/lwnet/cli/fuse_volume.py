"""``lwnet fuse-volume``: fuse registered NIfTI volumes or DICOM series slice by slice."""

from __future__ import annotations

import argparse

from lwnet._text import counted
from lwnet.cli._arguments import count, say_if_same_input
from lwnet.cli._network import add_network_options, network_backend, selected_fuser
from lwnet.data.volumes import DEFAULT_WINDOW, OUTPUT_DTYPES
from lwnet.errors import ConfigError
from lwnet.methods.registry import NETWORK


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fuse-volume", help="fuse an MRI volume with a registered SPECT/PET/CT volume",
        description="Fuse two registered volumes (NIfTI .nii/.nii.gz files, DICOM series "
                    "folders or single DICOM files) slice by slice; the result is NIfTI with "
                    "the MRI's geometry.")
    p.add_argument("mri", help="MRI volume: .nii/.nii.gz file, DICOM series folder or DICOM "
                               "file")
    p.add_argument("functional", help="SPECT/PET/CT volume on the same grid")
    p.add_argument("-o", "--output", required=True, help="output .nii or .nii.gz")
    p.add_argument("--axis", type=int, default=2, choices=(0, 1, 2),
                   help="voxel axis to slice along (default: 2)")
    p.add_argument("--batch-size", type=count(),
                   help="slices per batch (default: 8 with torch, 1 with onnx)")
    p.add_argument("--window", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="percentiles mapped to 0 and 1 (default: "
                        f"{DEFAULT_WINDOW[0]:g} {DEFAULT_WINDOW[1]:g})")
    p.add_argument("--no-window", action="store_true",
                   help="use the values as they are (they must lie in [0, 1])")
    p.add_argument("--no-keep-zero", action="store_true",
                   help="do not treat 0 as background (e.g. CT in Hounsfield units)")
    p.add_argument("--fill-value", type=float,
                   help="replace NaN/infinite voxels by this value (default: error)")
    p.add_argument("--affine-tol", type=float, default=1e-3,
                   help="largest affine difference accepted between the volumes (default: 1e-3)")
    p.add_argument("--dtype", choices=OUTPUT_DTYPES, default="float32",
                   help="output data type; integers are scaled so readers see [0, 1]")
    p.add_argument("--colour-dir", help="also write colour PNGs of the fused slices here")
    p.add_argument("--cmap",
                   help="matplotlib colour map of the functional image in --colour-dir "
                        "(default: gray for --pair CT-MRI, else hot)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    group = p.add_argument_group("what fuses")
    group.add_argument("--method", help="a built-in classical method instead of the network")
    group.add_argument("--pair", dest="pair_type",
                       help="pair type whose shipped network model to use (default: CT-MRI for "
                            "a DICOM series of Modality CT, else SPECT-MRI)")
    add_network_options(group)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lwnet.data.io import is_nifti_path
    from lwnet.inference.streaming import default_batch_size
    from lwnet.inference.volume import (
        VolumeOptions,
        default_cmap,
        fuse_volume_files,
        pair_type_for_modality,
        volume_modality,
    )

    if args.affine_tol < 0:
        raise ConfigError(f"--affine-tol must not be negative, not {args.affine_tol:g}")
    # Options that would be ignored are refused, so a run does not do other than asked.
    if args.no_window and (args.window or args.no_keep_zero):
        raise ConfigError(f"--no-window uses the values as they are, so "
                          f"{'--window' if args.window else '--no-keep-zero'} has no window to "
                          "apply to")
    if args.cmap and not args.colour_dir:
        raise ConfigError("--cmap colours the PNG views that --colour-dir DIR writes; give "
                          "--colour-dir too")
    modality = "" if args.pair_type else volume_modality(args.functional)
    pair_type = args.pair_type or pair_type_for_modality(modality)
    fuser, record = selected_fuser(args, pair_type, args.method)
    source = args.method or f"{NETWORK} {record}"
    options = VolumeOptions(
        window=None if args.no_window else tuple(args.window or DEFAULT_WINDOW),
        keep_zero=not args.no_keep_zero, fill_value=args.fill_value, axis=args.axis,
        batch_size=(default_batch_size(network_backend(args)) if args.batch_size is None
                    else args.batch_size),
        affine_tol=args.affine_tol, dtype=args.dtype)
    fused = fuse_volume_files(args.mri, args.functional, args.output, fuser, options,
                              colour_dir=args.colour_dir,
                              cmap=args.cmap or default_cmap(pair_type),
                              overwrite=args.overwrite,
                              source=source)
    print(f"wrote {args.output}: {counted(fused.shape[args.axis], 'slice')} of "
          f"{'x'.join(str(s) for i, s in enumerate(fused.shape) if i != args.axis)}, fused by "
          f"{source}")
    if not (args.pair_type or args.method or args.weights or args.onnx):
        why = (f"DICOM Modality {modality}" if modality else
               "its file records no modality" if is_nifti_path(args.functional) else
               "no DICOM Modality")
        other = "SPECT-MRI for SPECT or PET" if pair_type == "CT-MRI" else "CT-MRI for CT"
        print(f"  the shipped {pair_type} model, chosen from the functional input ({why}); "
              f"--pair names another ({other})")
    say_if_same_input(args.mri, args.functional)
    return 0
