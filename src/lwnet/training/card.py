"""A run's model card (markdown: data, preset, schedule, label sources, SPI log), and shipping
trained weights with the card extended (test-split metrics)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lwnet._environment import environment_text
from lwnet._text import counted
from lwnet.training.config import TrainConfig

#: Heads the card's per-iteration table (read back by :mod:`lwnet.reports.spi_log`).
SPI_LOG_HEADING = "## SPI log"
#: The columns of a run's ``log.csv``, one row per iteration. The SPI-log table of a labelled
#: run's card shows them all but ``val_score`` (the run's own score on the held-out patches),
#: headed as in :func:`_header`.
LOG_FIELDS = ("iteration", "L", "P", "U", "admitted", "refined", "mean_label_score",
              "pool_label_score", "label_gain", "train_loss", "val_ssim_sum", "val_score")


def model_card(cfg: TrainConfig, label_sources: list[str], rows: list[dict],
               init_note: str = "", pool_size: int | None = None,
               environments: Sequence[dict[str, str]] = ()) -> str:
    """Markdown card: data, preset, mode, label sources, score, initial weights, where it was
    trained and the per-iteration SPI log (for the unsupervised baseline, which has no labels,
    the losses). ``init_note``: the weights the run started from ('' = random); ``pool_size``:
    the patches it trained on (the SPI log has it for the other modes); ``environments``: the
    run's ``environment.json`` records (none: not recorded)."""
    labelled = cfg.uses_labels
    loss = (f"α(1 − SSIM(f, y)) + β|f − y|, α = {cfg.alpha:g}, β = {cfg.beta:g}" if labelled
            else "unsupervised: SSIM to both sources + L1 to max intensity + L1 to max gradient")
    decay = "" if cfg.lr_schedule == "constant" else f" ({cfg.lr_schedule} decay to {cfg.lr_min})"
    upto = f", after iteration {len(rows)}" if 0 < len(rows) < cfg.iterations else ""
    score = f"{cfg.score}{_weights_text(cfg.score_weights())}"
    lines = [
        f"# LWNet {cfg.pair_type} ({cfg.mode}, preset {cfg.preset or 'custom'}){upto}",
        "",
        f"- Data: {_data_text(cfg)}.",
        f"- Patches: {cfg.patch_size}×{cfg.patch_size}, stride {cfg.stride}; "
        f"{_pool_text(cfg, rows, pool_size)}, {cfg.val_patches} held out for validation.",
        f"- Schedule: T = {counted(cfg.iterations, 'iteration')} × E = "
        f"{counted(cfg.epochs, 'epoch')}, "
        f"{cfg.samples_text()} per epoch, batch {cfg.batch_size}, Adam lr {cfg.lr}{decay}, "
        f"seed {cfg.seed}{_no_screening_text(cfg)}.",
        f"- Loss: {loss}.",
        f"- Score: {score}; τ = {cfg.tau}." if labelled else
        f"- Score (of the validation patches only): {score}.",
        f"- Label sources ({len(label_sources)}): {', '.join(label_sources)}." if labelled else
        "- Label sources: none (the loss compares with the sources only).",
        f"- Model config: {cfg.model or 'defaults'}; initial weights: "
        f"{init_note or 'random (seeded)'}.",
        *([f"- Trained on: {'; then resumed on: '.join(map(environment_text, environments))}."]
          if environments else []),
        "",
    ]
    if labelled:
        lines += [
            SPI_LOG_HEADING,
            "",
            "Mean label score: over the labels in use (L ∪ P). Pool label score: over the whole "
            "pool (L ∪ U ∪ P) of the best label each patch holds (a U patch: its best "
            "candidate); label gain: how far that is above the best candidates, i.e. what the "
            "pseudo labels add.",
        ]
        keys: tuple[str, ...] = LOG_FIELDS[:-1]
    else:
        lines.append("## Training log")
        keys = ("iteration", "train_loss", "val_ssim_sum")
    lines += ["", "| " + " | ".join(map(_header, keys)) + " |", "|---" * len(keys) + "|"]
    for r in rows:  # a run without a validation set leaves its column blank
        lines.append("| " + " | ".join(_cell(r.get(k)) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def _no_screening_text(cfg: TrainConfig) -> str:
    """For the baselines: that their iterations only mark log rows and checkpoints."""
    if cfg.mode == "spi":
        return ""
    spec = " (SPEC §3.7's T = 1)" if cfg.mode == "labels_only" else ""
    return (f"; never screened, so in effect one iteration of "
            f"{counted(cfg.iterations * cfg.epochs, 'epoch')}{spec}, whose {cfg.iterations} "
            "parts only mark log rows and checkpoints")


def _header(field: str) -> str:
    """``mean_label_score`` → ``mean label score``; read back as snake case by the reports."""
    return field.replace("_", " ").replace("ssim", "SSIM")


def _cell(value: object) -> str:
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _pool_text(cfg: TrainConfig, rows: list[dict], pool_size: int | None) -> str:
    """The pool as the run had it (from its log), e.g. ``pool 4000 patches, |L| = 2000``."""
    if not cfg.uses_labels:
        size = pool_size or cfg.max_patches
        return f"pool {size} patches, all trained on" if size else "every patch trained on"
    if not rows:
        return f"pool {cfg.max_patches or 'all'} patches, |L| = {cfg.labelled}"
    first = rows[0]
    return f"pool {first['L'] + first['P'] + first['U']} patches, |L| = {first['L']}"


def _data_text(cfg: TrainConfig) -> str:
    """Which pairs trained the model: the shared Harvard data or the folder named."""
    source = (f"pairs under {cfg.data_root}" if cfg.data_root else
              "Harvard Whole Brain Atlas (AANLIB; K. A. Johnson, J. A. Becker)")
    split = f"{cfg.split} split only" if cfg.split else "every pair"
    return f"{source}, {cfg.pair_type}, {split}"


def _weights_text(weights: dict[str, float]) -> str:
    """`` (w_vif = 1, w_qcb = 1)`` for a composite score's weights, nothing for ``ssim_sum``."""
    return f" ({', '.join(f'w_{t} = {w:g}' for t, w in weights.items())})" if weights else ""


def ship(weights: Path, out: Path, extra: str) -> Path:
    """Re-save trained ``weights`` as ``out`` (e.g. ``src/lwnet/weights/spect-mri.safetensors``)
    with the training card extended by ``extra`` Markdown (e.g. test-split metrics); what
    ``benchmarks/bench_spi.py --ship`` does."""
    from lwnet.model.weights import load_weights, read_card, save_weights

    card = read_card(weights)
    return save_weights(out, load_weights(weights), card.rstrip("\n") + "\n\n" + extra,
                        overwrite=True)
