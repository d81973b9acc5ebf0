"""Run every benchmark in bench/ and print one table of figures, baselines, ratios and targets.

Each ``bench/*.py`` script (except this one, the helpers whose names start with ``_`` and
``bare_server.py``) runs as a subprocess, with ``--quick`` unless ``--full`` is given. A
script that does not take ``--quick`` gets the smaller sizes listed in ``QUICK_ARGS``.
The figures come from the ``RESULT`` lines the scripts print (see bench/_common.py); for
scripts that print their own tables instead (sessions.py, checkpoints.py), those tables are
parsed. Each script's whole output is kept in ``artifacts/bench/<name>.log``.

Exit status: 0 when every script ran (whether or not its targets were met), 1 when one
crashed, timed out or printed no figure at all.

    .venv/bin/python bench/run_all.py [--full] [--only startup,loop] [--timeout 1800] [-v]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LOGS = ROOT / "artifacts" / "bench"
HELPERS = {"run_all.py", "bare_server.py"}
ORDER = ["startup", "loop", "sessions", "checkpoints", "context"]
# Short runs for scripts that have no --quick flag of their own.
QUICK_ARGS = {
    "sessions": ["--sessions", "1000", "--big", "2000", "--repeat", "7"],
    "checkpoints": ["--files", "5000", "--mb", "20", "--reps", "5"],
}


@dataclass
class Row:
    bench: str
    figure: str
    value: str
    baseline: str
    ratio: str
    target: str
    status: str  # ok, MISS, info


def scripts(only: set[str]) -> list[Path]:
    found = [p for p in HERE.glob("*.py") if p.name not in HELPERS and not p.name.startswith("_")]
    found.sort(key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem))
    return [p for p in found if not only or p.stem in only]


def takes_quick(script: Path) -> bool:
    try:
        out = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                             timeout=120, cwd=ROOT).stdout
    except subprocess.TimeoutExpired:
        return False
    return "--quick" in out


# ---------------------------------------------------------------------- parsers
RESULT_RE = re.compile(r"^RESULT (?P<name>\S+) (?P<value>\S+) (?P<unit>\S+) (?P<rest>.*?) (?P<status>ok|MISS)\s*$")


def parse_result_lines(bench: str, out: str) -> list[Row]:
    rows = []
    for line in out.splitlines():
        m = RESULT_RE.match(line.strip())
        if not m:
            continue
        kv = dict(part.split("=", 1) for part in m["rest"].split() if "=" in part)
        rows.append(Row(bench, m["name"], f"{m['value']} {m['unit']}", kv.get("baseline", "-"),
                        kv.get("ratio", "-"), kv.get("target", "-"), m["status"]))
    return rows


# bench/sessions.py: "{name:36} {ms:8.2f}ms {target:6.0f}ms  {yes|NO} {ratio:8.1f}x {baseline label}"
SESSIONS_RE = re.compile(
    r"^(?P<name>.{36}) +(?P<ms>[\d.]+)ms +(?P<target>[\d.]+)ms +(?P<ok>yes|NO) +(?P<ratio>[\d.]+)x (?P<label>.*)$"
)
# bench/checkpoints.py: "{measure:<52}{ours}ms|MB{baseline}ms|MB{ratio}x  {target}  OK|MISSED"
CHECKPOINTS_RE = re.compile(
    r"^(?P<name>\S.*?\S)\s+(?P<value>[\d.]+)(?P<unit>ms|MB)\s*(?P<base>[\d.]+)(?:ms|MB)\s*(?P<ratio>[\d.]+)x"
    r"\s+(?P<target>.*?)\s*(?P<ok>OK|MISSED)?$"
)
# bench/sessions.py names its baselines by label in the table and gives their values on one line:
# "baselines: SELECT 1 0.002 ms; raw list 0.11 ms; raw search-text fetch 5.9 ms; raw replay 13.9 ms"
SESSIONS_BASELINES = {
    "raw SELECT of 51 rows": "raw list",
    "raw fetch of all search text": "raw search-text fetch",
    "raw SELECT, no JSON decode": "raw replay",
}


def parse_sessions(bench: str, out: str) -> list[Row]:
    rows = []
    values: dict[str, str] = {}
    for line in out.splitlines():
        if line.startswith("baselines:"):
            for part in line.removeprefix("baselines:").split(";"):
                m = re.match(r"\s*(?P<key>.*?) (?P<v>[\d.]+) ?ms\s*$", part)
                if m:
                    values[m["key"]] = f"{m['v']}ms"
        m = SESSIONS_RE.match(line)
        if m:
            label = m["label"].strip()
            value = values.get(SESSIONS_BASELINES.get(label, ""), "")
            rows.append(Row(bench, m["name"].strip(), f"{m['ms']} ms", f"{value} ({label})".strip(),
                            f"{m['ratio']}x", f"<{m['target']}ms", "ok" if m["ok"] == "yes" else "MISS"))
    return rows


def parse_checkpoints(bench: str, out: str) -> list[Row]:
    rows = []
    for line in out.splitlines():
        m = CHECKPOINTS_RE.match(line)
        if m:
            status = {"OK": "ok", "MISSED": "MISS"}.get(m["ok"] or "", "info")
            rows.append(Row(bench, m["name"].strip(), f"{m['value']} {m['unit']}", f"{m['base']}{m['unit']}",
                            f"{m['ratio']}x", m["target"].strip(), status))
    return rows


def parse(bench: str, out: str) -> list[Row]:
    rows = parse_result_lines(bench, out)
    if not rows:
        rows = parse_sessions(bench, out) or parse_checkpoints(bench, out)
    return rows


# ---------------------------------------------------------------------- running
def run(script: Path, full: bool, timeout: float, verbose: bool) -> tuple[list[Row], str, float]:
    """(rows, problem or '', seconds)."""
    name = script.stem
    if full:
        extra: list[str] = []
    elif takes_quick(script):
        extra = ["--quick"]
    else:
        extra = QUICK_ARGS.get(name, [])
    cmd = [sys.executable, str(script), *extra]
    print(f"== {name}: {' '.join([Path(cmd[0]).name, *cmd[1:]])}", flush=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        out, code = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        raw = (exc.stdout or b"") + (exc.stderr or b"")
        out = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        code = None
    took = time.monotonic() - t0
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / f"{name}.log").write_text(f"$ {' '.join(cmd)}\n{out}", encoding="utf-8")
    if verbose:
        print("\n".join("   " + line for line in out.splitlines()), flush=True)
    rows = parse(name, out)
    problem = ""
    if code is None:
        problem = f"timed out after {timeout:.0f} s"
    elif code != 0:
        problem = f"exited {code}"
    elif not rows:
        problem = "printed no figure"
    if problem:
        tail = "\n".join("   | " + line for line in out.strip().splitlines()[-15:])
        print(f"   {name} {problem}; last lines:\n{tail}", flush=True)
    print(f"   {len(rows)} figure(s) in {took:.0f} s (log: {LOGS.relative_to(ROOT) / (name + '.log')})", flush=True)
    return rows, problem, took


def table(rows: list[Row]) -> str:
    head = Row("benchmark", "figure", "value", "baseline (same run)", "ratio", "target", "ok/MISS")
    cols = list(zip(*[(r.bench, r.figure, r.value, r.baseline, r.ratio, r.target, r.status) for r in [head, *rows]],
                    strict=True))
    widths = [max(len(c) for c in col) for col in cols]
    lines = []
    for i, r in enumerate([head, *rows]):
        cells = (r.bench, r.figure, r.value, r.baseline, r.ratio, r.target, r.status)
        lines.append("  ".join(c.rjust(w) if j in (2, 4) else c.ljust(w) for j, (c, w) in
                               enumerate(zip(cells, widths, strict=True))).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="full-size runs (default: --quick / small sizes)")
    ap.add_argument("--only", default="", help="comma-separated script names (e.g. startup,loop)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per script (default 1200, --full 3600)")
    ap.add_argument("-v", "--verbose", action="store_true", help="echo every script's output")
    args = ap.parse_args()
    timeout = args.timeout or (3600.0 if args.full else 1200.0)
    only = {s.strip() for s in args.only.split(",") if s.strip()}

    all_rows: list[Row] = []
    failed: list[str] = []
    for script in scripts(only):
        rows, problem, _ = run(script, args.full, timeout, args.verbose)
        all_rows += rows
        if problem:
            failed.append(f"{script.stem} ({problem})")
    print()
    print(f"benchmarks ({'full' if args.full else 'quick'} runs); ratio = figure / baseline measured in the same "
          "run (checkpoints: baseline / ours, a speed-up); medians over several runs on a small, shared machine")
    print(table(all_rows))
    misses = [f"{r.bench}:{r.figure}" for r in all_rows if r.status == "MISS"]
    print(f"\n{len(all_rows)} figures, {len(misses)} missed target(s)" + (f": {', '.join(misses)}" if misses else ""))
    if failed:
        print(f"FAILED to run: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
