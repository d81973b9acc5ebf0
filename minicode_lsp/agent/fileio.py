"""Reading and writing workspace files: the one place for how (the package's other layers use
these too; the agent imports nothing of the package, so they live here).

Reading never blocks: regular files only, bounded in size.

``open()`` on a FIFO waits for a writer, on a device it may wait for the device, and reading
either never ends; a huge file fills memory. ``read_regular`` looks first (``stat``), refuses
anything that is not a regular file without opening it, opens with ``O_NONBLOCK`` (so a FIFO
swapped in after the look still opens at once) and checks again on the open descriptor.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

# What the file tools read at most (read_file shows less; edit_file and search need the whole file).
MAX_FILE_BYTES = 32 * 1024 * 1024

KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


class NotRegularFile(OSError):
    """The path is a FIFO, a device, a socket or a directory: never opened for reading."""


class FileTooLarge(OSError):
    """The file is larger than the reader's bound."""


def kind_of(mode: int) -> str:
    return KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _refuse(path: Path, mode: int) -> NotRegularFile:
    return NotRegularFile(f"{path.name} is {kind_of(mode)}, not a regular file; only regular files are read")


def read_regular(path: Path, max_bytes: int | None = MAX_FILE_BYTES) -> bytes | None:
    """The bytes of the regular file at ``path``; None when it does not exist.

    Raises ``NotRegularFile`` for anything else (never opened), ``FileTooLarge`` past ``max_bytes``.
    """
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(path, st.st_mode)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(path, st.st_mode)
        if max_bytes is not None and st.st_size > max_bytes:
            raise FileTooLarge(f"{path.name} is {st.st_size} bytes, over the {max_bytes // (1024 * 1024)} MiB "
                               "a file tool reads")
        chunks: list[bytes] = []
        size = 0
        limit = max_bytes if max_bytes is not None else -1
        while True:
            chunk = os.read(fd, 1024 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if limit >= 0 and size > limit:  # it grew while we read
                raise FileTooLarge(f"{path.name} grew past the {max_bytes} bytes a file tool reads")
        return b"".join(chunks)
    finally:
        os.close(fd)


# ------------------------------------------------------------------ text
def is_binary(data: bytes) -> bool:
    """A NUL byte in the first 8 KiB: not text (no diff, not shown, not edited as text)."""
    return b"\x00" in data[:8192]


def encoding_of(data: bytes | None) -> str:
    """How a file's bytes are read as text: UTF-8 when they decode, else latin-1 (every byte
    is one character, so any file round-trips)."""
    if data is None:
        return "utf-8"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "latin-1"


def decode_text(data: bytes) -> str:
    """A file's bytes as text, by :func:`encoding_of`."""
    return data.decode(encoding_of(data))


# ------------------------------------------------------------------ writing
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a temporary ``.NAME.*.minicode-tmp`` file in the same
    folder, fsync, rename, folder fsync), keeping an existing file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    import tempfile  # here: it pulls in shutil, bz2 and lzma, which a server start does not need

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".minicode-tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
