"""SPI training (SPEC §3): patches, label candidates, score, pools, screening, loop,
checkpoints, DDP."""

from lwnet.training.config import PRESETS, TrainConfig, config_toml, load_config
from lwnet.training.loop import train

__all__ = ["PRESETS", "TrainConfig", "config_toml", "load_config", "train"]
