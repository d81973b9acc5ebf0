"""File access that the kernel keeps where ``resolve_path`` said it is.

``resolve_path`` returns a fully resolved absolute path (no symlink in it) inside a root.
Between that check and the use, something else (the agent's own background command, another
process) may swap a folder on the way for a symlink. So every use walks the path from ``/``
one component at a time with ``O_NOFOLLOW`` (``openat``-style, through directory file
descriptors): a component that has become a link makes the call fail with ``PathRefused``,
and the file is read, written or removed relative to the descriptor of the folder that was
actually checked. Writes are atomic (a temporary file in that folder, fsync, ``rename``
within it), so they never go through a link and never modify a hard-linked file's shared
data: the directory entry is replaced. Reading a regular file whose link count shows it is
shared with another name (a hard link, possibly to a file outside the workspace) is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from ..fileio import MAX_FILE_BYTES, FileTooLarge, NotRegularFile, kind_of, read_regular
from .paths import PathRefused

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
SUPPORTED = os.open in os.supports_dir_fd and bool(_NOFOLLOW)


def _refuse(path: Path, why: str) -> PathRefused:
    return PathRefused(f"'{path}' {why}; the agent only uses paths inside the workspace, never through links")


@contextlib.contextmanager
def open_parent(path: Path, *, create: bool = False) -> Iterator[int]:
    """A descriptor of ``path``'s folder, reached from ``/`` without following any link."""
    if not path.is_absolute():
        raise _refuse(path, "is not absolute")
    fd = os.open("/", _DIR_FLAGS)
    try:
        for part in path.parent.parts[1:]:
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    raise _refuse(path, f"has a link or a non-folder at '{part}'") from None
                raise
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


def read_bytes(path: Path, max_bytes: int | None = MAX_FILE_BYTES) -> bytes | None:
    """``fileio.read_regular`` through ``open_parent``: the bytes of the regular file at
    ``path``, None when it (or a folder on the way) does not exist. ``NotRegularFile`` for
    anything else (a FIFO is opened non-blocking and never read), ``FileTooLarge`` past
    ``max_bytes``, ``PathRefused`` for a link on the way or a hard-linked file."""
    if not SUPPORTED:
        return read_regular(path, max_bytes)
    try:
        with open_parent(path) as dfd:
            try:
                fd = os.open(path.name, os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                             | getattr(os, "O_NOCTTY", 0), dir_fd=dfd)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _refuse(path, "is a link") from None
                raise
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise NotRegularFile(f"{path.name} is {kind_of(st.st_mode)}, not a regular file; "
                                         "only regular files are read")
                if st.st_nlink > 1:
                    raise PathRefused(
                        f"'{path}' is hard-linked ({st.st_nlink} names share its data, maybe outside the "
                        "workspace); the agent does not read shared files")
                if max_bytes is not None and st.st_size > max_bytes:
                    raise FileTooLarge(f"{path.name} is {st.st_size} bytes, over the "
                                       f"{max_bytes // (1024 * 1024)} MiB a file tool reads")
                chunks = []
                size = 0
                while chunk := os.read(fd, 1 << 20):
                    chunks.append(chunk)
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise FileTooLarge(f"{path.name} grew past the {max_bytes} bytes a file tool reads")
                return b"".join(chunks)
            finally:
                os.close(fd)
    except (FileNotFoundError, NotADirectoryError):
        return None


def read_disk(path: Path, max_bytes: int | None = None) -> bytes | None:
    """``read_bytes``, with None for a directory (as ``service.diskio.read_disk``)."""
    try:
        return read_bytes(path, max_bytes)
    except NotRegularFile:
        if path.is_dir():
            return None
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """Write atomically in the checked folder, keeping an existing file's mode."""
    if not SUPPORTED:
        from ..fileio import atomic_write

        atomic_write(path, data)
        return
    with open_parent(path, create=True) as dfd:
        try:
            st = os.stat(path.name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
            mode = stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None
        except FileNotFoundError:
            mode = None
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        tmp = f".{path.name}.{secrets.token_hex(4)}.minicode-tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600,
                     dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
                os.fchmod(fh.fileno(), mode)
            os.replace(tmp, path.name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
            raise
        with contextlib.suppress(OSError):
            os.fsync(dfd)


def remove(path: Path) -> None:
    """Remove the directory entry (a link is removed, never what it points to)."""
    if not SUPPORTED:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    try:
        with open_parent(path) as dfd:
            os.unlink(path.name, dir_fd=dfd)
    except (FileNotFoundError, NotADirectoryError):
        pass
