"""One training run per run folder at a time.

Two ``lwnet train`` processes in one folder would each write the other's checkpoint, log and
weights, and a resume would continue a mixture. The first holds an advisory lock on
``<run_dir>/.lock`` (``flock``) for the length of its run; the operating system drops it when
the process ends, killed or not, so there is never a stale lock to clear. Where ``fcntl`` does
not exist (Windows) runs are not locked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from lwnet.errors import InputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"


@contextlib.contextmanager
def run_folder_lock(run_dir: Path, held: bool = True) -> Iterator[None]:
    """Hold ``run_dir``'s lock while the block runs (``held=False``: do nothing, for the
    torchrun ranks beside rank 0, which share its folder).

    Raises :class:`InputError` naming the folder when another process holds it. A folder this
    call created is removed again if the block leaves nothing in it but the lock, so a run that
    fails before writing anything leaves no run folder behind.
    """
    if not held or fcntl is None:
        yield
        return
    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(run_dir / LOCK_FILE, "a")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise InputError(f"{run_dir}: cannot write here ({exc.strerror})") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"{run_dir}: another lwnet train is running in this folder; wait "
                             "for it, or use another --run-dir") from None
        yield
    finally:
        handle.close()
        if created and os.listdir(run_dir) == [LOCK_FILE]:
            shutil.rmtree(run_dir, ignore_errors=True)
