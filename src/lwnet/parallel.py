"""Worker processes for the CPU-bound loops: metrics, classical methods, SPI label candidates."""

from __future__ import annotations

import os
import pickle
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

from lwnet._text import show_input_warnings
from lwnet.errors import ConfigError

# Imported once by the fork server, so that workers start with them loaded.
PRELOAD = ("lwnet.metrics", "lwnet.methods")


def process_pool(jobs: int, preload: Sequence[str] = PRELOAD) -> ProcessPoolExecutor:
    """``jobs`` single-threaded worker processes.

    Workers fork from a server that has imported ``preload`` (and torch with them) but never
    run a parallel op: they start fast, and no OpenMP state is forked (forking a process whose
    OpenMP pool has run can hang the child).
    """
    ctx = get_context("forkserver")
    ctx.set_forkserver_preload(list(preload))
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_single_thread)


def require_picklable(functions: Mapping[str, Callable[..., Any]]) -> None:
    """Worker processes receive functions pickled, by module and name: raise
    :class:`ConfigError` naming the first that cannot be (a lambda, a nested function, or one
    defined in a notebook or ``python -c``, whose ``__main__`` workers cannot import), before
    any work."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    for name, fn in functions.items():
        try:
            pickle.dumps(fn)
            if getattr(fn, "__module__", None) == "__main__" and not main_file:
                raise pickle.PicklingError("defined in an interactive session")
        except Exception as exc:  # pickling raises several types (PicklingError, ...)
            raise ConfigError(f"{name}: this fusion function cannot be sent to worker "
                              f"processes ({exc}); make it a module-level function of a file, "
                              "or use one job") from None


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the OS tells it, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class Workers:
    """``jobs`` worker processes behind an ordered, memory-bounded ``map``; ``jobs`` = 1 runs
    everything in this process, 0 means one per CPU this process may use. A context manager:
    the processes end on leaving. As with any process pool, a script that starts one needs the
    ``if __name__ == "__main__":`` guard (workers import the main module)."""

    def __init__(self, jobs: int = 1, preload: Sequence[str] = PRELOAD):
        self.jobs = jobs or usable_cpus()
        self._pool = process_pool(self.jobs, preload) if self.jobs > 1 else None

    def map(self, fn: Callable[..., Any], args: Iterable[tuple]) -> Iterator[Any]:
        """``fn(*a)`` for each ``a`` of ``args``, in order. At most 2 × ``jobs`` tasks are in
        flight, so a lazy ``args`` never holds more than that many inputs in memory."""
        if self._pool is None:
            yield from (fn(*a) for a in args)
            return
        pending: deque[Future] = deque()
        for a in args:
            pending.append(self._pool.submit(fn, *a))
            if len(pending) >= 2 * self.jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


INLINE = Workers(1)  # the default where a function takes ``workers``: run in this process


def _single_thread() -> None:
    # Workers already run in parallel; nested BLAS/OpenMP threads would only oversubscribe.
    os.environ["OMP_NUM_THREADS"] = "1"
    show_input_warnings("lwnet")  # a worker reads files too (12-bit data, say)
    import torch

    torch.set_num_threads(1)
