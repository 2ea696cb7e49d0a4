"""Fusion methods by name.

A method is any callable ``(a, b) -> f`` on float32 ``(H, W)`` images in [0, 1]. Built-in
entries are ``"module:function"`` targets imported on first use, so registering a method costs
nothing until it runs; users add their own with :func:`register_method`, and the functions of
the Python API that take a method name then know it.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
import sys
import textwrap
import types
from collections.abc import Callable

import numpy as np

from lwnet._code import code_digest, code_text
from lwnet.errors import InputError

FuseFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

_REGISTRY: dict[str, str | FuseFn] = {
    "mean": "lwnet.methods.average:average",
    "max": "lwnet.methods.maximum:maximum",
    "laplacian": "lwnet.methods.laplacian:laplacian",
    "dwt": "lwnet.methods.dwt:dwt",
    "gff": "lwnet.methods.gff:gff",
    "edge": "lwnet.methods.edge:edge",
    "pcnn": "lwnet.methods.pcnn:pcnn",
}
_BUILTIN_TARGETS = dict(_REGISTRY)


#: The network's name among the fusion methods: ``lwnet fuse``'s default, run through
#: :func:`lwnet.inference.network_fuser` (it is no classical method of this registry).
NETWORK = "lwnet"

#: The code the built-in methods' cached outputs depend on: the methods, the input checks, the
#: background level and 8-bit rounding (``lwnet.data.io``, the errors it raises and the file
#: handling it imports) and the BT.601 colour conversion that turns their results into 8-bit luma.
BUILTIN_CODE = ("lwnet.methods", "lwnet.data.io", "lwnet.data.colour", "lwnet.errors",
                "lwnet._files")


def builtin_code_digest() -> str:
    """Digest of :data:`BUILTIN_CODE`: caches of built-in methods' outputs carry it, so an
    edited method is recomputed (methods added with :func:`register_method` are not covered)."""
    return code_digest(BUILTIN_CODE)


def register_method(name: str, target: str | FuseFn, *, replace: bool = False) -> None:
    """Add a method: a callable, or a ``"package.module:function"`` imported lazily.

    ``name`` becomes a folder name of fused outputs: letters, digits and ``. _ + -``, not
    ``lwnet`` (the network's name on the command line).
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", name) or name == NETWORK:
        raise ValueError(f"fusion method name {name!r}: use letters, digits and . _ + - "
                         "(and not 'lwnet')")
    if not (callable(target) or (isinstance(target, str) and ":" in target)):
        raise ValueError(f"fusion method {name!r}: the target must be a callable or "
                         f"'package.module:function', not {target!r}")
    if name in _REGISTRY and not replace:
        raise ValueError(f"fusion method {name!r} is already registered")
    _REGISTRY[name] = target


def function_id(fn: FuseFn) -> str:
    """What a user's function is, for the records of output folders: ``module.name`` and a
    digest of its code (:func:`lwnet._code.code_text` of its source, so that a comment or
    docstring does not count; its bytecode where the source is not available), so an edited
    function no longer matches the outputs of the old one. '' for other callables."""
    if not isinstance(fn, types.FunctionType):
        return ""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        code = fn.__code__.co_code + repr(fn.__code__.co_consts).encode()
    else:
        try:
            code = code_text(source).encode()
        except SyntaxError:  # a lambda's source is the whole line it stands in
            code = source.encode()
    return f"{fn.__module__}.{fn.__qualname__} (code {hashlib.sha256(code).hexdigest()[:12]})"


def method_id(method: str | FuseFn) -> str:
    """What makes a method's outputs, for the records of output folders: a built-in method by
    :func:`builtin_code_digest` (the code its outputs depend on, helpers included), any other
    name or function by :func:`function_id` of the function it runs."""
    if isinstance(method, str) and _REGISTRY.get(method) == _BUILTIN_TARGETS.get(method, ""):
        return f"lwnet built-in methods (code {builtin_code_digest()[:12]})"
    return function_id(get_method(method) if isinstance(method, str) else method)


def method_names() -> list[str]:
    """Names of all registered methods, in registration order."""
    return list(_REGISTRY)


def method_summary(name: str) -> str:
    """One line about the method ``name``: the first paragraph of its module's docstring for a
    built-in method (what it is and the paper it follows), else of its function's docstring."""
    fn = get_method(name)
    doc = (sys.modules[fn.__module__].__doc__ if isinstance(_REGISTRY[name], str)
           else inspect.getdoc(fn)) or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def get_method(name: str) -> FuseFn:
    """The fusion function registered as ``name``.

    Raises:
        InputError: unknown name (the message lists the known ones), or a registered
            ``"module:function"`` that cannot be imported.
    """
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise InputError(
            f"unknown fusion method {name!r}; known methods: {', '.join(method_names())}"
        ) from None
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:  # a registered target that is not there
        raise InputError(f"fusion method {name!r}: cannot load {target!r} ({exc})") from None
