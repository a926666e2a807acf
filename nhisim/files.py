"""Writing results: whole files or none, and one writer per results folder.

Every file nhisim writes (an event log, a report, a comparison's results, a sweep's
chunks, an exported policy) is first written to a hidden temporary file beside it, then
renamed over the target (:func:`whole_files`). A full disk, a crash, Ctrl-C or ``kill -9``
leaves either the old file or the new one, never a truncated one; a failed write removes
its temporary file and raises :class:`OSError` naming the target, not the temporary.
The names of the files put in place are kept (:func:`written`), so an interrupted command
can say what it kept.

A results folder is written by one command at a time (:class:`FolderLock`): a sweep and a
comparison started on the same ``--out`` cannot overwrite each other's work.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nhisim import interrupt
from nhisim.errors import InputError

TEMP_PREFIX = ".nhisim-"
TEMP_SUFFIX = ".tmp"
LOCK_FILE = ".nhisim.lock"
_counter = itertools.count()
_written: list[Path] = []


def is_temporary(name: str) -> bool:
    """A file name :func:`whole_files` uses while writing (left behind only by ``kill -9``)."""
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def temporary_beside(target: str | os.PathLike) -> Path:
    """A new, empty temporary file in ``target``'s folder (a name :func:`is_temporary` knows),
    to write before it is put in place."""
    # short, whatever the target's name: a 255-byte name plus a suffix would be too long
    path = Path(target).with_name(f"{TEMP_PREFIX}{os.getpid()}-{next(_counter)}{TEMP_SUFFIX}")
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies, as to any file
    return path


def make_folders(folder: str | os.PathLike) -> Path:
    """``mkdir -p`` without recursion: a path thousands of folders deep fails with its OS error,
    not Python's recursion limit (``Path.mkdir(parents=True)`` recurses once per missing folder)."""
    folder = Path(folder)
    missing = []
    for candidate in [folder, *folder.parents]:
        if candidate.is_dir():
            break
        missing.append(candidate)
    for candidate in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process: fine if a folder
            candidate.mkdir()
        if not candidate.is_dir():
            raise NotADirectoryError(20, "Not a directory", os.fspath(candidate))
    return folder


def naming(exc: OSError, target: str | os.PathLike) -> OSError:
    """The same failure, naming ``target``: what the user asked for, never a temporary file."""
    return OSError(exc.errno, exc.strerror or str(exc), os.fspath(target))


@contextlib.contextmanager
def whole_files(*targets: str | os.PathLike) -> Iterator[list[Path]]:
    """Temporary paths to write ``targets`` to; on success all are put in place together.

    ``with whole_files(a, b) as (tmp_a, tmp_b): frame.to_parquet(tmp_a); ...`` Folders
    are created as needed. Ctrl-C during the renames is held until they are done, so the
    files are replaced together as far as the file system allows.
    """
    paths = [Path(t) for t in targets]
    temps: list[Path] = []
    try:
        for path in paths:
            try:
                make_folders(path.parent)
                temps.append(temporary_beside(path))
            except OSError as exc:
                raise naming(exc, path) from None
        yield temps
        for path, temp in zip(paths, temps, strict=True):
            try:
                with open(temp, "rb+") as fh:
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise naming(exc, path) from None
        with interrupt.held():
            for path, temp in zip(paths, temps, strict=True):
                try:
                    os.replace(temp, path)
                except OSError as exc:
                    raise naming(exc, path) from None
                _written.append(path)
        for folder in {p.parent for p in paths}:
            _fsync_folder(folder)
    except OSError as exc:
        if exc.filename in {os.fspath(t) for t in temps}:  # a writer that names our temporary file
            raise naming(exc, paths[[os.fspath(t) for t in temps].index(exc.filename)]) from None
        if exc.filename is None:  # which file failed is not said: name it, or the folder they share
            folders = {p.parent for p in paths}
            raise naming(exc, paths[0] if len(paths) == 1 else folders.pop() if len(folders) == 1 else paths[0]
                         ) from None
        raise
    finally:
        for temp in temps:
            with contextlib.suppress(OSError):
                temp.unlink()


@contextlib.contextmanager
def whole_file(target: str | os.PathLike) -> Iterator[Path]:
    """:func:`whole_files` for one file: ``with whole_file(p) as tmp: fig.savefig(tmp)``."""
    with whole_files(target) as (temp,):
        yield temp


def write_whole(target: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``target`` whole or not at all; return the target."""
    # a lone surrogate (an undecodable file name) cannot be UTF-8: shown as its escape
    payload = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data
    with whole_file(target) as temp:
        temp.write_bytes(payload)
    return Path(target)


def written() -> list[Path]:
    """The files this process has put in place, oldest first."""
    return list(_written)


def _fsync_folder(path: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _cannot(path: Path, what: str, exc: OSError) -> InputError:
    return InputError.single(f"cannot {what}: {exc.strerror or exc}", file=str(path),
                             suggestion="choose a folder you can read and write, e.g. --out results/my-run")


class FolderLock:
    """An exclusive lock on a results folder while a sweep or a comparison writes to it.

    Taken with ``flock`` on a hidden file in the folder (released by the system if the
    process dies); a second writer is refused at once with the holder's pid and command.
    Where ``flock`` does not exist (not POSIX) there is no lock.
    """

    def __init__(self, folder: str | os.PathLike, what: str) -> None:
        self.folder = Path(folder)
        self.what = what
        self._fh: Any = None

    def acquire(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return self
        try:
            fh = open(self.folder / LOCK_FILE, "a+")  # held open while the command writes
        except OSError as exc:
            raise _cannot(self.folder, "create the lock file", exc) from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = " ".join(fh.read().split())[:80]
            fh.close()
            raise InputError.single(f"another nhisim command is writing to this folder"
                                    f"{f' ({holder})' if holder else ''}", file=str(self.folder),
                                    title="folder in use",
                                    suggestion="wait for it to finish, or give another --out folder") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{self.what}, pid {os.getpid()}")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        with contextlib.suppress(Exception):
            fh.seek(0)
            fh.truncate()
            fh.flush()
        with contextlib.suppress(Exception):
            fh.close()

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


__all__ = ["FolderLock", "is_temporary", "make_folders", "naming", "temporary_beside", "whole_file", "whole_files",
           "write_whole", "written"]
