"""Cache keys: digests of LWNet's own source code and of input files, and the clean-up of
superseded cache entries."""

from __future__ import annotations

import ast
import functools
import glob
import hashlib
import importlib
import inspect
from collections.abc import Iterable
from pathlib import Path

from lwnet.errors import InputError


@functools.lru_cache(maxsize=None)
def code_digest(modules: tuple[str, ...]) -> str:
    """Short SHA-256 of the code of ``modules`` (a package: every ``.py`` file in it).

    Put into a cache key, it makes any edit of what the code does invalidate what was cached,
    instead of leaving results of the old code behind. The digest is of each file's syntax
    tree without its docstrings (:func:`code_text`), so an edited comment, docstring or line
    break keeps the caches, which can take minutes to rebuild (SPI's candidate scores).
    """
    h = hashlib.sha256()
    for name in modules:
        path = Path(inspect.getfile(importlib.import_module(name)))
        files = sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]
        for f in files:
            h.update(f"{name}/{f.name}\n{code_text(f.read_text(encoding='utf-8'))}\n".encode())
    return h.hexdigest()[:16]


def code_text(source: str) -> str:
    """What of Python ``source`` the code does: its syntax tree without docstrings, as
    :func:`ast.dump` writes it (no comments, layout or line numbers)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def contents_digest(paths: Iterable[Path]) -> str:
    """Short SHA-256 (16 hex) of the names and bytes of the files ``paths``, in order.

    Put into a cache key, it makes an edited or renamed file (whatever its size and time
    stamp) invalidate what was cached, while a copy of the same files elsewhere (a moved or
    freshly synced data folder) reuses it. Reading the files costs a fraction of decoding them.
    """
    h = hashlib.sha256()
    for path in map(Path, paths):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror})") from None
        h.update(f"{path.name}\0{len(data)}\0".encode() + data)
    return h.hexdigest()[:16]


def remove_superseded(current: Path, prefix: str) -> None:
    """Delete the files beside ``current`` whose names start with ``prefix``, ``current``
    excepted: earlier versions of one cached entry, whose names differ only in the digest
    after ``prefix``. (Temporary files of atomic writes start with a dot and are left alone.)"""
    for stale in current.parent.glob(glob.escape(prefix) + "*"):
        if stale != current:
            stale.unlink(missing_ok=True)
