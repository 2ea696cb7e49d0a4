"""One training run per run folder at a time.

Two ``lwnet train`` processes in one folder would each write the other's checkpoint, log and
weights, and a resume would continue a mixture. The first holds an advisory lock on
``<run_dir>/.lock`` (``flock``) for the length of its run; the operating system drops it when
the process ends, killed or not, so there is never a stale lock to clear. Runs are not locked
where ``fcntl`` does not exist (Windows) or the file system has no locks (some network
mounts); the latter is said on stderr.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from lwnet.errors import InputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"
#: What flock raises on a file system without locks (some NFS, SMB, FUSE or Lustre mounts).
_NO_LOCKS = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}


def in_use_error(run_dir: Path) -> InputError:
    """The error of a run refused because another one holds ``run_dir``."""
    return InputError(f"{run_dir}: another lwnet train is running in this folder; wait for it, "
                      "or use another --run-dir")


@contextlib.contextmanager
def run_folder_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock while the block runs.

    Raises :class:`InputError` (:func:`in_use_error`) when another process holds it. If this
    call created the folder and the block leaves nothing in it but the lock, the folder goes
    again, so a run that fails before writing anything leaves no run folder behind.
    """
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(run_dir / LOCK_FILE, "a")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise InputError(f"{run_dir}: cannot write here ({exc.strerror})") from None
    locked = False
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise in_use_error(run_dir) from None
        except OSError as exc:
            if exc.errno not in _NO_LOCKS:
                raise
            print(f"lwnet train: {run_dir}: this file system has no locks; nothing stops a "
                  "second run in this folder", file=sys.stderr)
        locked = True
        yield
    finally:
        handle.close()
        # Only the holder tidies up, and only the folder it made: another may hold it next.
        if locked and created:
            with contextlib.suppress(OSError):
                if os.listdir(run_dir) == [LOCK_FILE]:
                    (run_dir / LOCK_FILE).unlink()
                    run_dir.rmdir()
