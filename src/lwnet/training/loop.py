"""The SPI training loop (SPEC §3): train on L ∪ P, screen U and P, repeat; resumable, DDP-ready.

Run folder layout (only rank 0 writes):

* ``config.json`` — the resolved configuration;
* ``environment.json`` — what the run computed with (processor, kernels, threads, versions,
  commit): a record for its start and one for each resume elsewhere, since bit-for-bit equal
  weights need them all equal;
* ``checkpoint.safetensors`` — the latest state, rewritten atomically after every epoch and
  after every screening (see :mod:`lwnet.training.checkpoint`);
* ``log.csv`` — one row per iteration (|L|, |P|, admitted, refined, mean label score, pool
  label score and label gain, training loss, validation scores);
* ``iterations/NN.safetensors`` + ``NN.md`` — the model at the end of iteration NN (for curves
  over the iterations, or an earlier model);
* ``weights.safetensors`` + ``weights.md`` — the final model.

Exact resume: the order of the samples of epoch e in iteration t comes from a generator seeded by
(seed, t, e), and a checkpoint is taken at every epoch boundary, so resuming re-runs the
interrupted epoch from the same state and data order and ends with the same weights.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lwnet._device import use_deterministic
from lwnet._environment import RUN_ENVIRONMENT_KEYS, run_environment, torch_kernels
from lwnet._files import atomic_write_bytes, refuse_inputs_as_outputs, remove_stale_temps
from lwnet._text import changes, counted, duration, progress_mode, say
from lwnet.errors import ConfigError, InputError, WeightsError
from lwnet.model import LWNet
from lwnet.model.weights import load_weights, save_weights, shipped_weights, weights_id
from lwnet.parallel import Workers
from lwnet.training import distributed as ddp
from lwnet.training.card import LOG_FIELDS, model_card
from lwnet.training.checkpoint import (
    load_checkpoint,
    load_optimizer,
    optimizer_tensors,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from lwnet.training.config import TrainConfig, check_resume_config, validate
from lwnet.training.data import PatchSet, build_patch_set, data_root, external_root, to_tensor
from lwnet.training.lock import in_use_error, run_folder_lock
from lwnet.training.loss import spi_loss, unsupervised_loss
from lwnet.training.pools import Pools, split_pools
from lwnet.training.schedule import learning_rate
from lwnet.training.score import Score, get_score, ssim_sum
from lwnet.training.screening import cached_candidate_scores, predict, score_batches, screen

#: The network and the loss, eager or compiled: each takes tensors and gives one.
Step = Callable[..., torch.Tensor]

CHECKPOINT = "checkpoint.safetensors"
ENVIRONMENT = "environment.json"
ITERATIONS = "iterations"  # the folder of each iteration's model


def epoch_order(cfg: TrainConfig, n_items: int, iteration: int, epoch: int) -> np.ndarray:
    """Sample order of one epoch, a pure function of (seed, iteration, epoch)."""
    rng = np.random.default_rng([cfg.seed, iteration, epoch])
    order = rng.permutation(n_items)
    return order[:cfg.samples_per_epoch] if cfg.samples_per_epoch else order


def init_weights_path(cfg: TrainConfig) -> Path | None:
    """The weights file a run starts from: None (random init), the shipped model of
    ``pair_type`` for ``init_weights = "shipped"``, or the file named."""
    if not cfg.init_weights:
        return None
    if cfg.init_weights == "shipped":
        return shipped_weights(cfg.pair_type)
    return Path(cfg.init_weights)


def build_model(cfg: TrainConfig, init: Path | None = None) -> LWNet:
    """The network of ``cfg.model``: seeded random weights, or those of the weights file
    ``init``, whose architecture must be the same in every setting (a :class:`WeightsError`
    names the file and the settings that differ)."""
    torch.manual_seed(cfg.seed)
    try:
        model = LWNet(**cfg.model)
    except TypeError as exc:
        raise ConfigError(f"config table 'model': {exc}") from None
    if init is not None:
        start = load_weights(init)
        changed = [f"{k} {v!r} (file) vs {model.config[k]!r}" for k, v in start.config.items()
                   if model.config.get(k) != v]
        if changed:
            raise WeightsError(f"{init}: initial weights of another architecture than the "
                               f"config's model: {', '.join(changed)} (set model.<key> to match)")
        model.load_state_dict(start.state_dict())
    return model.train()


def _write_log(run_dir: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LOG_FIELDS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(run_dir / "log.csv", buf.getvalue().encode(), overwrite=True)


def train(cfg: TrainConfig, run_dir: str | Path, resume: bool = False,
          progress: bool = True) -> Path:
    """Run (or resume) one training run in ``run_dir``; returns the final weights path.

    The config is validated first (one built as ``TrainConfig(...)`` too). Training sets
    process-wide state (torch threads, deterministic algorithms, the CPU random generators); it
    is put back as it was on return, so a notebook goes on as before.

    ``mode``: ``spi`` (SPEC §3.5), ``labels_only`` (baseline (a): the same schedule on the
    initial labels, never screening, so SPEC §3.7's T = 1 of T·E epochs; its iterations only
    mark log rows and checkpoints) or ``unsupervised`` (baseline (b): every pool patch, loss
    :func:`unsupervised_loss`). Under torchrun the model is wrapped in DDP and screening is
    sharded; only rank 0 writes. ``progress``: tqdm bars on stderr; false: a line per step instead
    (each label candidate computed, their scoring, each epoch), for a log file.
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(_torch_state_kept())  # validating builds a model: seeds move
        cfg = validate(cfg)
        run_dir = Path(run_dir)
        if run_dir.exists() and not run_dir.is_dir():
            raise InputError(f"{run_dir}: is a file, not a run folder")
        if resume and not run_dir.exists():
            raise InputError(f"{run_dir}: no such run folder, so nothing to resume; start the "
                             "run without --resume")
        refuse_inputs_as_outputs([run_dir, *([cfg.cache_dir] if cfg.cache_dir else [])],
                                 [data_root(cfg), *filter(None, [external_root(cfg)])])
        rank, world, device = ddp.init()
        # Rank 0 holds the folder; every rank learns whether it got it before any work, so a
        # refused torchrun job stops whole instead of computing into the other run's cache.
        refused = None
        if rank == 0:
            try:
                stack.enter_context(run_folder_lock(run_dir))
            except InputError as exc:
                refused = exc
        if not ddp.all_ranks(refused is None, world):
            raise refused or in_use_error(run_dir)
        return _train(cfg, run_dir, resume, progress, rank, world, device)


@contextlib.contextmanager
def _torch_state_kept() -> Iterator[None]:
    """Put back the process-wide state that training sets: torch's CPU threads, its
    deterministic-algorithms switch, and the torch, NumPy and Python random states."""
    threads = torch.get_num_threads()
    deterministic = (torch.are_deterministic_algorithms_enabled(),
                     torch.is_deterministic_algorithms_warn_only_enabled())
    tensors, meta = rng_state()
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
        set_rng_state(tensors, meta)


def _train(cfg: TrainConfig, run_dir: Path, resume: bool, progress: bool, rank: int, world: int,
           device: torch.device) -> Path:
    """:func:`train` in its locked run folder, once the process group (if any) is up."""
    torch.set_num_threads(cfg.threads)
    use_deterministic(device)
    main = rank == 0
    shown = progress_mode(progress, main)
    ckpt_path = run_dir / CHECKPOINT
    if main and run_dir.is_dir():  # a killed run's half-written checkpoint or config
        remove_stale_temps(run_dir)
    if resume:
        if not ckpt_path.is_file() and not (run_dir / "config.json").is_file():
            raise InputError(f"{run_dir}: holds no run to resume (no checkpoint, no "
                             "config.json); start one without --resume")
        if not ckpt_path.is_file():
            raise InputError(f"{ckpt_path}: no checkpoint to resume from (the run stopped "
                             "before its first epoch ended); start it again without --resume, "
                             "which reuses the cached label candidates")
        check_resume_config(cfg, run_dir)
        environments = read_environments(run_dir)
    elif (run_dir / "weights.safetensors").exists():
        raise InputError(f"{run_dir}: holds a finished run (its weights.safetensors); train "
                         "again into a new --run-dir")
    elif ckpt_path.exists():
        raise InputError(f"{run_dir}: already holds a run (use --resume to continue it, or a "
                         "new --run-dir)")
    else:
        environments = []
    # Built first, so that an unfit init_weights file stops the run before any other work. A
    # resumed run takes its weights from the checkpoint and needs no init file.
    init = None if resume else init_weights_path(cfg)
    model = build_model(cfg, init).to(device)
    init_note = "" if init is None else weights_id(init)
    score = get_score(cfg.score, cfg.vif_weight, cfg.qcb_weight)
    cache = Path(cfg.cache_dir) if cfg.cache_dir else run_dir / "cache"
    if main:
        say(f"{cfg.pair_type}, {cfg.mode}, preset {cfg.preset or 'custom'}: T = {cfg.iterations} "
            f"× E = {counted(cfg.epochs, 'epoch')} of {cfg.samples_text()}, "
            f"batch {cfg.batch_size}, "
            f"on {torch_kernels(device)}"
            + (f", {counted(torch.get_num_threads(), 'thread')}" if device.type == "cpu" else "")
            + (f"; label candidates computed once, then cached in {cache}"
               if cfg.uses_labels else ""))
    with Workers(cfg.workers, preload=["lwnet.training.screening"]) as workers:
        ps, pool, val = build_patch_set(cfg, cache, workers, shown)
        if cfg.uses_labels:
            ps.cand_scores = cached_candidate_scores(cfg, ps, score, cache, rank, world, device,
                                                     shown, workers)
        # Written once the data is in hand, so a run that fails on its data leaves no run
        # folder (only the caches of what it did compute).
        if main and not resume:
            atomic_write_bytes(run_dir / "config.json",
                               json.dumps(cfg.to_dict(), indent=2).encode(), overwrite=True)
        pools = None
        if cfg.uses_labels:
            lab, unl = split_pools(len(pool), cfg.labelled_count(len(pool)), cfg.seed)
            pools = Pools(ps, pool[lab], pool[unl])
        if main:
            _say_data(cfg, ps, pool, pools, val, resume)

        net = ddp.wrap(model, world)
        opt = adam(net.parameters(), cfg.lr, device)
        step = TrainingStep(net, cfg, device)
        it0, ep0, rows, losses = 0, 0, [], []
        if resume:
            meta = _restore(ckpt_path, cfg, ps, model, opt, pools)
            it0, ep0, rows, losses = meta["iteration"], meta["epoch"], meta["log"], meta["losses"]
            init_note = meta.get("init", "")

        def checkpoint(iteration: int, epoch: int) -> None:
            if not main:
                return
            ot, groups = optimizer_tensors(opt)
            rt, rmeta = rng_state()
            tensors = {**{f"model.{k}": v for k, v in model.state_dict().items()}, **ot,
                       **(pools.tensors() if pools is not None else {}), **rt}
            save_checkpoint(ckpt_path, tensors, {"iteration": iteration, "epoch": epoch,
                                                 "param_groups": groups, "log": rows,
                                                 "losses": losses, "init": init_note,
                                                 "label_sources": ps.names,
                                                 **rmeta})

        if main:
            environments = _record_environment(run_dir, environments, device, world,
                                               training_left=it0 < cfg.iterations)
        if main and resume:
            at = f"epoch {ep0 + 1}" if ep0 < cfg.epochs else "its screening"
            say(f"resuming at iteration {it0 + 1}/{cfg.iterations}, {at}"
                if it0 < cfg.iterations else f"all {cfg.iterations} iterations are done")
        began, epochs_run = time.perf_counter(), 0
        for it in range(it0, cfg.iterations):
            for ep in range(ep0 if it == it0 else 0, cfg.epochs):
                start = time.perf_counter()
                loss = _train_epoch(cfg, step, opt, ps, pools, pool, it, ep, rank, world, device,
                                    shown == "bars")
                losses.append(ddp.mean_over_ranks(loss, world))
                checkpoint(it, ep + 1)
                epochs_run += 1
                if shown == "lines":  # the bars say as much
                    # The mean time of this process's epochs so far, screening included.
                    left = ((cfg.iterations - it - 1) * cfg.epochs + cfg.epochs - ep - 1) * (
                        time.perf_counter() - began) / epochs_run
                    say(f"iteration {it + 1}/{cfg.iterations} epoch {ep + 1}/{cfg.epochs}: "
                        f"loss {losses[-1]:.4f} ({duration(time.perf_counter() - start)}"
                        + (f"; about {duration(left)} left)" if left >= 1 else ")"))
            row: dict = {"iteration": it + 1, "train_loss": float(np.mean(losses[-cfg.epochs:]))}
            if pools is not None:
                row.update(_screen_pools(cfg, model, ps, pools, score, rank, world, device,
                                         workers))
            if len(val):
                row.update(_validate(model, ps, val, score, device))
            rows.append(row)
            if main:  # before the checkpoint, so that a run killed in between writes it on resume
                _save_weights(run_dir / ITERATIONS / f"{it + 1:02d}.safetensors", model, cfg, ps,
                              rows, init_note, environments)
            checkpoint(it + 1, 0)
            if main:
                _write_log(run_dir, rows)
                say(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                             for k, v in row.items()))
        out = run_dir / "weights.safetensors"
        if main:
            _save_weights(out, model, cfg, ps, rows, init_note, environments)
    ddp.shutdown()
    return out


def _say_data(cfg: TrainConfig, ps: PatchSet, pool: np.ndarray, pools: Pools | None,
              val: np.ndarray, resume: bool) -> None:
    """Say what the run trains on, and when an epoch's samples outnumber its patches."""
    say(f"{counted(len(ps.a), 'training pair')}: a pool of {len(pool)} patches"
        + (f" (|L| = {len(pools.L)}, |U| = {len(pools.U)})" if pools else "")
        + f", {len(val)} held out; label sources: {', '.join(ps.names) or 'none'}")
    first = len(pools.L) + len(pools.P) if pools else len(pool)
    if cfg.samples_per_epoch > first and not resume:
        until = " until P grows" if cfg.mode == "spi" else " in every epoch"
        say(f"note: an epoch draws {cfg.samples_per_epoch} samples without replacement "
            f"from {first} patches, so it trains on {first}{until} "
            "(more pairs or max_patches, or a lower samples_per_epoch, if that is not "
            "what you meant)")


def _restore(ckpt_path: Path, cfg: TrainConfig, ps: PatchSet, model: LWNet,
             opt: torch.optim.Optimizer, pools: Pools | None) -> dict:
    """Load the checkpoint into the model, the optimiser, the pools and the RNGs; return its
    metadata (iteration, epoch, log, losses, initial weights)."""
    t, meta = load_checkpoint(ckpt_path)
    # e.g. an external folder moved; an unsupervised run uses none (and before 2026-11-27
    # recorded them all the same)
    if cfg.uses_labels and meta.get("label_sources", ps.names) != ps.names:
        raise InputError(f"{ckpt_path}: the run started with the label sources "
                         f"{meta['label_sources']}, now there are {ps.names}")
    model.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")})
    load_optimizer(opt, t, meta["param_groups"])
    if pools is not None:
        pools.load(t, ckpt_path)
    set_rng_state(t, meta)
    return meta


def _screen_pools(cfg: TrainConfig, model: LWNet, ps: PatchSet, pools: Pools, score: Score,
                  rank: int, world: int, device: torch.device, workers: Workers) -> dict:
    """SPEC §3.5's screening after an iteration (SPI only; the labels-only baseline keeps its
    pools) and the pool columns of the log row."""
    row: dict = {"L": len(pools.L), "admitted": 0, "refined": 0}
    if cfg.mode == "spi":
        ids = np.concatenate([pools.U, pools.P])
        preds, scores = screen(model, ps, score, ids, rank, world, device, workers)
        row["admitted"], row["refined"] = pools.update(ps, preds, scores, cfg.tau)
    pool_score, gain = pools.pool_label_score(ps)
    return {**row, "P": len(pools.P), "U": len(pools.U),
            "mean_label_score": pools.mean_label_score(),
            "pool_label_score": pool_score, "label_gain": gain}


def _validate(model: LWNet, ps: PatchSet, val: np.ndarray, score: Score,
              device: torch.device) -> dict:
    """The log row's validation columns: the SSIM sum and the run's score on the held-out
    patches."""
    pred = predict(model, ps, val, device)
    a, b = ps.sources(val)
    return {"val_ssim_sum": float(score_batches(ssim_sum, pred, a, b).mean()),
            "val_score": float(score_batches(score, pred, a, b).mean())}


def adam(params: Iterable[torch.nn.Parameter], lr: float, device: torch.device) -> torch.optim.Adam:
    """SPI's optimiser (SPEC §3: Adam); fused on CUDA, one kernel per step instead of one per
    operation over the list of tensors. The CPU keeps PyTorch's default implementation."""
    return torch.optim.Adam(params, lr=lr, fused=True if device.type == "cuda" else None)


class TrainingStep:
    """The network's output and the loss of one batch; ``cfg.compile`` compiles both with
    ``torch.compile``, on CUDA with CUDA graphs ("reduce-overhead"): LWNet's step is bound by
    kernel launches there, not by arithmetic (docs/benchmarks.md, "On a GPU")."""

    def __init__(self, net: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> None:
        self.unsupervised, self.compiled = not cfg.uses_labels, cfg.compile
        self.batch_size = cfg.batch_size
        loss: Step = (unsupervised_loss if self.unsupervised
                      else functools.partial(spi_loss, alpha=cfg.alpha, beta=cfg.beta))
        self.net: Step = net
        self.loss: Step = loss
        self.eager = (self.net, self.loss)
        if cfg.compile:
            mode = "reduce-overhead" if device.type == "cuda" else None
            self.net, self.loss = (torch.compile(f, mode=mode) for f in self.eager)

    def __call__(self, a: torch.Tensor, b: torch.Tensor,
                 label: torch.Tensor | None) -> torch.Tensor:
        """The loss of the batch ``a``, ``b`` (``(N, 1, H, W)``) against ``label`` (SPI) or
        against the sources (``unsupervised``, where ``label`` is None)."""
        net, loss = self.net, self.loss
        if self.compiled:  # a new step: the last one's CUDA-graph outputs may be overwritten
            torch.compiler.cudagraph_mark_step_begin()
            # The graphs are compiled for the full batch. An epoch's short last batch runs
            # eagerly: another size would make torch.compile build a second, dynamic-shape
            # graph (tens of seconds), and its kernels could then serve the full batches too.
            if len(a) != self.batch_size:
                net, loss = self.eager
        f = net(a, b)
        return loss(f, a, b) if self.unsupervised else loss(f, label)


def _train_epoch(cfg: TrainConfig, step: TrainingStep, opt: torch.optim.Optimizer,
                 ps: PatchSet, pools: Pools | None, pool: np.ndarray, iteration: int, epoch: int,
                 rank: int, world: int, device: torch.device, show: bool) -> float:
    """One epoch; returns the mean training loss over this rank's batches."""
    # The unsupervised baseline (no pools) trains on every patch of the pool, without labels.
    labelled = None if pools is None else np.concatenate([pools.L, pools.P])
    n_items = len(pool) if labelled is None else len(labelled)
    order = epoch_order(cfg, n_items, iteration, epoch)
    order = order[:len(order) // world * world]  # every rank takes the same number of samples
    # Step s takes the next world × batch samples and gives each rank an equal share, so N
    # processes of batch B train like one process of batch N·B (DDP averages the gradients).
    step_size = cfg.batch_size * world
    steps = math.ceil(len(order) / step_size)
    # Summed on the device: reading the loss every step would wait for the GPU every step.
    total = torch.zeros((), device=device)
    bar = tqdm(range(steps), desc=f"iter {iteration + 1}/{cfg.iterations} "
               f"epoch {epoch + 1}/{cfg.epochs}", disable=not show, leave=False)
    for s in bar:
        progress = (iteration * cfg.epochs + epoch + s / steps) / (cfg.iterations * cfg.epochs)
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg.lr_schedule, cfg.lr, cfg.lr_min, progress)
        chunk = order[s * step_size:(s + 1) * step_size]
        share = len(chunk) // world
        items = chunk[rank * share:(rank + 1) * share]
        ids = pool[items] if labelled is None else labelled[items]
        a, b = (_to_device(t, device) for t in ps.sources(ids))
        label = None if pools is None else _to_device(to_tensor(pools.labels(ps, items)), device)
        loss = step(a, b, label)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach()
        if show and (s % 50 == 49 or s == steps - 1):
            bar.set_postfix(loss=f"{float(total) / (s + 1):.4f}", refresh=False)
    return float(total) / max(steps, 1)


def _to_device(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``batch`` on ``device``; to CUDA through pinned memory, without waiting. A copy from
    ordinary memory waits for the GPU's queue to empty, so the CPU could not cut the next batch
    while the GPU runs this step (compiled steps of batch 4 on an H100: 4.2 ms in the loop, 3.45
    with these copies, the bare step's time). The pinned block is not reused before its copy
    is done (torch's caching host allocator records it)."""
    if device.type == "cuda":
        return batch.pin_memory().to(device, non_blocking=True)
    return batch.to(device)


def read_environments(run_dir: Path) -> list[dict[str, str]] | None:
    """The records of ``run_dir/environment.json``; ``None`` for a run started before runs
    recorded them. Read by every rank before any work, so a damaged file stops them all."""
    path = run_dir / ENVIRONMENT
    if not path.is_file():
        return None
    try:
        records = json.loads(path.read_text())
        valid = isinstance(records, list) and all(
            isinstance(r, dict) and all(isinstance(r.get(k), str) for k in RUN_ENVIRONMENT_KEYS)
            for r in records)
    except ValueError:
        valid = False
    if not valid:
        raise InputError(f"{path}: not the run's list of environment records; delete the file "
                         "to resume without them")
    return records


def _record_environment(run_dir: Path, records: list[dict[str, str]] | None,
                        device: torch.device, world: int,
                        training_left: bool) -> list[dict[str, str]]:
    """Add this process's environment to the run's records (a new run: ``[]``; ``None``: not
    recorded, left so) and return them all. A resume on another machine, with other kernels or
    other versions is allowed but said: its weights will not be bit-identical to an
    uninterrupted run's (SPI's screening turns rounding differences into other pseudo labels).
    A resume of a finished run trains nothing and records nothing."""
    if records is None or not training_left:
        return records or []
    now = run_environment(device, world)
    changed = changes(records[-1], now) if records else []
    if changed:
        say(f"note: resuming with {'; '.join(changed)}: a valid run, but its weights will not "
            "be bit-identical to those of an uninterrupted run")
    if not records or changed:
        records = [*records, now]
        atomic_write_bytes(run_dir / ENVIRONMENT, json.dumps(records, indent=2).encode(),
                           overwrite=True)
    return records


def _save_weights(path: Path, model: LWNet, cfg: TrainConfig, ps: PatchSet,
                  rows: list[dict], init_note: str,
                  environments: list[dict[str, str]] | None) -> None:
    """The model as safetensors with its card (in the metadata and beside it as ``<stem>.md``)."""
    card = model_card(cfg, ps.names, rows, init_note, pool_size=len(ps.index) - cfg.val_patches,
                      environments=environments or ())
    save_weights(path, model, card, overwrite=True)
