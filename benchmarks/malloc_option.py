"""The ``--malloc`` option of the speed scripts: keep freed memory as the ``lwnet`` command
does (:func:`lwnet.keep_freed_memory`, the default), or leave glibc's behaviour as it is.

Without it the scripts would time what ``lwnet`` users do not see: on the development
machines glibc's default made a batch-1 inference pass 1.3–1.8× and a training step
1.2–1.35× slower, in page faults (docs/benchmarks.md, "Speed").
"""

from __future__ import annotations

import argparse

from lwnet import keep_freed_memory


def add_malloc_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--malloc", choices=["keep", "default"], default="keep",
                        help="keep freed memory for reuse as `lwnet` does (default), or leave "
                        "glibc's default")


def apply_malloc_option(args: argparse.Namespace) -> bool:
    """Apply ``args.malloc`` to this process; whether freed memory is now kept."""
    return args.malloc == "keep" and keep_freed_memory()


def freed_memory_note(kept: bool) -> str:
    """How the run's header says it: ``"freed memory kept"`` or glibc's default."""
    return f"freed memory {'kept' if kept else 'as the C library does by default'}"
