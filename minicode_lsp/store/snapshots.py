"""Workspace snapshots around shell commands: what did the command create, change or delete?

A ``Snapshot`` maps each workspace file (posix path relative to the root) to its size, mtime,
inode and sha256. ``Snapshotter.take()`` re-stats the tree and hashes only files whose stat
changed since the previous snapshot (a stat cache), storing each hashed file as a blob so the
pre-image of anything a command later changes is already in the store (written without fsync;
``record`` fsyncs the blobs a shell group ends up referencing). Files modified in the
second before a take are "racy" (a coarse clock could hide a second change) and are
re-hashed next time, as git does (with the watcher: once their second has passed, since a
rewrite within it is an event).

With ``watch=True`` a watchdog observer records the paths that changed; ``take()`` then
re-stats only those (after a round trip through the same inotify stream, so every event from
before the call has arrived: an attribute event of ``.git/description``, a file nobody else
touches, or without git of the workspace folder itself, its times set to what they are; no
"opened" events are watched, so reading files, however many, never floods the inotify queue;
events under ``.git`` and the store folder are dropped as they arrive, so a ``git gc`` deleting
every loose object costs the next take nothing), falling back to a full walk when the observer
is unavailable, its queue overflowed or a ``.gitignore`` changed (``Snapshot.how`` says which
path a take took, and why). Ignore rules: every ``.gitignore`` (root and nested, via pathspec),
plus ``.git`` and the store folder always. Caps: file size (bigger files are tracked by stat
and reported as skipped), file count and a time budget; ``Snapshot.skipped`` says what was left
out and why.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import re
import stat
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import pathspec

from minicode_lsp.store.blobs import BlobStore
from minicode_lsp.store.checkpoints import GroupWriter
from minicode_lsp.store.ids import process_marker
from minicode_lsp.store.records import StateRow

log = logging.getLogger(__name__)


def _open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading; anything else (a FIFO swapped in, a device) is an
    OSError, never a wait: opened non-blocking, checked on the descriptor."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path.name} is not a regular file")
    return os.fdopen(fd, "rb")

SYNC_TIMEOUT_S = 2.0  # waiting longer for the watcher than a full re-stat would take is pointless
RACY_NS = 1_000_000_000  # files modified within 1 s before a take are re-hashed next time


TEMP_SUFFIX = ".minicode-tmp"  # our own temporary files and staging folders: never user files




@dataclass(frozen=True)
class Entry:
    size: int
    mtime_ns: int
    inode: int
    sha: str | None  # None: not hashed (skipped); for a symbolic link: the sha of its target
    mode: int = 0  # st_mode (type and permission bits); 0: unknown (a state stored before modes)
    ctime_ns: int = 0  # 0: unknown

    @property
    def kind(self) -> str:
        """``file``, ``link`` or ``dir``."""
        return "dir" if stat.S_ISDIR(self.mode) else "link" if stat.S_ISLNK(self.mode) else "file"

    @property
    def perms(self) -> int | None:
        return stat.S_IMODE(self.mode) if self.mode else None

    def same_stat(self, other: Entry) -> bool:
        """Unchanged as far as stat can tell: size, mtime, inode, and (when both are known) mode
        and ctime. ctime moves with every write, rename or chmod and cannot be set back, so an
        in-place rewrite that keeps size and mtime (``touch -r``) is still seen, as git does."""
        if (self.size, self.mtime_ns, self.inode) != (other.size, other.mtime_ns, other.inode):
            return False
        if self.mode and other.mode and self.mode != other.mode:
            return False
        return not (self.ctime_ns and other.ctime_ns and self.ctime_ns != other.ctime_ns)


@dataclass
class Snapshot:
    root: Path
    files: dict[str, Entry]
    skipped: dict[str, str] = field(default_factory=dict)  # relpath ("" = whole tree) -> reason
    complete: bool = True
    duration_s: float = 0.0
    hashed: int = 0
    full_walk: bool = True  # False when only the watcher's dirty paths were re-checked
    how: str = "full re-stat"  # which path the take took, and why a full re-stat (logs, bench)
    # when not a full walk: the snapshot this one was derived from and the paths re-checked
    base: Snapshot | None = field(default=None, repr=False)
    touched: set[str] = field(default_factory=set, repr=False)


@dataclass(frozen=True)
class Change:
    path: str  # absolute posix path
    action: Literal["create", "modify", "delete"]
    pre_sha: str | None
    post_sha: str | None
    skipped_reason: str | None = None
    pre_kind: str = "file"  # file | link | dir
    post_kind: str = "file"
    pre_mode: int | None = None  # permission bits; None: absent or unknown
    post_mode: int | None = None


def _tracked(mode: int) -> bool:
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)


def _unhashed(e: Entry) -> bool:
    """A file or link whose content is unknown (over the size cap, unreadable, out of time)."""
    return e.sha is None and e.kind != "dir"


def _matches(specs: tuple[tuple[str, pathspec.PathSpec], ...], rel: str, is_dir: bool) -> bool:
    suffix = "/" if is_dir else ""
    return any(spec.match_file((rel[len(base) + 1:] if base else rel) + suffix) for base, spec in specs)


class _Dirty:
    """watchdog handler: collects changed paths and counts the attribute events of the sync
    probe (``probe``: the snapshotter's round trip through the inotify stream).

    Events under ``.git`` (at any depth) and under the store folder (``skip``: paths relative to
    ``root``) are dropped here, at once: nothing there is ever snapshotted, and git writes there in
    bulk (a ``git gc`` after a commit deletes every loose object, 250,000 events in a 250,000-file
    repository), each of which would otherwise be re-checked by the next take."""

    def __init__(self, root: str = "", skip: Iterable[str] = ()) -> None:
        self.cut = len(root.rstrip("/"))
        self.skip = tuple(f"/{rel.strip('/')}/" for rel in skip)
        self.lock = threading.Lock()
        self.paths: set[str] = set()
        self.dirs: set[str] = set()
        self.overflow = False
        self.probe = ""  # the path whose attribute event ends the current round trip
        self.started = 0  # round trips begun (the snapshotter's utime calls)
        self.probed = 0  # their events seen: never more than begun
        self.cond = threading.Condition()

    def dispatch(self, event: Any) -> None:
        kind = event.event_type
        src = os.fsdecode(event.src_path)
        if src == self.probe and kind in ("attrib", "modified"):  # (watchdog < 5 says "modified")
            with self.cond:
                # an attribute change of the probe by anyone else (a chmod of the workspace folder)
                # while no round trip is under way is not one: the count never runs ahead, so at
                # worst one wait ends early, never every later one
                if self.probed < self.started:
                    self.probed += 1
                    self.cond.notify_all()
            return
        targets = [src] + ([os.fsdecode(event.dest_path)] if getattr(event, "dest_path", "") else [])
        targets = [p for p in targets if not self.dropped(p)]
        if not targets:
            return
        with self.lock:
            for p in targets:
                if event.is_directory and kind in ("created", "moved", "deleted"):
                    self.dirs.add(p)
                elif not event.is_directory or kind == "attrib":  # a folder's mode: its own entry only
                    self.paths.add(p)

    def dropped(self, path: str) -> bool:
        """Under ``.git`` (at any depth) or the store folder: never snapshotted."""
        tail = path[self.cut:] + "/"  # "/rel/" for a path under the root
        return "/.git/" in tail or (bool(self.skip) and tail.startswith(self.skip))

    def filter(self, record: logging.LogRecord) -> bool:
        """Installed on watchdog's inotify logger: a queue overflow means events were lost."""
        if "overflow" in record.getMessage().lower():
            with self.lock:
                self.overflow = True
        return True

    def drain(self) -> tuple[set[str], set[str], bool]:
        with self.lock:
            out, (self.paths, self.dirs, self.overflow) = (self.paths, self.dirs, self.overflow), (set(), set(), False)
            return out


class Snapshotter:
    def __init__(self, root: str | os.PathLike[str], blobs: BlobStore, *,
                 store_dir: str | os.PathLike[str] | None = None, max_file_size: int | None = None,
                 max_files: int = 200_000, time_budget_s: float = 30.0, watch: bool = False,
                 secret_files: Sequence[str] = ()) -> None:
        self.root, self.blobs = Path(root).resolve(), blobs
        # names (globs) whose content is never read nor stored: .env, keys (agent.secretFiles)
        self.secret_files = [p.casefold() for p in secret_files]
        # one regex for them all: matched against every file's name at every full re-stat
        self._secret = re.compile("|".join(fnmatch.translate(p) for p in self.secret_files)) \
            if self.secret_files else None
        self.max_file_size = blobs.max_size if max_file_size is None else max_file_size
        self.max_files, self.time_budget_s = max_files, time_budget_s
        self._extra: set[str] = set()  # the store folder, when it is inside the workspace
        if store_dir is not None and Path(store_dir).resolve().is_relative_to(self.root):
            self._extra.add(Path(store_dir).resolve().relative_to(self.root).as_posix())
        self._specs: dict[str, pathspec.PathSpec | None] = {}  # folder -> its .gitignore
        self._last: Snapshot | None = None
        self._racy, self._checked = set[str](), set[str]()
        self._waiting = set[str]()  # racy files a watcher take left for later (see _take_dirty)
        self._observer: Any = None
        self._dirty: _Dirty | None = None
        self._folder_probe: bool | None = None  # whether the workspace folder's own event ever came
        # who owns this snapshotter's persisted state rows (see store/shell_state.py)
        self.owner = f"{os.getpid()}:{process_marker(os.getpid())}:{uuid.uuid4().hex[:8]}"
        self._persisted: dict[str, Entry] = {}
        self._unpersisted: set[str] | None = None  # paths re-checked since; None: compare them all
        if watch:
            self._start_watch()

    # ------------------------------------------------------------------ watching
    def _start_watch(self) -> None:
        try:
            from watchdog import events as ev
            from watchdog.observers import Observer

            dirty = _Dirty(str(self.root), self._extra)
            observer = Observer()
            # no close-without-write or folder-modified events: every read would send them. A
            # chmod sends only "attrib" (watchdog >= 5): a mode change alone is seen through it
            wanted = [ev.FileCreatedEvent, ev.FileDeletedEvent, ev.FileModifiedEvent, ev.FileMovedEvent,
                      ev.FileClosedEvent, ev.DirCreatedEvent, ev.DirDeletedEvent, ev.DirMovedEvent]
            wanted += [e for e in (getattr(ev, "FileAttribEvent", None), getattr(ev, "DirAttribEvent", None)) if e]
            observer.schedule(dirty, str(self.root), recursive=True, event_filter=wanted)  # type: ignore[arg-type]
            observer.daemon = True
            logging.getLogger("watchdog.observers.inotify_c").addFilter(dirty)
            observer.start()
        except Exception as exc:  # inotify watch limit, unsupported fs: fall back to full walks
            log.warning("snapshot watcher unavailable (%s); using full re-stat", exc)
            return
        self._observer, self._dirty = observer, dirty

    @property
    def watching(self) -> bool:
        return self._observer is not None and self._observer.is_alive()

    def close(self) -> None:
        if self._dirty is not None:
            logging.getLogger("watchdog.observers.inotify_c").removeFilter(self._dirty)
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    def _probe(self) -> str:
        """What the round trip through the inotify stream touches: ``.git/description`` in a git
        workspace (git never writes it, nobody opens it), else the workspace folder itself (only
        a chmod, chown or touch of that folder sends the same event; files made, changed or
        removed in it do not)."""
        desc = self.root / ".git" / "description"
        return str(desc) if desc.is_file() else str(self.root)

    def _sync_events(self) -> str | None:
        """Set the probe's times to what they are (an attribute event, nothing changed) and wait
        for that event: all earlier events have been dispatched then. None, or why not."""
        dirty = self._dirty
        assert dirty is not None
        probe = self._probe()
        folder = probe == str(self.root)
        if folder and self._folder_probe is False:
            return "no .git/description, and the watcher sends no event for the workspace folder itself"
        with dirty.cond:
            dirty.probe = probe
            dirty.started += 1
            want = dirty.started
        try:
            st = os.stat(probe, follow_symlinks=False)
            os.utime(probe, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
        except OSError as exc:
            with dirty.cond:
                dirty.started -= 1
            return f"the watcher's probe could not be touched ({exc.strerror or exc})"
        with dirty.cond:
            if dirty.cond.wait_for(lambda: dirty.probed >= want, SYNC_TIMEOUT_S):
                if folder:
                    self._folder_probe = True
                return None
        if folder and not self._folder_probe:  # never answered (a platform whose watcher does not report
            self._folder_probe = False      # the watched folder's own attributes): never waited on again
        log.info("snapshot watcher did not catch up in %.1f s; full re-stat", SYNC_TIMEOUT_S)
        return f"the watcher did not catch up in {SYNC_TIMEOUT_S:g} s"

    # ------------------------------------------------------------------ taking
    def baseline(self) -> Snapshot:
        """The latest snapshot, taken (a full hash of the tree) on first use."""
        return self._last if self._last is not None else self.take()

    def take(self, *, full: bool = False) -> Snapshot:
        """A snapshot of the workspace; ``full``: re-stat the whole tree even while watching
        (the latest snapshot then serves as the stat cache only)."""
        start_wall, t0 = time.time_ns(), time.monotonic()
        prev = self._last
        snap: Snapshot | None = None
        how = "full re-stat: first take" if prev is None else "full re-stat: asked" if full \
            else "full re-stat: no watcher"
        if prev is not None and self.watching and not full:
            got = self._take_dirty(prev, t0, start_wall - RACY_NS)
            if isinstance(got, Snapshot):
                snap = got
            else:
                how = f"full re-stat: {got}"
        if snap is None:
            if self._dirty is not None:
                self._dirty.drain()
            self._specs.clear()
            snap = Snapshot(self.root, {}, how=how)
            self._full_walk(snap, prev.files if prev is not None else {}, t0)
        if self._unpersisted is not None:
            if snap.full_walk:
                self._unpersisted = None
            else:
                self._unpersisted |= snap.touched
        checked = snap.files.keys() if snap.full_walk else self._checked | self._waiting
        racy_after = start_wall - RACY_NS
        self._racy = {r for r in checked if r in snap.files
                      and max(snap.files[r].mtime_ns, snap.files[r].ctime_ns) >= racy_after}
        snap.duration_s = time.monotonic() - t0
        rechecked = len(snap.files) if snap.full_walk else len(snap.touched)
        log.debug("snapshot: %s, %d path%s re-checked, %d hashed, %.3f s", snap.how, rechecked,
                  "" if rechecked == 1 else "s", snap.hashed, snap.duration_s)
        self._last = snap
        return snap

    def _full_walk(self, snap: Snapshot, cache: dict[str, Entry], t0: float) -> None:
        """Re-stat the whole tree into ``snap``, ``cache`` (the previous snapshot) as the stat
        cache. The common case, a file or folder whose stat has not moved, is decided here,
        inline (no call per file: this loop is the whole cost of a take without the watcher)."""
        files, racy, secret, max_files = snap.files, self._racy, self._secret, self.max_files
        get, isdir = cache.get, stat.S_ISDIR
        for rel, st in self._walk(""):
            if len(files) >= max_files:
                snap.skipped[""] = f"more than {max_files} files: the rest was not checked"
                snap.complete = False
                break
            c = get(rel)
            if c is not None and c.mode == st.st_mode and c.inode == st.st_ino:
                if isdir(st.st_mode):  # a folder: its existence and mode only
                    files[rel] = c
                    continue
                if c.sha is not None and c.mtime_ns == st.st_mtime_ns and c.size == st.st_size \
                        and c.ctime_ns == st.st_ctime_ns and rel not in racy \
                        and (secret is None or not secret.match(rel.rsplit("/", 1)[-1].casefold())):
                    files[rel] = c
                    continue
            self._visit(snap, rel, st, c, t0)

    def _take_dirty(self, prev: Snapshot, t0: float, racy_after: int) -> Snapshot | str:
        """The latest snapshot with only the watcher's dirty paths re-checked, or why not (then
        the caller re-stats the whole tree)."""
        assert self._dirty is not None
        # the probe is never a workspace file: a command that read or wrote that file before
        # creating another would end the wait early and its shell group would miss the new file
        why = self._sync_events()
        if why is not None:
            return why
        if not prev.complete:
            return "the previous snapshot was incomplete"
        paths, dirs, overflow = self._dirty.drain()
        if overflow:
            return "the watcher's queue overflowed"
        if any(os.path.basename(p) == ".gitignore" for p in paths | dirs):
            return "a .gitignore changed"
        snap = Snapshot(self.root, dict(prev.files), dict(prev.skipped), full_walk=False, how="watcher")
        prev.base = None  # keep one link only: no chain of old snapshots in memory
        snap.base = prev
        # racy files whose second has passed, re-hashed once now, and files a time budget left
        # unhashed (retried: each take spends the budget). A racy file still inside its second
        # waits (it stays racy): a write to it after its last hash is an event the watcher
        # brings back anyway, so hashing it again at every take within that second, as a full
        # re-stat must, buys nothing (and was most of a small workspace's cost per command).
        waiting = {r for r in self._racy if (e := prev.files.get(r)) is not None
                   and max(e.mtime_ns, e.ctime_ns) >= racy_after}
        todo: set[str] = (self._racy - waiting) | {r for r in prev.skipped if r}
        written = {r for r in map(self._rel, paths) if r}
        gone: list[str] = []  # folders that were in the snapshot and appeared, moved or vanished
        for p in paths | dirs:
            rel = self._rel(p)
            if rel is None or rel == "":
                continue
            todo.add(rel)
            if p in dirs:  # a directory appeared, moved or vanished: re-check everything below it
                if rel in prev.files:
                    gone.append(rel + "/")
                for sub, _st in self._walk(rel):
                    todo.add(sub)
        if gone:  # one pass over the snapshot for them all (not one per folder)
            prefixes = tuple(gone)
            todo.update(r for r in prev.files if r.startswith(prefixes))
        self._checked = snap.touched = todo
        self._waiting = waiting - todo
        ignored_dirs: dict[str, bool] = {}
        for rel in sorted(todo):
            snap.skipped.pop(rel, None)
            if self._ignored(rel, ignored_dirs):  # (no stat for what is ignored: a flood under node_modules)
                snap.files.pop(rel, None)
                continue
            try:
                st = os.lstat(self.root / rel)
            except OSError:
                snap.files.pop(rel, None)
                continue
            # a folder is matched as one too (a "build/" rule): before, a new ignored folder became an entry
            if not _tracked(st.st_mode) or (stat.S_ISDIR(st.st_mode)
                                            and self._ignored(rel, ignored_dirs, is_dir=True)):
                snap.files.pop(rel, None)
                continue
            # a file the watcher saw written is re-hashed even if its stat looks unchanged
            cached = None if rel in written else prev.files.get(rel)
            self._visit(snap, rel, st, cached, t0)
        return snap

    def _rel(self, path: str) -> str | None:
        root = str(self.root)
        if path == root:
            return ""
        if root != "/" and path.startswith(root + "/"):  # (the watcher's paths are built on the root's)
            return path[len(root) + 1:]
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return None

    def _spec(self, dirrel: str) -> pathspec.PathSpec | None:
        if dirrel not in self._specs:
            try:
                with _open_regular(self.root / dirrel / ".gitignore") as fh:
                    text = fh.read().decode("utf-8", errors="replace")
                self._specs[dirrel] = pathspec.GitIgnoreSpec.from_lines(text.splitlines())
            except OSError:
                self._specs[dirrel] = None
        return self._specs[dirrel]

    def _specs_for(self, dirrel: str) -> tuple[tuple[str, pathspec.PathSpec], ...]:
        parts = dirrel.split("/") if dirrel else []
        out = []
        for i in range(len(parts) + 1):
            base = "/".join(parts[:i])
            spec = self._spec(base)
            if spec is not None:
                out.append((base, spec))
        return tuple(out)

    def _ignored(self, rel: str, dirs: dict[str, bool] | None = None, *, is_dir: bool = False) -> bool:
        """Whether a path found by the watcher is ignored: ``.git``, the store, or a .gitignore
        (``is_dir``: it is a folder, which a ``build/`` rule matches). ``dirs``: the answers for
        folders, kept across the calls of one take."""
        parts = rel.split("/")
        if ".git" in parts or any(p.endswith(TEMP_SUFFIX) for p in parts):
            return True
        last_is_dir = is_dir
        for i in range(1, len(parts) + 1):
            prefix, is_dir = "/".join(parts[:i]), i < len(parts) or last_is_dir
            known = dirs.get(prefix) if dirs is not None and is_dir else None
            if known is None:
                known = prefix in self._extra or _matches(self._specs_for("/".join(parts[:i - 1])), prefix, is_dir)
                if dirs is not None and is_dir:
                    dirs[prefix] = known
            if known:
                return True
        return False

    def _walk(self, top: str) -> Iterator[tuple[str, os.stat_result]]:
        """Regular files, symbolic links (never followed) and folders under ``top`` (relative),
        skipping ignored ones; specs carried per folder."""
        extra = self._extra
        stack = [(top, self._specs_for(top))]
        while stack:
            d, specs = stack.pop()
            try:
                it = os.scandir(self.root / d if d else self.root)
            except OSError:
                continue
            with it:
                entries = list(it)
            if any(e.name == ".gitignore" for e in entries) and not any(b == d for b, _ in specs):
                spec = self._spec(d)
                if spec is not None:
                    specs = (*specs, (d, spec))
            for e in entries:
                if e.name == ".git" or e.name.endswith(TEMP_SUFFIX):
                    continue
                rel = f"{d}/{e.name}" if d else e.name
                try:
                    is_dir = e.is_dir(follow_symlinks=False)
                    if not is_dir and not e.is_file(follow_symlinks=False) and not e.is_symlink():
                        continue
                    if rel in extra or (specs and _matches(specs, rel, is_dir)):
                        continue
                    if is_dir:
                        stack.append((rel, specs))
                    yield rel, e.stat(follow_symlinks=False)
                except OSError:
                    continue

    def _visit(self, snap: Snapshot, rel: str, st: os.stat_result, cached: Entry | None, t0: float) -> None:
        if stat.S_ISDIR(st.st_mode):  # a folder: its existence and mode (its size and mtime move
            snap.files[rel] = Entry(0, 0, st.st_ino, None, st.st_mode, 0)  # with what is inside it)
            return
        if cached is not None and cached.sha is not None and cached.size == st.st_size \
                and cached.mtime_ns == st.st_mtime_ns and cached.inode == st.st_ino \
                and cached.mode == st.st_mode and cached.ctime_ns == st.st_ctime_ns and rel not in self._racy \
                and (self._secret is None or not self._secret.match(rel.rsplit("/", 1)[-1].casefold())):
            snap.files[rel] = cached  # the common case of a re-stat (nothing changed), without an Entry
            return
        entry = Entry(st.st_size, st.st_mtime_ns, st.st_ino, None, st.st_mode, st.st_ctime_ns)
        if stat.S_ISLNK(st.st_mode):  # a link: its target, as bytes (never followed)
            if cached is not None and cached.same_stat(entry) and cached.sha is not None and rel not in self._racy:
                snap.files[rel] = cached
                return
            try:
                target = os.readlink(os.fsencode(self.root / rel))
            except OSError as exc:
                snap.files[rel] = entry
                snap.skipped[rel] = f"unreadable link: {exc.strerror}"
                return
            sha = hashlib.sha256(target).hexdigest()
            self.blobs.put_known(sha, target, fsync=False)
            snap.files[rel] = Entry(st.st_size, st.st_mtime_ns, st.st_ino, sha, st.st_mode, st.st_ctime_ns)
            return
        if stat.S_ISREG(st.st_mode) and self._secret is not None and \
                self._secret.match(rel.rsplit("/", 1)[-1].casefold()):
            snap.files[rel] = entry
            snap.skipped[rel] = "a secret file (agent.secretFiles): its content is never stored"
            return
        if cached is not None and cached.same_stat(entry) and rel not in self._racy and (
                cached.sha is not None or st.st_size > self.max_file_size):
            snap.files[rel] = cached
            if cached.sha is None:
                snap.skipped[rel] = f"too large ({st.st_size} bytes > {self.max_file_size})"
            return
        if st.st_size > self.max_file_size:
            snap.files[rel] = entry
            snap.skipped[rel] = f"too large ({st.st_size} bytes > {self.max_file_size})"
            return
        if time.monotonic() - t0 > self.time_budget_s:
            snap.files[rel] = entry
            snap.skipped[rel] = f"time budget of {self.time_budget_s:g} s exceeded"
            return
        try:
            with _open_regular(self.root / rel) as fh:
                data = fh.read()
        except OSError as exc:
            snap.files[rel] = entry
            snap.skipped[rel] = f"unreadable: {exc.strerror}"
            return
        sha = hashlib.sha256(data).hexdigest()
        self.blobs.put_known(sha, data, fsync=False)
        snap.hashed += 1
        snap.files[rel] = Entry(st.st_size, st.st_mtime_ns, st.st_ino, sha, st.st_mode, st.st_ctime_ns)

    # ------------------------------------------------------------------ comparing
    def diff(self, before: Snapshot, after: Snapshot) -> list[Change]:
        """Files created, modified or deleted between two snapshots, sorted by path."""
        bf, af = before.files, after.files
        if after.base is before and not after.full_walk:
            keys: set[str] | Any = after.touched  # only these can differ
        else:
            keys = bf.keys() | af.keys()
        out: list[Change] = []
        for rel in sorted(k for k in keys if bf.get(k) is not af.get(k)):
            a, b = bf.get(rel), af.get(rel)
            path = (self.root / rel).as_posix()
            reason = after.skipped.get(rel) or before.skipped.get(rel)
            if a is None and b is not None:
                out.append(Change(path, "create", None, b.sha, reason if _unhashed(b) else None,
                                  post_kind=b.kind, post_mode=b.perms))
            elif b is None and a is not None and after.complete:  # (incomplete: unknown, not deleted)
                out.append(Change(path, "delete", a.sha, None, reason if _unhashed(a) else None,
                                  pre_kind=a.kind, pre_mode=a.perms))
            elif a is not None and b is not None:
                mode_changed = a.perms is not None and b.perms is not None and a.perms != b.perms
                if a.kind != b.kind:
                    changed, why = True, reason if _unhashed(a) or _unhashed(b) else None
                elif a.kind == "dir":
                    changed, why = mode_changed, None
                else:
                    hashed = a.sha is not None and b.sha is not None
                    changed = (a.sha != b.sha if hashed else not a.same_stat(b)) or mode_changed
                    why = None if hashed else reason or "not hashed"
                if changed:
                    out.append(Change(path, "modify", a.sha, b.sha, why, a.kind, b.kind, a.perms, b.perms))
        return out

    # ------------------------------------------------------------------ persisted state
    def state_delta(self, snap: Snapshot) -> tuple[list[StateRow], list[str]]:
        """What changed in ``snap`` since the state last persisted (``mark_persisted``):
        ``(upserts, deletes)`` for ``ShellState.persist`` (``store/shell_state.py``). The first call returns every
        file; later ones look only at the paths the watcher's takes re-checked since (all of
        them after a full walk, or when ``snap`` is not the latest snapshot)."""
        old, files = self._persisted, snap.files
        paths: Iterable[str]
        if self._unpersisted is not None and snap is self._last:
            paths = self._unpersisted
        else:
            paths = set(files) | set(old)
        upserts = []
        deletes = []
        for rel in paths:
            e = files.get(rel)
            if e is None:
                if rel in old:
                    deletes.append(rel)
            elif old.get(rel) != e:
                upserts.append((rel, e.size, e.mtime_ns, e.inode, e.sha, e.mode, e.ctime_ns))
        return upserts, deletes

    def mark_persisted(self, snap: Snapshot, upserts: list[StateRow],
                       deletes: list[str]) -> None:
        """``state_delta(snap)``'s rows were written: the persisted state is ``snap`` now."""
        for rel in deletes:
            self._persisted.pop(rel, None)
        for rel, *_ in upserts:
            self._persisted[rel] = snap.files[rel]
        self._unpersisted = set() if snap is self._last else None

    def adopt(self, snap: Snapshot) -> None:
        """Use ``snap`` as the latest snapshot (its entries become the stat cache of a full take)."""
        self._last = snap

    def live_shas(self) -> set[str]:
        """The blobs of the latest snapshot (and the one it was derived from): pinned against
        ``BlobStore.gc``, since the next shell group takes its pre-images from them."""
        out: set[str] = set()
        snap = self._last
        for s in (snap, snap.base if snap is not None else None):
            if s is not None:
                out.update(e.sha for e in s.files.values() if e.sha)
        return out

    def live_sizes(self) -> dict[str, int]:
        """sha -> size of the latest snapshot's blobs (the workspace's own copy, not history)."""
        snap = self._last
        return {e.sha: e.size for e in snap.files.values() if e.sha} if snap is not None else {}

    def record(self, writer: GroupWriter, changes: list[Change]) -> None:
        """Add ``changes`` to a ``checkpoints.GroupWriter`` (a ``shell`` group).

        Snapshot blobs are written without fsync (a baseline hashes the whole tree); the ones a
        group references are made durable here, before the group is committed. A pre-image
        blob that is gone (a store cleanup in another process, which cannot see this
        process's pins) is recorded as skipped, with the reason, instead of a dangling sha.
        """
        self.blobs.make_durable(sha for c in changes for sha in (c.pre_sha, c.post_sha) if sha)
        for c in changes:
            pre, reason = c.pre_sha, c.skipped_reason
            if pre is not None and not self.blobs.has(pre):
                log.warning("pre-image of %s was removed from the store before the command ran", c.path)
                pre, reason = None, reason or "its earlier content was removed from the store by a cleanup"
            writer.add_change_sha(c.path, pre, c.post_sha, skipped_reason=reason, action=c.action,
                                  pre_kind=c.pre_kind, post_kind=c.post_kind, pre_mode=c.pre_mode,
                                  post_mode=c.post_mode)
