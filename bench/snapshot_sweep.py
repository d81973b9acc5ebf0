"""Snapshot sweep: the snapshots around a command against ``git status``, from 1,000 files up.

For each size, a fresh git workspace of N small files in nested folders (committed, so
``git status`` has an index to compare with), then, in the same run:

- ours (watch): what ``run_command`` pays around a command with the watchdog watcher on:
  the before-snapshot, the command's change (3 files rewritten), the after-snapshot and the
  diff (not the rows: ``checkpoints.py`` measures those);
- ours (re-stat): the same with no watcher (inotify unavailable, or a watcher that
  overflowed): a full re-stat of the tree, hashing only what changed;
- ``git status --porcelain`` on the same tree, warm (the index refreshed once);
- ours (watch, no git): the watcher again after ``.git`` is moved out of the workspace, as in a
  folder that is not a repository (the watcher's round trip then touches the folder itself),
  against the same ``git status`` figure.

The commit leaves git's own ``gc --auto`` running in the background (more than 6,700 loose
objects), as it would in a user's repository: it deletes every loose object while ours is
measured, which the watcher must shrug off. For each size a ``paths`` line says which path
the timed takes took (``Snapshot.how``: the watcher, or a full re-stat and why) and whether a
``git gc`` was still running when ours started.

Each figure is a median of ``--reps`` runs; the ratio is ours / git status (target: <= 1.0x
at every size). Sizes: 1k, 5k, 20k (``--quick``), or 1k, 5k, 20k, 50k, 100k, 250k (the
default; the larger ones take minutes to build). Not part of CI.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_note, result  # noqa: E402

from minicode_lsp.store.blobs import BlobStore  # noqa: E402
from minicode_lsp.store.snapshots import Snapshotter  # noqa: E402

QUICK = [1_000, 5_000, 20_000]
FULL = [1_000, 5_000, 20_000, 50_000, 100_000, 250_000]


def build(ws: Path, files: int) -> list[Path]:
    """``files`` files of ~200 bytes, 50 to a folder, folders 20 to a parent."""
    out = []
    for i in range(files):
        d = ws / f"d{i // 1000:03d}" / f"s{(i // 50) % 20:02d}"
        if i % 50 == 0:
            d.mkdir(parents=True, exist_ok=True)
        p = d / f"f{i:06d}.py"
        p.write_bytes(f"# file {i}\n".encode() + b"x = 1\n" * 30)
        out.append(p)
    return out


def git(ws: Path, *args: str) -> None:
    env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b",
               GIT_COMMITTER_EMAIL="b@b")
    subprocess.run(["git", *args], cwd=ws, check=True, env=env, stdout=subprocess.DEVNULL)


def median(fn: Callable[[int], float], reps: int) -> float:
    return statistics.median(fn(i) for i in range(reps))


def sweep(size: int, reps: int, base: Path) -> None:
    ws, store = base / f"ws{size}", base / f"store{size}"
    t = time.perf_counter()
    files = build(ws, size)
    git(ws, "init", "-q")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "base")
    print(f"{size} files: built and committed in {time.perf_counter() - t:.1f} s", flush=True)
    rng = random.Random(size)

    def command(i: int) -> None:
        for f in rng.sample(files, 3):
            f.write_bytes(f"# changed by command {i} {time.time_ns()}\n".encode() + b"x = 2\n" * 30)

    paths: dict[str, Counter[str]] = {"watch": Counter(), "re-stat": Counter(), "watch, no git": Counter()}

    def ours(watch: bool, label: str) -> float:
        blobs = BlobStore(store / label.replace(" ", "").replace(",", "-"), max_size=5 * 1024 * 1024)
        snap = Snapshotter(ws, blobs, store_dir=store, watch=watch, max_files=1_000_000, time_budget_s=600)
        try:
            snap.take()  # the baseline (a full hash), as the server's warm-up takes it

            def run(i: int) -> float:
                t0 = time.perf_counter()
                before = snap.take()
                dt = time.perf_counter() - t0
                command(i)
                t0 = time.perf_counter()
                after = snap.take()
                changes = snap.diff(before, after)
                dt += time.perf_counter() - t0
                paths[label].update((before.how, after.how))
                assert len([c for c in changes if c.action == "modify"]) == 3, changes
                return dt
            return median(run, reps)
        finally:
            snap.close()

    def git_status(i: int) -> float:
        t0 = time.perf_counter()
        git(ws, "status", "--porcelain")
        return time.perf_counter() - t0

    git_status(0)  # refresh the index once
    status = median(git_status, reps)
    gc_running = (ws / ".git" / "gc.pid").exists()  # git gc holds it while it runs
    watch = ours(True, "watch")
    full = ours(False, "re-stat")
    status2 = median(git_status, reps)  # again, after ours: the load may have moved
    status = min(status, status2)
    (ws / ".git").rename(base / f"git{size}")  # a folder that is not a repository
    nogit = ours(True, "watch, no git")
    result(f"snapshot_watch_{size}", watch * 1e3, "ms", target="<=1.0x git status", ok=watch <= status,
           baseline=status * 1e3)
    result(f"snapshot_restat_{size}", full * 1e3, "ms", target="info", ok=True, baseline=status * 1e3)
    result(f"snapshot_watch_nogit_{size}", nogit * 1e3, "ms", target="<=1.0x git status", ok=nogit <= status,
           baseline=status * 1e3)
    print(f"{size} files: paths " + "; ".join(f"({k}) {dict(v)}" for k, v in paths.items())
          + f"; git gc {'still running' if gc_running else 'done'} when ours started", flush=True)
    shutil.rmtree(base / f"git{size}", ignore_errors=True)
    shutil.rmtree(ws, ignore_errors=True)
    shutil.rmtree(store, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1k, 5k and 20k files only")
    ap.add_argument("--sizes", type=str, default="", help="comma-separated file counts")
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s] or (QUICK if args.quick else FULL)
    print(load_note(), flush=True)
    base = Path(tempfile.mkdtemp(prefix="minicode-sweep-"))
    try:
        for size in sizes:
            sweep(size, args.reps, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
