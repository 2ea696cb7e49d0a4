"""The SPI training loop (SPEC §3): train on L ∪ P, screen U and P, repeat; resumable, DDP-ready.

Run folder layout (only rank 0 writes):

* ``config.json`` — the resolved configuration;
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

import csv
import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lwnet._code import code_digest
from lwnet._device import use_deterministic
from lwnet.data.io import atomic_write_bytes, remove_stale_temps, to_uint8
from lwnet.errors import ConfigError, InputError, WeightsError
from lwnet.inference import load_weights, shipped_weights
from lwnet.inference.weights import weights_id
from lwnet.model import LWNet
from lwnet.parallel import INLINE, Workers
from lwnet.training import distributed as ddp
from lwnet.training.candidates import content_key, save_array
from lwnet.training.checkpoint import (
    load_checkpoint,
    load_optimizer,
    optimizer_tensors,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from lwnet.training.config import TrainConfig, check_resume_config
from lwnet.training.data import PatchSet, build_patch_set, to_tensor
from lwnet.training.loss import spi_loss, unsupervised_loss
from lwnet.training.pools import admit, best_candidate, refine, split_pools
from lwnet.training.schedule import learning_rate
from lwnet.training.score import Score, get_score, ssim_sum

LOG_FIELDS = ["iteration", "L", "P", "U", "admitted", "refined", "mean_label_score",
              "pool_label_score", "label_gain", "train_loss", "val_ssim_sum", "val_score"]
CHECKPOINT = "checkpoint.safetensors"
ITERATIONS = "iterations"  # the folder of each iteration's model
#: Modules whose code makes the candidate scores (part of the score cache's key).
SCORE_CODE = ("lwnet.metrics", "lwnet.training.score")
# Patches per scoring call: score_batches' batches and score_patches' worker chunks alike, so
# results never depend on the number of workers.
SCORE_BATCH = 64


def _quantise(f: torch.Tensor) -> np.ndarray:
    """Network output ``(n, 1, H, W)`` in [0, 1] → 8-bit ``(n, H, W)``, as every label is held
    (rounded exactly as a saved PNG would be)."""
    return to_uint8(f.detach().cpu().numpy()[:, 0])


def score_batches(score: Score, f: np.ndarray, a: torch.Tensor, b: torch.Tensor,
                  batch: int = SCORE_BATCH) -> np.ndarray:
    """Score uint8 fused patches ``(n, H, W)`` against sources ``(n, 1, H, W)`` → ``(n,)``."""
    out = [score(to_tensor(f[i:i + batch]), a[i:i + batch], b[i:i + batch]).double().numpy()
           for i in range(0, len(f), batch)]
    return np.concatenate(out) if out else np.zeros(0)


def _score_stack(score: Score, fused: np.ndarray, a8: np.ndarray, b8: np.ndarray) -> np.ndarray:
    """Score K fused versions ``(K, n, H, W)`` uint8 of n patches with sources ``(n, H, W)``
    uint8 → ``(n, K)``."""
    a, b = to_tensor(a8), to_tensor(b8)
    return np.stack([score_batches(score, f, a, b) for f in fused], axis=1)


def score_patches(score: Score, ps: PatchSet, ids: np.ndarray,
                  fused: Callable[[int, int], np.ndarray], workers: Workers = INLINE,
                  show: bool = False, desc: str = "") -> np.ndarray:
    """Score K fused versions of the patches ``ids`` → ``(len(ids), K)``, chunk by chunk in
    ``workers``; ``fused(lo, hi)`` gives those of ``ids[lo:hi]``, ``(K, hi − lo, H, W)`` uint8.

    Chunks of :data:`SCORE_BATCH` patches are :func:`score_batches`' batches, so the values
    do not depend on the number of workers."""
    n = SCORE_BATCH
    starts = range(0, len(ids), n)
    jobs = ((score, fused(s, s + n), *ps.sources8(ids[s:s + n])) for s in starts)
    parts = tqdm(workers.map(_score_stack, jobs), total=len(starts), desc=desc,
                 disable=not show)
    return np.concatenate(list(parts)) if len(starts) else np.zeros((0, len(fused(0, 0))))


def cached_candidate_scores(cfg: TrainConfig, ps: PatchSet, score: Score, cache_dir: Path,
                            rank: int, world: int, device: torch.device, show: bool,
                            workers: Workers = INLINE) -> np.ndarray:
    """:func:`candidate_scores` of every patch ``(P, K)``, for the initial labels and the
    admission bar, cached on disk under a key of the score, the patches and the metric code;
    zeros for the unsupervised baseline, which uses neither."""
    if cfg.mode == "unsupervised":
        return np.zeros((len(ps.index), len(ps.names)))
    key = content_key([ps.a, ps.b, ps.cands, ps.index],
                      [cfg.score, repr(cfg.score_weights()), str(ps.size), *ps.names,
                       code_digest(SCORE_CODE)])
    path = cache_dir / cfg.pair_type / f"scores-{cfg.score}-{key}.npy"
    if ddp.all_ranks(path.is_file(), world):
        return np.load(path, allow_pickle=False)
    scores = candidate_scores(ps, score, np.arange(len(ps.index)), rank, world, device, show,
                              workers)
    if rank == 0:
        save_array(path, scores)
    return scores


def predict(model: torch.nn.Module, ps: PatchSet, ids: np.ndarray, device: torch.device,
            batch: int = 16) -> np.ndarray:
    """8-bit network predictions ``(n, size, size)`` for patches ``ids``."""
    out = np.empty((len(ids), ps.size, ps.size), dtype=np.uint8)
    model.eval()
    with torch.no_grad():
        for s in range(0, len(ids), batch):
            a, b = ps.sources(ids[s:s + batch])
            out[s:s + batch] = _quantise(model(a.to(device), b.to(device)))
    model.train()
    return out


def screen(model: torch.nn.Module, ps: PatchSet, score: Score, ids: np.ndarray, rank: int,
           world: int, device: torch.device,
           workers: Workers = INLINE) -> tuple[np.ndarray, np.ndarray]:
    """Predict and score patches ``ids``, sharded over ranks; every rank gets all results.

    Returns (8-bit predictions ``(n, size, size)``, scores ``(n,)``) in the order of ``ids``.
    """
    def predict_and_score(sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pred = predict(model, ps, sel, device)
        return pred, score_patches(score, ps, sel, lambda lo, hi: pred[None, lo:hi],
                                   workers)[:, 0]
    return ddp.sharded(predict_and_score, ids, rank, world, device)


def candidate_scores(ps: PatchSet, score: Score, ids: np.ndarray, rank: int, world: int,
                     device: torch.device, show: bool, workers: Workers = INLINE) -> np.ndarray:
    """The score of every candidate on patches ``ids``, sharded over ranks → ``(n, K)``."""
    def score_all(sel: np.ndarray) -> tuple[np.ndarray]:
        def candidates(lo: int, hi: int) -> np.ndarray:
            chunk = sel[lo:hi]
            return np.stack([ps.candidate(np.full(len(chunk), k), chunk)
                             for k in range(len(ps.names))])
        return (score_patches(score, ps, sel, candidates, workers, show, "scoring candidates"),)
    return ddp.sharded(score_all, ids, rank, world, device)[0]


class Pools:
    """L (fixed candidate labels), U, and P (8-bit pseudo labels with their scores)."""

    def __init__(self, ps: PatchSet, labelled: np.ndarray, unlabelled: np.ndarray):
        self.L = labelled
        self.U = unlabelled
        self.choice, self.L_scores = best_candidate(ps.cand_scores[labelled])
        self.P = np.zeros(0, dtype=np.int64)
        self.P_labels = np.zeros((0, ps.size, ps.size), dtype=np.uint8)
        self.P_scores = np.zeros(0)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"pools.L": torch.from_numpy(self.L), "pools.U": torch.from_numpy(self.U),
                "pools.choice": torch.from_numpy(self.choice),
                "pools.P": torch.from_numpy(self.P),
                "pools.P_labels": torch.from_numpy(self.P_labels),
                "pools.P_scores": torch.from_numpy(self.P_scores)}

    def load(self, t: dict[str, torch.Tensor], source: Path) -> None:
        """Restore U and P from a checkpoint; L and its labels are recomputed from the seed
        and the candidates, and must equal the saved ones (else the candidates changed)."""
        if not (np.array_equal(t["pools.L"].numpy(), self.L)
                and np.array_equal(t["pools.choice"].numpy(), self.choice)):
            raise InputError(f"{source}: the labelled pool or its labels differ from those the "
                             "run started with; the label candidates or their scores changed "
                             "since (start a new run)")
        self.U = t["pools.U"].numpy()
        self.P = t["pools.P"].numpy()
        self.P_labels = t["pools.P_labels"].numpy()
        self.P_scores = t["pools.P_scores"].numpy()

    def labels(self, ps: PatchSet, items: np.ndarray) -> np.ndarray:
        """Labels of items (positions in L ∪ P = concat(L, P)), uint8 ``(n, size, size)``."""
        nl = len(self.L)
        out = np.empty((len(items), ps.size, ps.size), dtype=np.uint8)
        in_l = items < nl
        out[in_l] = ps.candidate(self.choice[items[in_l]], self.L[items[in_l]])
        out[~in_l] = self.P_labels[items[~in_l] - nl]
        return out

    def mean_label_score(self) -> float:
        """Mean score of the labels in use (L ∪ P); admitting hard patches can lower it."""
        return float(np.concatenate([self.L_scores, self.P_scores]).mean())

    def pool_label_score(self, ps: PatchSet) -> tuple[float, float]:
        """(mean, gain) of the best label every patch of the pool L ∪ U ∪ P holds.

        A patch of L holds its best candidate, of U its best candidate (its label if it were
        in L), of P its pseudo label. ``gain`` is that mean minus the mean best-candidate
        score: what SPI's pseudo labels add over every method. The denominator is fixed, so
        unlike :meth:`mean_label_score` this never falls (admission needs at least the best
        candidate's score, refinement a higher one).
        """
        n = len(self.L) + len(self.U) + len(self.P)
        best = ps.cand_scores[np.concatenate([self.L, self.U, self.P])].max(axis=1)
        gain = float((self.P_scores - ps.cand_scores[self.P].max(axis=1)).sum() / n)
        return float(best.mean()) + gain, gain

    def update(self, ps: PatchSet, preds: np.ndarray, scores: np.ndarray,
               tau: float) -> tuple[int, int]:
        """Apply the screening rules to predictions of concat(U, P); returns (admitted, refined)."""
        nu = len(self.U)
        adm = admit(scores[:nu], ps.cand_scores[self.U].max(axis=1), tau)
        ref = refine(scores[nu:], self.P_scores)
        self.P_labels = self.P_labels.copy()
        self.P_labels[ref] = preds[nu:][ref]
        self.P_scores = np.where(ref, scores[nu:], self.P_scores)
        new_p = np.concatenate([self.P, self.U[adm]])
        order = np.argsort(new_p, kind="stable")
        self.P = new_p[order]
        self.P_labels = np.concatenate([self.P_labels, preds[:nu][adm]])[order]
        self.P_scores = np.concatenate([self.P_scores, scores[:nu][adm]])[order]
        self.U = self.U[~adm]
        return int(adm.sum()), int(ref.sum())


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


def build_model(cfg: TrainConfig, init: Path | None = None) -> torch.nn.Module:
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

    ``mode``: ``spi`` (SPEC §3.5), ``labels_only`` (baseline (a): the same schedule on the
    initial labels, never screening) or ``unsupervised`` (baseline (b): every pool patch, loss
    :func:`unsupervised_loss`). Under torchrun the model is wrapped in DDP and screening is
    sharded; only rank 0 writes.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"{run_dir}: is a file, not a run folder")
    rank, world, device = ddp.init()
    torch.set_num_threads(cfg.threads)
    use_deterministic(device)
    main = rank == 0
    show = progress and main
    ckpt_path = run_dir / CHECKPOINT
    if resume:
        if not ckpt_path.is_file():
            raise InputError(f"{ckpt_path}: no checkpoint to resume from (the run stopped "
                             "before its first epoch ended); start it again without --resume, "
                             "which reuses the cached label candidates")
        check_resume_config(cfg, run_dir)
    elif ckpt_path.exists():
        raise InputError(f"{run_dir}: already holds a run (use --resume, or a new --run-dir)")
    # Built first, so that an unfit init_weights file stops the run before any other work. A
    # resumed run takes its weights from the checkpoint and needs no init file.
    init = None if resume else init_weights_path(cfg)
    model = build_model(cfg, init).to(device)
    init_note = "" if init is None else weights_id(init)
    score = get_score(cfg.score, cfg.vif_weight, cfg.qcb_weight)
    cache = Path(cfg.cache_dir) if cfg.cache_dir else run_dir / "cache"
    with Workers(cfg.workers, preload=[__name__]) as workers:
        ps, pool, val = build_patch_set(cfg, cache, workers, show)
        ps.cand_scores = cached_candidate_scores(cfg, ps, score, cache, rank, world, device,
                                                 show, workers)
        # Written once the data is in hand, so a run that fails on its data leaves no run
        # folder (only the caches of what it did compute).
        if main and not resume:
            atomic_write_bytes(run_dir / "config.json",
                               json.dumps(cfg.to_dict(), indent=2).encode(), overwrite=True)
        lab, unl = split_pools(len(pool), cfg.labelled_count(len(pool)), cfg.seed)
        pools = Pools(ps, pool[lab], pool[unl])

        net = ddp.wrap(model, world)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        it0, ep0, rows, losses = 0, 0, [], []
        if resume:
            remove_stale_temps(run_dir)  # a killed run's half-written checkpoint
            t, meta = load_checkpoint(ckpt_path)
            if meta.get("label_sources", ps.names) != ps.names:  # e.g. an external folder moved
                raise InputError(f"{ckpt_path}: the run started with the label sources "
                                 f"{meta['label_sources']}, now there are {ps.names}")
            model.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")})
            load_optimizer(opt, t, meta["param_groups"])
            pools.load(t, ckpt_path)
            set_rng_state(t, meta)
            it0, ep0, rows, losses = meta["iteration"], meta["epoch"], meta["log"], meta["losses"]
            init_note = meta.get("init", "")

        def checkpoint(iteration: int, epoch: int) -> None:
            if not main:
                return
            ot, groups = optimizer_tensors(opt)
            rt, rmeta = rng_state()
            tensors = {**{f"model.{k}": v for k, v in model.state_dict().items()}, **ot,
                       **pools.tensors(), **rt}
            save_checkpoint(ckpt_path, tensors, {"iteration": iteration, "epoch": epoch,
                                                 "param_groups": groups, "log": rows,
                                                 "losses": losses, "init": init_note,
                                                 "label_sources": ps.names,
                                                 **rmeta})

        for it in range(it0, cfg.iterations):
            for ep in range(ep0 if it == it0 else 0, cfg.epochs):
                loss = _train_epoch(cfg, net, opt, ps, pools, pool, it, ep, rank, world, device,
                                    show)
                losses.append(ddp.mean_over_ranks(loss, world))
                checkpoint(it, ep + 1)
            row = {"iteration": it + 1, "L": len(pools.L), "admitted": 0, "refined": 0,
                   "train_loss": float(np.mean(losses[-cfg.epochs:]))}
            if cfg.mode == "spi":
                ids = np.concatenate([pools.U, pools.P])
                preds, scores = screen(model, ps, score, ids, rank, world, device, workers)
                row["admitted"], row["refined"] = pools.update(ps, preds, scores, cfg.tau)
            pool_score, gain = pools.pool_label_score(ps)
            row.update({"P": len(pools.P), "U": len(pools.U),
                        "mean_label_score": pools.mean_label_score(),
                        "pool_label_score": pool_score, "label_gain": gain})
            if len(val):
                pred = predict(model, ps, val, device)
                a, b = ps.sources(val)
                row["val_ssim_sum"] = float(score_batches(ssim_sum, pred, a, b).mean())
                row["val_score"] = float(score_batches(score, pred, a, b).mean())
            rows.append(row)
            if main:  # before the checkpoint, so that a run killed in between writes it on resume
                _save_weights(run_dir / ITERATIONS / f"{it + 1:02d}.safetensors", model, cfg, ps,
                              rows, init_note)
            checkpoint(it + 1, 0)
            if main:
                _write_log(run_dir, rows)
                if show:
                    tqdm.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                        for k, v in row.items()))
        out = run_dir / "weights.safetensors"
        if main:
            _save_weights(out, model, cfg, ps, rows, init_note)
    ddp.shutdown()
    return out


def _train_epoch(cfg: TrainConfig, net: torch.nn.Module, opt: torch.optim.Optimizer,
                 ps: PatchSet, pools: Pools, pool: np.ndarray, iteration: int, epoch: int,
                 rank: int, world: int, device: torch.device, show: bool) -> float:
    """One epoch; returns the mean training loss over this rank's batches."""
    unsup = cfg.mode == "unsupervised"
    n_items = len(pool) if unsup else len(pools.L) + len(pools.P)
    order = epoch_order(cfg, n_items, iteration, epoch)
    order = order[:len(order) // world * world]  # every rank takes the same number of samples
    # Step s takes the next world × batch samples and gives each rank an equal share, so N
    # processes of batch B train like one process of batch N·B (DDP averages the gradients).
    step_size = cfg.batch_size * world
    steps = math.ceil(len(order) / step_size)
    total = 0.0
    bar = tqdm(range(steps), desc=f"iter {iteration + 1}/{cfg.iterations} "
               f"epoch {epoch + 1}/{cfg.epochs}", disable=not show, leave=False)
    for s in bar:
        progress = (iteration * cfg.epochs + epoch + s / steps) / (cfg.iterations * cfg.epochs)
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg.lr_schedule, cfg.lr, cfg.lr_min, progress)
        chunk = order[s * step_size:(s + 1) * step_size]
        share = len(chunk) // world
        items = chunk[rank * share:(rank + 1) * share]
        ids = pool[items] if unsup else np.concatenate([pools.L, pools.P])[items]
        a, b = (t.to(device) for t in ps.sources(ids))
        f = net(a, b)
        if unsup:
            loss = unsupervised_loss(f, a, b)
        else:
            y = to_tensor(pools.labels(ps, items)).to(device)
            loss = spi_loss(f, y, cfg.alpha, cfg.beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach())
        bar.set_postfix(loss=f"{total / (s + 1):.4f}")
    return total / max(steps, 1)


def _save_weights(path: Path, model: torch.nn.Module, cfg: TrainConfig, ps: PatchSet,
                  rows: list[dict], init_note: str) -> None:
    from lwnet.training.card import model_card, save_model

    save_model(path, model, model_card(cfg, ps.names, rows, init_note))
