"""Classical fusion methods and external result folders (dataset-wide fusion:
:mod:`lwnet.inference.dataset`).

Every method is a pure function ``(a, b) -> f`` on float32 ``(H, W)`` images in [0, 1] that
keeps the common zero background at exactly 0 (SPEC §1); :func:`get_method` finds one by name.
"""

from lwnet.methods.external import ExternalMethod, external_methods
from lwnet.methods.registry import (
    FuseFn,
    builtin_code_digest,
    get_method,
    method_names,
    method_summary,
    register_method,
)

__all__ = [
    "ExternalMethod",
    "FuseFn",
    "builtin_code_digest",
    "external_methods",
    "get_method",
    "method_names",
    "method_summary",
    "register_method",
]
