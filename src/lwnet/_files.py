"""Safe file writing, shared by every writer of LWNet (images, weights, checkpoints, reports).

Writes are atomic: the bytes go to a temporary file in the destination folder, which is then
renamed into place, so a crash never leaves a truncated output. Without ``overwrite`` the final
step is a hard link, which fails if the file appeared meanwhile (two writers never clobber).
Outputs that exist, or that are (or lie inside) the inputs, are refused before any work.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from lwnet.errors import InputError, OutputExistsError

_TMP = ".tmp"  # suffix of atomic_write_bytes' temporary files


def _exists_error(path: Path) -> OutputExistsError:
    return OutputExistsError(f"{path}: already exists (use --overwrite, or overwrite=True from "
                             "Python, to replace it)")


def refuse_existing(paths: Iterable[str | os.PathLike[str]], overwrite: bool = False) -> None:
    """Unless ``overwrite``, raise :class:`OutputExistsError` naming the first of ``paths`` that
    exists. Writers call it before any work, so a refused run leaves nothing half-written."""
    if not overwrite:
        for path in map(Path, paths):
            if path.exists():
                raise _exists_error(path)


def is_within(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (either may not exist yet).

    Compared by file identity where a path exists, so symbolic links and case-insensitive
    file systems (macOS) do not hide a match.
    """
    folder = Path(folder)
    if not folder.exists():
        return False
    path = Path(path).absolute()
    return any(p.exists() and os.path.samefile(p, folder) for p in (path, *path.parents))


def refuse_inputs_as_outputs(outputs: Iterable[str | os.PathLike[str]],
                             inputs: Iterable[str | os.PathLike[str]]) -> None:
    """Raise :class:`InputError` naming the first of ``outputs`` that is one of the ``inputs``
    files, or lies inside one of the ``inputs`` folders: with ``--overwrite`` or not, writing
    it would lose source data (or add a folder to the data's layout)."""
    sources = [Path(p) for p in inputs]
    for out in map(Path, outputs):
        for source in sources:
            if source.is_dir() and is_within(out, source):
                raise InputError(f"{out}: inside the input folder {source}; write the results "
                                 "elsewhere")
            if source.is_file() and out.exists() and os.path.samefile(out, source):
                raise InputError(f"{out}: is an input; name another output")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; refuse an existing file unless ``overwrite``.

    The parent folder is created. Raises :class:`OutputExistsError` if the file exists (also when
    another process created it meanwhile) and ``overwrite`` is false.
    """
    path = Path(path)
    refuse_existing([path], overwrite)
    fd, tmp = _temp_file(path.parent, path.name, path)
    try:
        with os.fdopen(fd, "wb") as fh:
            # mkstemp makes the file owner-only; give it the mode of the file it replaces, or
            # the one a plain open() would give.
            os.chmod(tmp, _new_file_mode(path))
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise _exists_error(path) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _temp_file(folder: Path, name: str, what: Path) -> tuple[int, str]:
    """A new temporary file in ``folder`` (made if missing) for writing ``what``; errors name
    the folder, or the file that stands where a folder should be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # The writer's pid in the name lets remove_stale_temps tell a killed writer's file
        # from one another live process is still writing.
        return tempfile.mkstemp(prefix=f".{name}.{os.getpid()}.", suffix=_TMP, dir=folder)
    except OSError as exc:
        blocker = next((q for q in [folder, *folder.parents] if q.is_file()), None)
        if blocker is not None:
            raise InputError(f"{blocker}: is a file, so {what} cannot be written") from None
        raise InputError(f"{folder}: cannot write here ({exc.strerror})") from None


def check_writable(folders: Iterable[str | os.PathLike[str]]) -> None:
    """Raise :class:`InputError` naming the first of ``folders`` where no file can be written
    (a missing folder is tried at its nearest existing parent, where the writers would make
    it). Called before long work whose outputs go to several places, so that the last of them
    cannot fail after the first are written."""
    for folder in map(Path, folders):
        existing = next(q for q in [folder, *folder.parents] if q.exists() or q == q.parent)
        fd, tmp = _temp_file(existing, "lwnet-write-check", folder)
        os.close(fd)
        os.unlink(tmp)


@contextlib.contextmanager
def removed_on_failure(outputs: Iterable[str | os.PathLike[str]]) -> Iterator[None]:
    """Outputs written together, all or none: when the block raises or is interrupted, what
    it created among ``outputs`` is removed (a file, or in a folder the entries it added),
    so no partial set is left to be mistaken for a result. A file it replaced stays replaced."""
    paths = [Path(p) for p in outputs]
    before = {p: set(p.iterdir()) if p.is_dir() else p.exists() for p in paths}
    try:
        yield
    except BaseException:
        for path, was in before.items():
            if was is False:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            elif isinstance(was, set) and path.is_dir():
                for entry in set(path.iterdir()) - was:
                    if entry.is_file():
                        entry.unlink(missing_ok=True)
        raise


def _new_file_mode(path: Path) -> int:
    """Permission bits for a file written to ``path``: those of the file there, else
    ``0o666`` less the umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o666 & ~_umask()


_UMASK_LOCK = threading.Lock()


@functools.cache
def _umask() -> int:
    """The process's umask, read once: reading it means setting it, so writer threads must
    not race here."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def remove_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that killed writers of :func:`atomic_write_bytes` left in
    ``folder``; returns them.

    A temp file is stale when the process that created it (its pid is in the name) no longer
    runs, so calling this while other processes write into the same folder is safe.
    """
    removed = []
    for tmp in Path(folder).glob(f".*{_TMP}"):
        pid = tmp.name[: -len(_TMP)].split(".")[-2]
        if pid.isdigit() and not _process_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
