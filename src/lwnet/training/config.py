"""SPI training configuration: one dataclass, named presets, TOML loading and validation.

Every value is checked before any work starts; an unknown key or an out-of-range value raises
:class:`ConfigError` naming the key (SPEC §3.9). Presets:

* ``paper`` — the protocol of SPEC §3: T = 10 iterations of E = 10 epochs, batch 4, the full
  patch set (49 patches per training pair), every patch visited once per epoch.
* ``cpu`` — what fits in well under an hour on two CPU cores (one model per core, both side by
  side): a seeded subset of ``max_patches`` = 4,000 patches of the training pairs (2,000
  labelled, 2,000 unlabelled) + 200 held out, T = 6 iterations of E = 2 epochs, each epoch a
  seeded sample of ``samples_per_epoch`` = 3,200 patches from L ∪ P, drawn without
  replacement, so all of L ∪ P while it is smaller (at most 9,600 Adam steps of batch 4 in
  all), with screening of U and P after every iteration as in the paper.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lwnet._text import changes
from lwnet.errors import ConfigError
from lwnet.training.schedule import SCHEDULES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MODES = ("spi", "labels_only", "unsupervised")
# The SPI scores (lwnet.training.score): the fusion-metric terms each adds to the SSIM sum, each
# weighted by the config key ``<term>_weight``.
SCORE_TERMS: dict[str, tuple[str, ...]] = {
    "ssim_sum": (), "ssim_vif": ("vif",), "ssim_vif_qcb": ("vif", "qcb")}
SCORES = tuple(SCORE_TERMS)
# Default |L| per pair type (SPEC §3.3), for the full patch set: other pair types, and any
# subset (max_patches), take half of their pool instead.
DEFAULT_LABELLED = {"SPECT-MRI": 8000, "CT-MRI": 4000}
#: Keys a resumed run may change: how it runs, not what it computes.
RUNTIME_KEYS = ("threads", "workers", "cache_dir", "compile")


@dataclass
class TrainConfig:
    """All knobs of one training run. ``labelled``: count (> 1), fraction (≤ 1) or "auto"."""

    pair_type: str = "SPECT-MRI"
    data_root: str = ""  # Harvard-layout root; "" = <$LWNET_DATA>/harvard
    split: str = "train"  # ids from <data_root>/splits/<pair_type>_<split>.txt; "" = every pair
    external_root: str = ""  # external results; "" = the `external` folder beside data_root
    init_weights: str = ""  # "" = random init; "shipped" or a weights file to fine-tune from
    methods: list[str] = field(default_factory=lambda: ["all"])  # built-in label candidates
    cache_dir: str = ""  # candidate cache; "" = <run_dir>/cache
    mode: str = "spi"
    patch_size: int = 120
    stride: int = 20
    max_patches: int = 0  # 0 = every patch of every training pair
    val_patches: int = 0  # held-out patches (from the training pairs) scored every iteration
    labelled: int | float | str = "auto"
    iterations: int = 10
    epochs: int = 10
    samples_per_epoch: int = 0  # 0 = all of L ∪ P once per epoch
    batch_size: int = 4  # per process: N torchrun processes of batch B train like one of N·B
    lr: float = 1e-3
    lr_schedule: str = "constant"  # "constant" (SPEC §3) or "cosine" decay to lr_min at the end
    lr_min: float = 0.0
    alpha: float = 1.10
    beta: float = 1.00
    tau: float = 1.00
    score: str = "ssim_sum"
    vif_weight: float = 1.0  # w_vif of the composite scores (ssim_sum + w_vif·VIF [+ w_qcb·Qcb])
    qcb_weight: float = 1.0  # w_qcb of the ssim_vif_qcb score
    seed: int = 0
    threads: int = 1  # torch threads of each training process
    workers: int = 1  # processes for label candidates and scoring: 1 = none, 0 = one per CPU
    # torch.compile the training step, on CUDA with CUDA graphs (the bare step 5× faster at
    # batch 4); on the CPU it needs a C++ compiler and gains nothing.
    compile: bool = False
    model: dict[str, Any] = field(default_factory=dict)  # LWNet constructor kwargs
    preset: str = ""

    def labelled_count(self, n_patches: int) -> int:
        """|L| for a pool of ``n_patches`` patches (clipped to the pool)."""
        if isinstance(self.labelled, str):  # "auto": reading the config refuses other text
            n = DEFAULT_LABELLED.get(self.pair_type, n_patches // 2)
            if self.max_patches:
                n = n_patches // 2
        elif isinstance(self.labelled, float) or self.labelled <= 1:
            n = int(round(float(self.labelled) * n_patches))
        else:
            n = int(self.labelled)
        return max(1, min(n, n_patches))

    @property
    def uses_labels(self) -> bool:
        """Whether the run trains on labels (SPI, labels-only): the unsupervised baseline
        compares with the sources only, so it has no label candidates and no pools."""
        return self.mode != "unsupervised"

    def samples_text(self) -> str:
        """What one epoch trains on, in words: the run's log and model card both say it."""
        # Drawn without replacement: a smaller L ∪ P (or pool) gives fewer samples.
        of = "L ∪ P" if self.uses_labels else "the pool"
        if self.samples_per_epoch:
            return f"{self.samples_per_epoch} samples (at most all of {of})"
        return f"all of {of}" if self.uses_labels else "every patch of the pool"

    def score_weights(self) -> dict[str, float]:
        """The weight of each term of ``score``, e.g. ``{"vif": 1.0}`` for ``ssim_vif``."""
        return {t: getattr(self, f"{t}_weight") for t in SCORE_TERMS[self.score]}

    def to_dict(self) -> dict[str, Any]:
        """Every key and value, as a run's ``config.json`` holds them."""
        return dataclasses.asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"iterations": 10, "epochs": 10, "batch_size": 4, "max_patches": 0,
              "samples_per_epoch": 0, "labelled": "auto"},
    "cpu": {"iterations": 6, "epochs": 2, "batch_size": 4, "max_patches": 4000,
            "samples_per_epoch": 3200, "labelled": 0.5, "val_patches": 200},
}

_POSITIVE = ("patch_size", "stride", "iterations", "epochs", "batch_size", "threads")
_NON_NEGATIVE = ("max_patches", "val_patches", "samples_per_epoch", "seed", "workers")


def _validate_methods(cfg: TrainConfig) -> None:
    """Built-in label candidates known by name, before minutes of computing the others."""
    from lwnet.methods import method_names

    known = method_names()
    if "all" in cfg.methods and cfg.methods != ["all"]:
        raise ConfigError(f"config key 'methods': \"all\" stands alone (every built-in "
                          f"method), got {cfg.methods!r}")
    unknown = [m for m in cfg.methods if m != "all" and m not in known]
    if unknown:
        raise ConfigError(f"config key 'methods': unknown method {unknown[0]!r}; known: "
                          f"{', '.join(known)}")
    if not cfg.methods and cfg.external_root == "none" and cfg.uses_labels:
        raise ConfigError("config key 'methods': empty, and external_root = \"none\": "
                          f"the {cfg.mode} run would have no label candidates")


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check every value; raise :class:`ConfigError` naming the first bad key."""
    for key in _POSITIVE:
        v = getattr(cfg, key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ConfigError(f"config key '{key}': expected a positive integer, got {v!r}")
    for key in _NON_NEGATIVE:
        v = getattr(cfg, key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ConfigError(f"config key '{key}': expected an integer ≥ 0, got {v!r}")
    for key in ("lr", "lr_min", "alpha", "beta", "tau", "vif_weight", "qcb_weight"):
        v = getattr(cfg, key)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise ConfigError(f"config key '{key}': expected a number ≥ 0, got {v!r}")
    if not isinstance(cfg.compile, bool):
        raise ConfigError(f"config key 'compile': expected true or false, got {cfg.compile!r}")
    if cfg.lr <= 0:
        raise ConfigError(f"config key 'lr': must be > 0, got {cfg.lr!r}")
    if cfg.lr_schedule not in SCHEDULES:
        raise ConfigError(f"config key 'lr_schedule': expected one of {SCHEDULES}, "
                          f"got {cfg.lr_schedule!r}")
    if cfg.lr_min > cfg.lr:
        raise ConfigError(f"config key 'lr_min': must be ≤ lr ({cfg.lr}), got {cfg.lr_min!r}")
    if cfg.mode not in MODES:
        raise ConfigError(f"config key 'mode': expected one of {MODES}, got {cfg.mode!r}")
    if cfg.score not in SCORES:
        raise ConfigError(f"config key 'score': expected one of {SCORES}, got {cfg.score!r}")
    if cfg.patch_size < 16:
        raise ConfigError(f"config key 'patch_size': must be ≥ 16, got {cfg.patch_size}")
    from lwnet.metrics.vif import VIF_MIN_SIDE

    if "vif" in SCORE_TERMS[cfg.score] and cfg.patch_size < VIF_MIN_SIDE:
        raise ConfigError(f"config key 'patch_size': score {cfg.score} scores patches with "
                          f"VIFF, which needs at least {VIF_MIN_SIDE}×{VIF_MIN_SIDE}, got "
                          f"{cfg.patch_size} (or score = \"ssim_sum\")")
    lab = cfg.labelled
    if lab != "auto" and (isinstance(lab, bool) or not isinstance(lab, (int, float)) or lab <= 0
                          or (isinstance(lab, float) and lab > 1)):
        raise ConfigError(f"config key 'labelled': expected \"auto\", a count > 1 or a "
                          f"fraction in (0, 1], got {lab!r}")
    if not isinstance(cfg.methods, list) or not all(isinstance(m, str) for m in cfg.methods):
        raise ConfigError(f"config key 'methods': expected a list of method names such as "
                          f"[\"gff\", \"pcnn\"], or [\"all\"], got {cfg.methods!r}")
    _validate_methods(cfg)
    if not isinstance(cfg.model, dict):
        raise ConfigError(f"config key 'model': expected a table, got {cfg.model!r}")
    _validate_model(cfg.model)
    if cfg.preset and cfg.preset not in PRESETS:
        raise ConfigError(f"config key 'preset': expected one of {sorted(PRESETS)}, "
                          f"got {cfg.preset!r}")
    return cfg


def _validate_model(model: dict[str, Any]) -> None:
    """Check the ``model`` table by building the (tiny) network it describes."""
    from lwnet.model import LWNet

    known = list(inspect.signature(LWNet).parameters)
    for key in model:
        if key not in known:
            raise ConfigError(f"config key 'model.{key}': unknown ({_key_hint(key, known)})")
    try:
        LWNet(**model)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config key 'model': {exc}") from None


def _coerce(text: str) -> Any:
    """Parse the value of ``--set key=value`` as a TOML value, falling back to a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply(values: dict[str, Any], updates: dict[str, Any], source: str) -> None:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    for key, value in updates.items():
        if key.startswith("model."):
            values.setdefault("model", {})[key[6:]] = value
            continue
        if key not in names:
            raise ConfigError(f"{source}: unknown config key '{key}' "
                              f"({_key_hint(key, sorted(names))})")
        values[key] = value


def _key_hint(key: str, keys: Sequence[str]) -> str:
    """The nearest of ``keys`` to a misspelt ``key``, or all of them when none is near."""
    close = difflib.get_close_matches(key, keys, n=1)
    return f"did you mean '{close[0]}'?" if close else "the keys: " + ", ".join(keys)


def load_config(
    path: str | Path | None = None, preset: str | None = None, overrides: Sequence[str] = (),
) -> TrainConfig:
    """Build a validated config: defaults ← preset ← TOML file ← ``key=value`` overrides.

    A ``preset`` key inside the file applies before the file's own values; ``preset`` given
    here (the CLI's ``--preset``) may name the same one, not another: the file's values are
    written for its own preset, and a mix of the two would be neither.
    """
    file_values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            file_values = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    in_file = file_values.get("preset")
    if preset and in_file and preset != in_file:
        raise ConfigError(f"--preset {preset}, but {path} is written for preset {in_file!r}; "
                          "drop --preset, or change the file's preset")
    preset = preset or in_file or ""  # an unknown one: validate() says so
    values: dict[str, Any] = {}
    _apply(values, PRESETS.get(preset, {}), f"preset {preset}")
    _apply(values, {k: v for k, v in file_values.items() if k != "preset"}, str(path))
    typed = _apply_overrides(values, overrides)
    values["preset"] = preset
    cfg = validate(TrainConfig(**_absolute(values)))
    inert = inert_keys(cfg)
    for key in typed:
        if key in inert:
            raise ConfigError(f"--set {key}: {inert[key]}, so it would change nothing")
    return cfg


def inert_keys(cfg: TrainConfig) -> dict[str, str]:
    """The weights and rates that ``cfg`` leaves unused, with the reason and the setting that
    uses them. A run given one of them on the command line would train what it would without
    (``--set qcb_weight=2`` with the ``ssim_vif`` score, say), so :func:`load_config` refuses
    it; in a file they are documentation (``configs/cpu.toml`` lists both score weights)."""
    inert = {}
    for term, name in (("vif", "VIF"), ("qcb", "Qcb")):
        if term not in SCORE_TERMS[cfg.score]:
            having = " and ".join(s for s, terms in SCORE_TERMS.items() if term in terms)
            inert[f"{term}_weight"] = (f"score {cfg.score} has no {name} term (the scores "
                                       f"{having} do)")
    if cfg.lr_schedule != "cosine":
        inert["lr_min"] = (f"the {cfg.lr_schedule} schedule keeps lr throughout "
                           "(lr_schedule = cosine decays to lr_min)")
    return inert


def config_toml(cfg: TrainConfig) -> str:
    """``cfg`` as a TOML config file, every key: what ``lwnet train --print-config`` shows, and
    :func:`load_config` reads it back to an equal config."""
    values = cfg.to_dict()
    model = values.pop("model")
    lines = [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    lines += ["", "[model]"] + [f"{key} = {_toml_value(value)}" for key, value in model.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):  # a JSON string is a TOML basic string
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {value!r}")


#: Keys naming files or folders, with the words that are no path.
PATH_KEYS = {"data_root": (), "external_root": ("none",), "init_weights": ("shipped",),
             "cache_dir": ()}


def _absolute(values: dict[str, Any]) -> dict[str, Any]:
    """Relative paths made absolute (against the working directory), so that the run's
    ``config.json`` and card name the folders it used, and a resume from elsewhere finds
    them."""
    for key, words in PATH_KEYS.items():
        value = values.get(key)
        if isinstance(value, str) and value and value not in words:
            values[key] = str(Path(value).expanduser().absolute())
    return values


def run_config(run_dir: str | Path, path: str | Path | None = None, preset: str | None = None,
               overrides: Sequence[str] = (), resume: bool = False) -> TrainConfig:
    """The config a run in ``run_dir`` trains with (what ``lwnet train`` resolves).

    A resumed run given no config file or preset continues with its own ``config.json`` and
    the ``overrides`` (which :func:`check_resume_config` limits to ``RUNTIME_KEYS``); otherwise
    :func:`load_config` builds it.
    """
    if resume and path is None and preset is None and (Path(run_dir) / "config.json").is_file():
        values = read_run_config(run_dir).to_dict()
        _apply_overrides(values, overrides)
        return validate(TrainConfig(**_absolute(values)))
    return load_config(path, preset, overrides)


def _apply_overrides(values: dict[str, Any], overrides: Sequence[str]) -> list[str]:
    """Apply the ``key=value`` items to ``values``; returns the keys, in order."""
    if isinstance(overrides, str):  # its letters would be taken as items
        raise ConfigError(f"overrides: a list of key=value items, e.g. [{overrides!r}], not "
                          f"the string {overrides!r}")
    keys = []
    for i, item in enumerate(overrides):
        if "=" not in item:
            after = overrides[i + 1] if i + 1 < len(overrides) else ""
            hint = f" (--set {item}={after}?)" if after and "=" not in after else ""
            raise ConfigError(f"--set {item!r}: expected key=value{hint}")
        key, text = (part.strip() for part in item.split("=", 1))
        if key == "preset":  # it sets other keys' defaults, so it applies first
            raise ConfigError("--set preset: give the preset with --preset (or in the file)")
        _apply(values, {key: _coerce(text)}, "--set")
        keys.append(key)
    return keys


def read_run_config(run_dir: str | Path) -> TrainConfig:
    """The validated config a run folder was started with (its ``config.json``)."""
    path = Path(run_dir) / "config.json"
    try:
        values = json.loads(path.read_text())
        return validate(TrainConfig(**values))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; not a run folder") from None
    except (json.JSONDecodeError, TypeError) as exc:
        raise ConfigError(f"{path}: not a run config ({exc})") from None


def check_resume_config(cfg: TrainConfig, run_dir: str | Path) -> None:
    """Raise :class:`ConfigError` naming every key where ``cfg`` differs from the config the
    run in ``run_dir`` was started with (``RUNTIME_KEYS`` may differ)."""
    # Both sides absolute, as load_config makes them: a run started with relative paths (before
    # they were recorded absolute, or from Python) resumes from the same working directory.
    saved = _absolute(read_run_config(run_dir).to_dict())
    new = _absolute(cfg.to_dict())
    changed = changes(saved, new, skip=RUNTIME_KEYS)
    if changed:
        raise ConfigError(f"{Path(run_dir) / 'config.json'}: --resume with a different config: "
                          f"{', '.join(changed)} (resume without --config and --preset to "
                          "continue with the run's own; --set may change "
                          f"{', '.join(RUNTIME_KEYS)})")
