"""The LWNet fusion network (SPEC §2): building blocks, the network and its complexity."""

from lwnet.model.aca import ACA, aca_kernel_size
from lwnet.model.complexity import count_macs, count_parameters, measure_latency, profile_model
from lwnet.model.decoder import Decoder
from lwnet.model.encoder import Encoder
from lwnet.model.lwnet import LWNet, background_gate
from lwnet.model.mca import MCA, cross_channel_attention

__all__ = [
    "ACA",
    "Decoder",
    "Encoder",
    "LWNet",
    "MCA",
    "aca_kernel_size",
    "background_gate",
    "cross_channel_attention",
    "count_macs",
    "count_parameters",
    "measure_latency",
    "profile_model",
]
