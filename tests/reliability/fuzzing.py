"""Hypothesis strategies for the LSP surface: command arguments, JSON junk, URIs and ranges."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from minicode_lsp import protocol as p

# Examples per fuzz test; the CI figure (10,000+ messages in all) is reached with the defaults.
EXAMPLES = int(os.environ.get("MINICODE_FUZZ_EXAMPLES", "200"))

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
    # no shrinking: against a live server each step can wait for a timeout, and a timeout from
    # pytest-timeout would only make hypothesis shrink longer; the failing batch is printed as is
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
junk: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=5,
)
huge_text = st.builds(lambda ch, n: ch * n, st.sampled_from(["x", "é", "😀 ", "\x00", "\n", "ab\u202e", "\ud7ff"]),
                      st.integers(min_value=5_000, max_value=60_000))
nasty_text = st.sampled_from(["", " ", "\x00", "../../etc/passwd", "%00", "'; DROP TABLE sessions; --",
                              "\u202e\u2066", "😀" * 3, "\udcff", "bad\udcff\udcfe.txt", "\ud800x", "a" * 5000, "\\", "%", "_", "*", "?", "[", "\r\n"])


def weighted_text() -> st.SearchStrategy[str]:
    # huge strings are costly: about one value in twenty
    return st.one_of(st.text(max_size=60), nasty_text, st.text(max_size=60), st.text(max_size=60), nasty_text,
                     st.text(max_size=60), st.text(max_size=60), st.text(max_size=60), st.text(max_size=60),
                     st.text(max_size=60), st.text(max_size=60), st.text(max_size=60), st.text(max_size=60),
                     st.text(max_size=60), st.text(max_size=60), st.text(max_size=60), st.text(max_size=60),
                     st.text(max_size=60), st.text(max_size=60), huge_text)


def uris(root: Path) -> st.SearchStrategy[str]:
    inside = st.sampled_from(["calc.py", "notes.txt", "new.txt", "missing.py", "sub/deep.txt", ".git/config",
                              "caf\u00e9 \u00fc.txt", "%2e%2e/x", "a b.py"])
    return st.one_of(
        inside.map(lambda rel: (root / rel).as_uri()),
        st.sampled_from(["file:///etc/passwd", (root.parent / "outside.txt").as_uri(), "untitled:Untitled-1",
                         "http://example.com/x.py", "file://", "", "not a uri", "file:///%ff%fe",
                         root.as_uri() + "/../outside.txt", "file:///" + "a/" * 300]),
        st.text(max_size=30),
    )


def positions() -> st.SearchStrategy[dict[str, Any]]:
    small = st.integers(min_value=0, max_value=12)
    wild = st.one_of(small, small, small, st.integers(min_value=-5, max_value=2**31), st.just(2**31 - 1))
    return st.fixed_dictionaries({"line": wild, "character": wild})


def ranges() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"start": positions(), "end": positions()})


class Pools:
    """Ids that exist in the fuzzed server's store, so valid arguments reach deep code paths."""

    def __init__(self) -> None:
        self.sessions: list[str] = ["s-unknown"]
        self.turns: list[str] = ["t-unknown"]
        self.groups: list[str] = ["g-unknown"]
        self.previews: list[str] = ["p-unknown"]
        self.memories: list[str] = ["m-unknown"]
        self.cursors: list[str] = ["", "!!!", "eyJ4IjoxfQ=="]


def field_values(name: str, root: Path, pools: Pools) -> st.SearchStrategy[Any]:
    """Plausible values for one argument field, by its wire name."""
    ids = {
        "sessionId": lambda: st.sampled_from(pools.sessions)
        | st.sampled_from(pools.sessions).map(lambda s: s[:4]) | weighted_text(),
        "previewId": lambda: st.sampled_from(pools.previews) | weighted_text(),
        "id": lambda: st.sampled_from(pools.memories) | st.sampled_from(pools.memories).map(lambda s: s[:3])
        | weighted_text(),
        "cursor": lambda: st.sampled_from(pools.cursors) | weighted_text(),
    }
    if name in ids:
        return ids[name]()
    if name in ("prompt", "text", "query"):
        return weighted_text()
    if name == "profile":
        return st.sampled_from(["single", "single-deep", "double", ""])
    if name == "permissionMode":
        return st.sampled_from(["plan", "plan", "ask", "auto", "yolo"])
    if name == "format":
        return st.sampled_from(["markdown", "jsonl", "html", ""])
    if name == "scope":
        return st.sampled_from(["project", "user", "global"])
    if name in ("limit", "fromSeq", "steps"):
        return st.integers(min_value=-3, max_value=20) | st.integers(min_value=-(2**40), max_value=2**40)
    if name == "uri":
        return uris(root)
    if name == "uris":
        return st.lists(uris(root), max_size=4)
    if name == "tags":
        return st.lists(st.text(max_size=10), max_size=4)
    if name == "context":
        return st.fixed_dictionaries({}, optional={
            "uri": uris(root), "range": ranges() | junk,
            "diagnostics": st.lists(st.fixed_dictionaries({"range": ranges(), "message": st.text(max_size=20)})
                                    | junk, max_size=3),
            "selectionText": weighted_text(),
        })
    if name == "target":
        return st.one_of(
            st.just({"latest": True}), st.just({"session": True}),
            st.fixed_dictionaries({"steps": st.integers(min_value=-2, max_value=50)}),
            st.fixed_dictionaries({"groupId": st.sampled_from(pools.groups) | weighted_text()}),
            st.fixed_dictionaries({"turnId": st.sampled_from(pools.turns) | weighted_text()}),
            st.fixed_dictionaries({}, optional={"latest": junk, "steps": junk, "groupId": junk, "turnId": junk,
                                                "session": junk}),
        )
    return st.booleans()  # showResult, openDocument, showDocument, force, probe


def arguments_for(command: str, root: Path, pools: Pools) -> st.SearchStrategy[Any]:
    """The ``arguments`` array of an executeCommand: mostly one object, sometimes not."""
    model = p.COMMAND_ARGS[command]
    names = [f.alias or n for n, f in model.model_fields.items()]
    fields = {n: st.one_of(field_values(n, root, pools), field_values(n, root, pools), junk) for n in names}
    obj = st.fixed_dictionaries({}, optional={**fields, "unknownField": junk})
    return st.one_of(
        obj.map(lambda o: [o]), obj.map(lambda o: [o]), obj.map(lambda o: [o]), obj.map(lambda o: [o]),
        st.just([]), st.just(None), st.just([None]), st.just([[]]),
        st.lists(junk, min_size=1, max_size=3),
        st.tuples(obj, obj).map(list),
    )


def execute_params(root: Path, pools: Pools) -> st.SearchStrategy[Any]:
    def params(command: str) -> st.SearchStrategy[Any]:
        return arguments_for(command, root, pools).map(
            lambda a: {"command": command, **({} if a is None else {"arguments": a})})

    known = st.one_of([params(c) for c in p.COMMANDS])
    weird = st.one_of(
        st.fixed_dictionaries({"command": st.text(max_size=30) | st.sampled_from(["minicode.", "minicode.task.RUN"]),
                               "arguments": st.lists(junk, max_size=2)}),
        st.fixed_dictionaries({}, optional={"command": junk, "arguments": junk}),
        junk,
    )
    return st.one_of(known, known, known, known, known, known, known, known, known, weird)
