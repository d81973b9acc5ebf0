"""The turn kernel: step budgets (profiles, widening), phases and the verification gate.

Plain state updated by the loop after every model reply and tool call; it decides what
happens when the model stops calling tools and when the step budget is spent.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from ..wording import plural
from . import events as ev
from .messages import ToolCall
from .prompts import BUDGET_LOW, BUDGET_WIDENED

log = logging.getLogger(__name__)

Phase = Literal["explore", "execute", "verify"]
# What to do when the model answers without tool calls.
Final = Literal["done", "await_user", "verification_failed", "nudge", "run_tests"]


@dataclass(frozen=True)
class Profile:
    name: str
    budget: int
    widen_by: int = 0  # extra steps granted once when progress is being made
    widen_margin: int = 5  # steps before the end at which widening is decided


PROFILES: dict[str, Profile] = {
    "single": Profile("single", budget=50),
    "single-deep": Profile("single-deep", budget=80, widen_by=20),
}

# Consecutive steps in which every tool call was refused before the turn is ``blocked``.
MAX_REFUSED_STEPS = 3
# Times the gate runs the configured test command before ``verification_failed``.
MAX_TEST_RUNS = 2
# A step counts as progress when it changed a file or made a successful call not seen before.
PROGRESS_WINDOW = 10
LOW_BUDGET_WARNING = 3


def declined_what(call: ToolCall) -> str:
    """A declined call as the user reads it: "the edit to calc.py", "the command `make test`"."""
    args = call.arguments if isinstance(call.arguments, dict) else {}
    if call.name == "run_command" and args.get("command"):
        return f"the command `{str(args['command'])[:200]}`"
    if call.name == "delete_file" and args.get("path"):
        return f"deleting {args['path']}"
    if call.name in ("edit_file", "write_file") and args.get("path"):
        return f"the edit to {args['path']}"
    return f"the call to {call.name}"


@dataclass
class Kernel:
    profile: Profile
    budget: int
    test_command: str = ""
    plan_mode: bool = False
    steps: int = 0
    widened: bool = False
    phase: Phase = "explore"
    files_changed: list[str] = field(default_factory=list)
    edits: int = 0  # edit tool calls that changed something
    verified: bool = False  # a verification happened after the last edit
    declined: bool = False  # the user declined the latest edit/command
    declined_what: str = ""  # what the user declined, as a user reads it ("the edit to calc.py")
    refusal: str = ""  # the latest refusal (confinement or plan mode), as the tool said it
    refused_steps: int = 0
    plan_refusals: int = 0
    test_runs: int = 0
    nudged: bool = False
    progress_steps: list[int] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _step_refusals: list[bool] = field(default_factory=list)

    @classmethod
    def create(
        cls, profile: str, *, max_steps: int | None = None, test_command: str = "", plan_mode: bool = False
    ) -> Kernel:
        p = PROFILES.get(profile)
        if p is None:
            log.warning("unknown profile %r; using 'single'", profile)
            p = PROFILES["single"]
        if max_steps is not None:  # an explicit cap: no widening past it
            p = Profile(p.name, budget=max(1, max_steps))
        return cls(profile=p, budget=p.budget, test_command=test_command.strip(), plan_mode=plan_mode)

    # ------------------------------------------------------------------ budget
    def making_progress(self) -> bool:
        return any(s > self.steps - PROGRESS_WINDOW for s in self.progress_steps)

    def check_budget(self) -> tuple[bool, str]:
        """Before a step: (may continue, note for the model)."""
        p = self.profile
        if p.widen_by and not self.widened and self.steps >= self.budget - p.widen_margin:
            if self.making_progress():
                self.widened = True
                self.budget += p.widen_by
                log.info("profile %s: step budget widened to %d", p.name, self.budget)
                return True, BUDGET_WIDENED.format(extra=p.widen_by, budget=self.budget)
        if self.steps >= self.budget:
            return False, ""
        left = self.budget - self.steps
        if left <= LOW_BUDGET_WARNING:
            return True, BUDGET_LOW.format(left=plural(left, "step"))
        return True, ""

    def max_steps_reason(self) -> str:
        """Why the turn stopped at its step budget, and how to go on, for the user."""
        if self.profile != PROFILES.get(self.profile.name):  # agent.maxSteps set the budget
            more = f"; agent.maxSteps caps a turn at {self.profile.budget} steps (0: the profile's budget)"
        elif self.profile.name == "single-deep":
            more = ""
        else:
            more = (f"; for a longer task, the single-deep profile allows {PROFILES['single-deep'].budget} "
                    "(--profile single-deep, or agent.profile)")
        return (f"the agent used this turn's whole budget of {plural(self.budget, 'step')} without finishing; "
                f"what it changed so far is kept (and can be rewound): say \"continue\" in a follow-up to go on{more}")

    # ------------------------------------------------------------------ tool calls
    def begin_step(self) -> None:
        self.steps += 1
        self._step_refusals = []

    def record_call(self, call: ToolCall, kind: str, *, is_error: bool, meta: dict[str, Any],
                    message: str = "") -> None:
        """``message``: what the tool answered (kept for a refusal, to say why a turn is blocked)."""
        refused = bool(meta.get("refused") or meta.get("plan_refused"))
        if meta.get("plan_refused"):
            self.plan_refusals += 1
        if refused:
            self.refusal = message.strip()
        self._step_refusals.append(refused)
        if meta.get("declined"):
            self.declined = True
            self.declined_what = declined_what(call)
            return
        if is_error:
            return
        signature = call.name + json.dumps(call.arguments, sort_keys=True, default=str)
        if signature not in self._seen:
            self._seen.add(signature)
            self._progress()
        if kind == "edit":
            self.declined = False
            self.edits += 1
            self.verified = False
            self.phase = "execute"
            self._progress()
            if meta.get("path"):
                self.note_changed([meta["path"]])
        elif kind == "shell":
            self.declined = False
            if self.edits:
                self.phase = "verify"
                if self._counts_as_check(meta):
                    self.verified = True
        elif kind == "read":
            if self.edits and meta.get("path") in self.files_changed:
                self.phase = "verify"
                if not self.test_command:
                    self.verified = True

    def _counts_as_check(self, meta: dict[str, Any]) -> bool:
        if not self.test_command:
            return True
        return str(meta.get("command", "")).strip() == self.test_command and meta.get("exit_code") == 0

    def note_changed(self, paths: list[str]) -> None:
        for p in paths:
            if p not in self.files_changed:
                self.files_changed.append(p)

    def _progress(self) -> None:
        if not self.progress_steps or self.progress_steps[-1] != self.steps:
            self.progress_steps.append(self.steps)

    def end_step(self) -> bool:
        """After a step's tool calls: True when the turn is blocked."""
        if self._step_refusals and all(self._step_refusals):
            self.refused_steps += 1
        else:
            self.refused_steps = 0
        return self.refused_steps >= MAX_REFUSED_STEPS or self.plan_refusals >= 2

    def blocked_reason(self) -> str:
        """Why ``end_step`` said the turn is blocked, for the user."""
        if self.plan_refusals >= 2:
            return ("plan mode is read-only and the agent tried twice to change something; run the task "
                    "again in ask mode (it asks before each edit and command) or auto mode to let it")
        last = self.refusal.removeprefix("refused:").strip() or "the agent may only touch files inside the workspace"
        return f"every tool call of the last {MAX_REFUSED_STEPS} steps was refused; the last one: {last}"

    def await_user_reason(self) -> str:
        """Why the turn stops for the user: what they declined."""
        what = self.declined_what or "a change"
        return f"you declined {what}; the agent is waiting for your next message"

    # ------------------------------------------------------------------ final answer
    def on_final(self) -> Final:
        if self.declined:
            return "await_user"
        # Only the edit tools' changes need a check: a command is its own check, and the
        # files it touches (caches, build output) must not hold the turn open.
        if not self.edits or self.verified:
            return "done"
        if self.test_command:
            return "run_tests" if self.test_runs < MAX_TEST_RUNS else "verification_failed"
        if self.nudged:
            return "verification_failed"
        self.nudged = True
        return "nudge"

    def record_gate_tests(self, passed: bool) -> str | None:
        """After the gate ran the test command: the stop reason, or None to continue."""
        self.test_runs += 1
        self.phase = "verify"
        if passed:
            self.verified = True
            return ev.DONE
        return ev.VERIFICATION_FAILED if self.test_runs >= MAX_TEST_RUNS else None
