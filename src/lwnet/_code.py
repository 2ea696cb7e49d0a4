"""Digests of LWNet's own source code, for caches whose contents that code determines."""

from __future__ import annotations

import functools
import hashlib
import importlib
from pathlib import Path


@functools.lru_cache(maxsize=None)
def code_digest(modules: tuple[str, ...]) -> str:
    """Short SHA-256 of the source of ``modules`` (a package: every ``.py`` file in it).

    Put into a cache key, it makes any edit there (comments too: conservative) invalidate what
    was cached, instead of leaving results of the old code behind.
    """
    h = hashlib.sha256()
    for name in modules:
        path = Path(importlib.import_module(name).__file__)
        files = sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]
        for f in files:
            h.update(f"{name}/{f.name}\n".encode() + f.read_bytes())
    return h.hexdigest()[:16]
