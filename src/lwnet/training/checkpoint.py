"""Atomic, pickle-free checkpoints of a training run (SPEC §3.6).

One ``.safetensors`` file holds every tensor (weights, Adam moments, pools, pseudo labels, the
torch RNG state); its string metadata holds one JSON document with everything else (position in
the run, optimiser hyper-parameters, numpy/python RNG states, the log). The file is written to a
temporary name and renamed, so a run killed at any moment leaves either the old or the new
checkpoint, never a torn one.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from safetensors.torch import save

from lwnet._files import atomic_write_bytes
from lwnet.errors import WeightsError
from lwnet.model.weights import read_weights


def optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    """Split an optimiser state dict into flat tensors ``optim.<param>.<key>`` and JSON groups."""
    sd = opt.state_dict()
    tensors = {}
    for pid, st in sd["state"].items():
        for key, val in st.items():
            tensors[f"optim.{pid}.{key}"] = torch.as_tensor(val).clone()
    return tensors, sd["param_groups"]


def load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                   groups: list) -> None:
    """Inverse of :func:`optimizer_tensors`."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, val in tensors.items():
        if name.startswith("optim."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = val
    opt.load_state_dict({"state": state, "param_groups": groups})
    # safetensors stores tensors contiguous; lay each moment out like its parameter again
    # (channels-last convolution weights), as fused CUDA Adam requires.
    for group in opt.param_groups:
        for param in group["params"]:
            for key, val in opt.state[param].items():
                if key != "step" and val.shape == param.shape:
                    opt.state[param][key] = torch.empty_like(param).copy_(val)


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """RNG states of torch (tensor), numpy and python (JSON-able)."""
    np_state = cast(tuple[Any, ...], np.random.get_state())  # the legacy tuple
    py_state = random.getstate()
    return ({"rng.torch": torch.get_rng_state()},
            {"numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
             "python": [py_state[0], list(py_state[1]), py_state[2]]})


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Restore the torch, NumPy and Python random states that :func:`rng_state` saved."""
    torch.set_rng_state(tensors["rng.torch"])
    n = meta["numpy"]
    np.random.set_state((n[0], np.array(n[1], dtype=np.uint32), *n[2:]))
    p = meta["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


def save_checkpoint(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write tensors + JSON metadata atomically to ``path`` (replacing it)."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write_bytes(path, save(tensors, metadata={"state": json.dumps(meta)}), overwrite=True)


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Goes through :func:`lwnet.model.weights.read_weights`, so a pickle is refused unread.
    """
    tensors, metadata = read_weights(path)
    try:
        return tensors, json.loads(metadata["state"])
    except (KeyError, ValueError) as exc:
        raise WeightsError(f"{path}: not a readable training checkpoint ({exc})") from None
