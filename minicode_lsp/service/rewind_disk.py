"""All-or-nothing rewinds on disk: staged, then moved into place, rolled back on any failure.

Confinement: every path is reached from the workspace root one folder at a time, each opened
with ``O_DIRECTORY | O_NOFOLLOW``, and every change is made relative to its parent folder's
descriptor. A folder on the way that is a symbolic link is refused, never followed, so a
rewind never writes or deletes outside the workspace (a link *itself* is a thing a rewind can
remove, create or retarget; what it points to is never touched).

Atomicity: new contents (files with their modes, links) are written first into staging
folders, one per mount the rewind's paths are on (a rename works only within one mount: a
workspace on another file system than the store, a file system mounted inside the workspace,
or a bind mount of the same one). For the store's mount that is a folder in the store; for
any other, a ``.rewind-<nonce>.minicode-tmp`` folder in the workspace's topmost folder on that
mount (the workspace root, or the mount point inside it; snapshots never count such names as
user files). Nothing in the workspace has changed if staging fails. Then each entry that
goes away or is replaced is moved into its mount's staging folder (kept as a backup), each new
one moved into place; folders are removed deepest first and created shallowest first. Any
error undoes every step taken, in reverse, and the rewind reports the reason with nothing
changed.

A journal in the store folder names the staging folders before they are made and records
each step before it is taken. A process killed half way leaves it; ``recover`` (at the next
start) undoes the recorded steps the same way and removes the staging folders, so a rewind
is never left half done and no temporary file stays behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..wording import plural

log = logging.getLogger(__name__)

JOURNAL = "rewind-journal.jsonl"
STAGING = "rewind-staging"
TEMP_SUFFIX = ".minicode-tmp"
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


async def restore_buffers(frontend: Any, files: list[Any]) -> list[str]:
    """The disk step of a rewind failed after the editor applied its part: put back the text of
    every buffer that edit changed (``files``: the plan's ``FilePlan`` entries sent to the editor),
    so a failed rewind changes nothing in the editor either. Returns the paths that could not be
    put back (the editor refused or failed), for the reason shown to the user."""
    from .frontend import FileEdit

    edits = [FileEdit(path=Path(f.path), old=f.new_content, new=f.current) for f in files
             if frontend.open_text(Path(f.path)) is not None  # a buffer the edit changed
             or (f.new_content is None and f.current is not None and not os.path.lexists(f.path))]  # it deleted
    if not edits:
        return []
    try:
        if await frontend.apply_edits(edits, label="MiniCode: rewind failed, restoring",
                                      description="the rewind could not be written: its editor changes are undone",
                                      confirm=False):
            return []
    except Exception:
        log.exception("could not put the editor's buffers back after a failed rewind")
    return [str(e.path) for e in edits]


class RewindFailed(Exception):
    """The rewind could not be applied; nothing was changed. ``str()`` says why."""


@dataclass
class NodeOp:
    """One path's change: from ``cur_kind`` (None: absent) to ``new_kind`` with ``data`` (a
    file's bytes, a link's target; None: remove) and ``mode`` (permission bits; None: keep, or
    the default for a new file)."""

    rel: str
    cur_kind: str | None
    new_kind: str | None
    data: bytes | None
    mode: int | None
    cur_mode: int | None = None
    key: str = ""  # its names in the staging folder: s<key> (new), b<key> (the old one, moved aside)
    stage: int = 0  # which staging folder (the one on the mount of its folder)

    @property
    def replaces(self) -> bool:
        """Whatever is there goes (moved aside, or a folder removed) before the new one comes."""
        if self.cur_kind is None:
            return False
        return self.new_kind is None or self.new_kind != self.cur_kind or self.new_kind != "dir" and self.data is not None

    @property
    def chmod_only(self) -> bool:
        return self.cur_kind is not None and self.cur_kind == self.new_kind and self.data is None and (
            self.new_kind == "dir" or self.new_kind == "file")


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _refuse_link(rel: str, part: str) -> RewindFailed:
    return RewindFailed(f"{rel}: {part} is a symbolic link or not a folder; a rewind never writes through one")


class _Dirs:
    """Folder descriptors under the root, opened without following links (cached per rewind)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fds: dict[str, int] = {"": os.open(root, DIR_FLAGS)}

    def get(self, rel_dir: str, *, create: list[str] | None = None) -> int | None:
        """The descriptor of folder ``rel_dir``; None when it does not exist (``create``: make the
        missing folders, recording them)."""
        if rel_dir in self.fds:
            return self.fds[rel_dir]
        parent, _, name = rel_dir.rpartition("/")
        pfd = self.get(parent, create=create)
        if pfd is None:
            return None
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=pfd)
        except FileNotFoundError:
            if create is None:
                return None
            os.mkdir(name, 0o777 & ~_umask(), dir_fd=pfd)
            create.append(rel_dir)
            fd = os.open(name, DIR_FLAGS, dir_fd=pfd)
        except OSError as exc:
            if exc.errno in (errno.ENOTDIR, errno.ELOOP):  # a link (or a file) where a folder should be
                raise _refuse_link(rel_dir, rel_dir) from None
            raise
        self.fds[rel_dir] = fd
        return fd

    def forget(self, rel_dir: str) -> None:
        """A folder was removed: drop its descriptor (and those below it)."""
        for key in [k for k in self.fds if k == rel_dir or k.startswith(rel_dir + "/")]:
            os.close(self.fds.pop(key))

    def close(self) -> None:
        for fd in self.fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()


def _mount_of(fd: int) -> tuple[str, int]:
    """The mount an open folder is on. A rename works only within one mount, and a bind mount of
    the same file system has the same ``st_dev``: the mount id (``/proc/self/fdinfo``) tells them
    apart; without /proc, the device."""
    try:
        with open(f"/proc/self/fdinfo/{fd}", "rb") as fh:
            for line in fh:
                if line.startswith(b"mnt_id:"):
                    return ("mnt", int(line.split()[1]))
    except (OSError, ValueError, IndexError):
        pass
    return ("dev", os.fstat(fd).st_dev)


def _split(rel: str) -> tuple[str, str]:
    parent, _, name = rel.rpartition("/")
    return parent, name


def _kind_at(dirfd: int | None, name: str) -> tuple[str | None, int | None]:
    if dirfd is None:
        return None, None
    try:
        st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return None, None
    kind = "dir" if stat.S_ISDIR(st.st_mode) else "link" if stat.S_ISLNK(st.st_mode) else (
        "file" if stat.S_ISREG(st.st_mode) else "other")
    return kind, stat.S_IMODE(st.st_mode)


class DiskRewind:
    """One rewind's changes under ``root``: ``prepare`` (stage; nothing changes), then
    ``commit`` (all or nothing) or ``discard``."""

    def __init__(self, root: Path, store_dir: Path, ops: list[NodeOp], *, group_id: str | None = None) -> None:
        self.root, self.store_dir, self.ops, self.group_id = root, store_dir, ops, group_id
        self.dirs: _Dirs | None = None
        self.stages: list[Path] = []
        self.stage_fds: list[int] = []
        self._journal: int | None = None
        self._done: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ staging
    def _landing(self, rel_dir: str) -> str:
        """The deepest folder of ``rel_dir`` (itself or a parent) that is a folder now: what comes
        into ``rel_dir`` lands on its mount (folders the rewind makes are on their parent's)."""
        assert self.dirs is not None
        while True:
            try:
                if self.dirs.get(rel_dir) is not None:
                    return rel_dir
            except RewindFailed:  # a link or a file where the rewind makes a folder
                pass
            if not rel_dir:
                raise RewindFailed("the workspace folder is gone")
            rel_dir = _split(rel_dir)[0]

    def _plan_stages(self) -> list[Path]:
        """One staging folder per mount the ops land on (``op.stage``: its index)."""
        assert self.dirs is not None
        mounts: dict[str, tuple[str, int]] = {}

        def mount(rel_dir: str) -> tuple[str, int]:
            if rel_dir not in mounts:
                fd = self.dirs.get(rel_dir) if self.dirs is not None else None
                assert fd is not None
                mounts[rel_dir] = _mount_of(fd)
            return mounts[rel_dir]

        store_fd = os.open(self.store_dir, DIR_FLAGS & ~os.O_NOFOLLOW)
        try:
            store_mount = _mount_of(store_fd)
        finally:
            os.close(store_fd)
        nonce = uuid.uuid4().hex[:12]
        stages: list[Path] = []
        index: dict[tuple[str, int], int] = {}
        for op in self.ops:
            landing = self._landing(_split(op.rel)[0])
            m = mount(landing)
            if m not in index:
                if m == store_mount:
                    stage = self.store_dir / STAGING / f"{nonce}-{len(stages)}"
                else:  # the topmost folder of the workspace on that mount
                    top = landing
                    while top and mount(_split(top)[0]) == m:
                        top = _split(top)[0]
                    stage = self.root / top / f".rewind-{nonce}-{len(stages)}{TEMP_SUFFIX}"
                index[m] = len(stages)
                stages.append(stage)
            op.stage = index[m]
        return stages

    def prepare(self) -> None:
        """Check every path (no link on the way, still what the plan saw) and stage the new
        contents. Raises ``RewindFailed``; the workspace is untouched either way."""
        try:
            self.dirs = _Dirs(self.root)
            # folders this rewind makes where something else is now (a link, a file): what goes
            # in them is checked when they exist, in commit
            remade = {op.rel for op in self.ops if op.new_kind == "dir" and op.cur_kind != "dir"}
            for op in self.ops:
                parent, name = _split(op.rel)
                if any(parent == r or parent.startswith(r + "/") for r in remade):
                    if op.cur_kind is not None:
                        raise RewindFailed(f"{op.rel} changed since the rewind was planned; preview again")
                    continue
                fd = self.dirs.get(parent)
                kind, _mode = _kind_at(fd, name)
                if kind != op.cur_kind and not (kind is None and op.cur_kind is None):
                    raise RewindFailed(f"{op.rel} changed since the rewind was planned; preview again")
            self.stages = self._plan_stages()
            self._open_journal()  # names the staging folders before they exist: a kill cleans them
            for stage in self.stages:
                if stage.parent.name == STAGING:  # in the store
                    stage.parent.mkdir(mode=0o700, exist_ok=True)
                    stage.mkdir(mode=0o700)
                    self.stage_fds.append(os.open(stage, DIR_FLAGS))
                else:  # in the workspace: made from its folder's descriptor, never through a link
                    rel_top = stage.parent.relative_to(self.root).as_posix()
                    top = self.dirs.get("" if rel_top == "." else rel_top)
                    assert top is not None
                    os.mkdir(stage.name, 0o700, dir_fd=top)
                    self.stage_fds.append(os.open(stage.name, DIR_FLAGS, dir_fd=top))
            for i, op in enumerate(self.ops):
                op.key = str(i)
                stage_fd = self.stage_fds[op.stage]
                if op.new_kind == "file" and op.data is not None:
                    mode = op.mode if op.mode is not None else (op.cur_mode if op.cur_mode is not None
                                                                 else 0o666 & ~_umask())
                    fd = os.open(f"s{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600,
                                 dir_fd=stage_fd)
                    try:
                        view = memoryview(op.data)
                        while view:
                            view = view[os.write(fd, view):]
                        os.fchmod(fd, mode)
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                elif op.new_kind == "link" and op.data is not None:
                    os.symlink(op.data, f"s{i}", dir_fd=stage_fd)
        except RewindFailed:
            self.discard()
            raise
        except OSError as exc:
            self.discard()
            raise RewindFailed(f"could not stage the rewind: {exc.strerror or exc}") from None

    def state(self, rel: str) -> tuple[str | None, int | None]:
        """What is at ``rel`` now (kind, permission bits), never following a link."""
        assert self.dirs is not None
        parent, name = _split(rel)
        return _kind_at(self.dirs.get(parent), name)

    def _open_journal(self) -> None:
        path = self.store_dir / JOURNAL
        self._journal = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        self._log({"root": str(self.root), "stages": [str(s) for s in self.stages], "group": self.group_id})

    def _log(self, record: dict[str, Any], *, sync: bool = False) -> None:
        """Append one record. Written before its step, it survives a kill of this process without
        an fsync (the kernel has it); like the files (fsynced, as an agent write is) and unlike
        power loss, which is not covered (docs/reliability.md)."""
        assert self._journal is not None
        os.write(self._journal, (json.dumps(record) + "\n").encode())
        if sync:
            os.fsync(self._journal)

    # ------------------------------------------------------------------ applying
    def commit(self) -> None:
        """Move everything into place; on any error undo what was done and raise ``RewindFailed``."""
        assert self.dirs is not None and len(self.stage_fds) == len(self.stages)
        try:
            self._apply()
        except (OSError, RewindFailed) as exc:
            reason = str(exc) if isinstance(exc, RewindFailed) else (
                f"{getattr(exc, 'filename', None) or ''}: {exc.strerror or exc}".lstrip(": "))
            log.warning("rewind failed, undoing its %s: %s", plural(len(self._done), "step"), reason)
            try:
                self._rollback()
            except OSError as undo_exc:
                log.exception("rewind: could not undo every step; the journal is kept for the next start")
                self._close()
                raise RewindFailed(f"{reason}; some steps could not be undone yet ({undo_exc}): they will be"
                                   " at the next start") from None
            self.discard()
            raise RewindFailed(f"nothing was changed: {reason}") from None
        self.discard()

    def _step(self, record: dict[str, Any]) -> None:
        self._log(record)
        self._done.append(record)

    def _apply(self) -> None:
        dirs, stage_fds = self.dirs, self.stage_fds
        assert dirs is not None
        indexed = [(op.key, op) for op in self.ops]
        # 1. what goes away: deepest first (a folder is empty once its entries went)
        for i, op in sorted(indexed, key=lambda x: -x[1].rel.count("/")):
            if not op.replaces:
                continue
            parent, name = _split(op.rel)
            fd = dirs.get(parent)
            if fd is None:
                raise RewindFailed(f"{op.rel}: its folder disappeared")
            if op.cur_kind == "dir":
                self._step({"do": "rmdir", "rel": op.rel, "mode": op.cur_mode})
                dirs.forget(op.rel)
                os.rmdir(name, dir_fd=fd)
            else:
                self._step({"do": "aside", "rel": op.rel, "backup": f"b{i}", "st": op.stage})
                os.rename(name, f"b{i}", src_dir_fd=fd, dst_dir_fd=stage_fds[op.stage])
        # 2. what comes: shallowest first (a new folder exists before what goes in it)
        for i, op in sorted(indexed, key=lambda x: x[1].rel.count("/")):
            parent, name = _split(op.rel)
            if op.chmod_only:
                if op.mode is None or op.mode == op.cur_mode:
                    continue
                fd = dirs.get(parent)
                if fd is None:
                    raise RewindFailed(f"{op.rel}: its folder disappeared")
                flags = DIR_FLAGS if op.new_kind == "dir" else os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                self._step({"do": "chmod", "rel": op.rel, "mode": op.cur_mode, "dir": op.new_kind == "dir"})
                nfd = os.open(name, flags, dir_fd=fd)
                try:
                    os.fchmod(nfd, op.mode)
                finally:
                    os.close(nfd)
                continue
            if op.new_kind is None or (op.new_kind == "dir" and not op.replaces and op.cur_kind == "dir"):
                continue
            made: list[str] = []
            self._step({"do": "parents", "rel": op.rel})
            fd = dirs.get(parent, create=made)
            if made:
                self._done[-1]["made"] = made
                self._log({"do": "made", "dirs": made})
            assert fd is not None
            if op.new_kind == "dir":
                mode = op.mode if op.mode is not None else 0o777 & ~_umask()
                self._step({"do": "mkdir", "rel": op.rel})
                os.mkdir(name, 0o700, dir_fd=fd)
                dfd = os.open(name, DIR_FLAGS, dir_fd=fd)
                try:
                    os.fchmod(dfd, mode)  # exactly, whatever the umask
                finally:
                    os.close(dfd)
            else:
                if _kind_at(fd, name)[0] is not None:
                    raise RewindFailed(f"{op.rel} appeared while the rewind was applied")
                self._step({"do": "place", "rel": op.rel, "staged": f"s{i}", "st": op.stage})
                os.rename(f"s{i}", name, src_dir_fd=stage_fds[op.stage], dst_dir_fd=fd)

    def _rollback(self) -> None:
        _undo(self.root, self.stages, list(reversed(self._done)))
        self._done.clear()

    # ------------------------------------------------------------------ cleaning up
    def _close(self) -> None:
        if self.dirs is not None:
            self.dirs.close()
            self.dirs = None
        for fd in self.stage_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.stage_fds = []
        if self._journal is not None:
            with contextlib.suppress(OSError):
                os.close(self._journal)
            self._journal = None

    def discard(self) -> None:
        """Drop the staging folders (backups included) and the journal."""
        self._close()
        _remove_stages(self.stages)
        with contextlib.suppress(FileNotFoundError):
            (self.store_dir / JOURNAL).unlink()


def _remove_stages(stages: list[Path]) -> None:
    for stage in stages:
        shutil.rmtree(stage, ignore_errors=True)
        if stage.parent.name == STAGING:
            with contextlib.suppress(OSError):  # the staging parent, once empty
                stage.parent.rmdir()


def _undo(root: Path, stages: list[Path], steps: list[dict[str, Any]]) -> None:
    """Undo ``steps`` (newest first). Each may or may not have happened (a kill can come between
    writing its record and taking it); each undo checks which."""
    dirs = _Dirs(root)
    stage_fds: dict[int, int] = {}
    try:
        for step in steps:
            do, rel = step.get("do"), str(step.get("rel", ""))
            parent, name = _split(rel)
            if do in ("place", "aside"):
                st = int(step.get("st", 0))
                if st not in stage_fds:
                    stage_fds[st] = os.open(stages[st], DIR_FLAGS)
                stage_fd = stage_fds[st]
            if do == "place":  # the staged entry went in: move it back out
                fd = dirs.get(parent)
                if fd is not None and _kind_at(stage_fd, step["staged"])[0] is None:
                    with contextlib.suppress(FileNotFoundError):
                        os.rename(name, step["staged"], src_dir_fd=fd, dst_dir_fd=stage_fd)
            elif do == "aside":  # the old entry was moved aside: put it back
                if _kind_at(stage_fd, step["backup"])[0] is not None:
                    fd = dirs.get(parent, create=[])
                    assert fd is not None
                    os.rename(step["backup"], name, src_dir_fd=stage_fd, dst_dir_fd=fd)
            elif do == "rmdir":
                fd = dirs.get(parent, create=[])
                assert fd is not None
                if _kind_at(fd, name)[0] is None:
                    os.mkdir(name, 0o700, dir_fd=fd)
                    dfd = os.open(name, DIR_FLAGS, dir_fd=fd)
                    try:
                        os.fchmod(dfd, step["mode"] if step.get("mode") is not None else 0o777 & ~_umask())
                    finally:
                        os.close(dfd)
            elif do == "mkdir":
                fd = dirs.get(parent)
                if fd is not None and _kind_at(fd, name)[0] == "dir":
                    dirs.forget(rel)
                    with contextlib.suppress(OSError):
                        os.rmdir(name, dir_fd=fd)
            elif do == "chmod":
                fd = dirs.get(parent)
                if fd is not None and step.get("mode") is not None and _kind_at(fd, name)[0] is not None:
                    flags = DIR_FLAGS if step.get("dir") else os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                    nfd = os.open(name, flags, dir_fd=fd)
                    try:
                        os.fchmod(nfd, step["mode"])
                    finally:
                        os.close(nfd)
            elif do == "parents":
                for made in reversed(step.get("made", [])):
                    p_parent, p_name = _split(made)
                    fd = dirs.get(p_parent)
                    if fd is not None:
                        dirs.forget(made)
                        with contextlib.suppress(OSError):
                            os.rmdir(p_name, dir_fd=fd)
    finally:
        dirs.close()
        for fd in stage_fds.values():
            os.close(fd)


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:  # the last line, cut by the kill
                continue
            if isinstance(record, dict):
                yield record


def recover(store_dir: Path) -> dict[str, Any] | None:
    """Undo a rewind a killed process left half done (its journal); returns the journal's header
    (``group``: the rewind's safety group, to drop) or None when there was nothing to recover.
    Leftover staging folders in the store are removed too."""
    path = store_dir / JOURNAL
    header: dict[str, Any] | None = None
    if path.exists():
        records = list(_records(path))
        header = records[0] if records and ("stages" in records[0] or "stage" in records[0]) else None
        if header is not None:
            stages = [Path(p) for p in header.get("stages", [header.get("stage")])]
            steps: list[dict[str, Any]] = []
            for r in records[1:]:
                if r.get("do") == "made":  # the folders the "parents" step just before it created
                    if steps and steps[-1].get("do") == "parents":
                        steps[-1]["made"] = r.get("dirs", [])
                elif r.get("do") in ("place", "aside", "rmdir", "mkdir", "chmod", "parents"):
                    steps.append(r)
            if steps:  # taken only once every staging folder was made and filled
                try:
                    _undo(Path(header["root"]), stages, list(reversed(steps)))
                    log.warning("undid a rewind interrupted by a kill (%s)", plural(len(steps), "step"))
                except (OSError, RewindFailed) as exc:
                    log.error("could not undo an interrupted rewind: %s; its backups stay in %s", exc,
                              ", ".join(map(str, stages)))
                    return header
            _remove_stages(stages)
        path.unlink(missing_ok=True)
    shutil.rmtree(store_dir / STAGING, ignore_errors=True)
    return header
