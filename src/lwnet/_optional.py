"""Importing the optional dependencies (extras ``medical`` and ``onnx``) with a clear error."""

from __future__ import annotations

import importlib
from types import ModuleType

from lwnet.errors import LWNetError


def optional_import(module: str, extra: str) -> ModuleType:
    """Import ``module``, or raise :class:`LWNetError` naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise LWNetError(f"this needs the Python package {module.split('.')[0]!r}: "
                         f"pip install 'lwnet[{extra}]'") from None
