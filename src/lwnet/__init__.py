"""LWNet: lightweight multimodal medical image fusion trained with SPI."""

__version__ = "0.1.0"
