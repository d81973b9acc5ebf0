"""Shared pytest setup: in CI, hypothesis runs the same examples every time (derandomized),
so a run that passed here passes there; locally it keeps exploring new examples."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
