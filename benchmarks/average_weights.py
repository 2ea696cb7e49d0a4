"""The mean of several LWNet weights files of one architecture, as one weights file.

Checkpoint averaging in the manner of stochastic weight averaging (Izmailov et al., "Averaging
Weights Leads to Wider Optima and Better Generalization", UAI 2018): a cheap test of whether an
average of a run's last models (``RUN/iterations/NN.safetensors``) fuses better than its final
one, before building weight averaging into training. Its card names the files averaged.

    python benchmarks/average_weights.py OUT.safetensors RUN/iterations/0{4,5,6}.safetensors
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from lwnet.errors import LWNetError
from lwnet.model.weights import load_weights, save_weights, weights_id


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, help="the averaged weights (.safetensors; not overwritten)")
    p.add_argument("weights", nargs="+", type=Path, help="weights files of one architecture")
    p.add_argument("--overwrite", action="store_true", help="replace OUT and its card")
    args = p.parse_args()
    if len(args.weights) < 2:
        p.error("give at least two weights files to average")
    try:
        models = [load_weights(w) for w in args.weights]
    except LWNetError as exc:
        sys.exit(str(exc))
    mixed = [str(w) for w, m in zip(args.weights, models) if m.config != models[0].config]
    if mixed:
        sys.exit(f"{mixed[0]}: another architecture than {args.weights[0]} "
                 f"({models[0].config})")
    states = [m.state_dict() for m in models]
    mean = models[0]
    with torch.no_grad():
        for name, tensor in states[0].items():
            tensor.copy_(torch.stack([s[name] for s in states]).mean(0))
    card = "# Averaged LWNet weights\n\nThe mean of:\n\n" + "".join(
        f"- {weights_id(w)}\n" for w in args.weights)
    try:
        print(save_weights(args.out, mean, card, overwrite=args.overwrite))
    except LWNetError as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
