"""Names every part of the harness agrees on (and that import nothing else)."""

from __future__ import annotations

#: The Project tag and label on everything a run creates.
PROJECT = "state-api"
