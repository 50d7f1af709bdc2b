"""The waits' cadence (harness/readiness.py): a pause never runs past the wait's deadline."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from harness.readiness import until_deadline


def state(seconds_since_start: float | None) -> Any:
    """The one field of tenacity's RetryCallState that the cap reads."""
    return SimpleNamespace(seconds_since_start=seconds_since_start)


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(None, 20.0), (0.0, 20.0), (31.0, 20.0), (51.0, 9.0), (60.0, 0.0), (75.0, 0.0)],
)
def test_a_pause_is_cut_at_the_deadline(elapsed: float | None, expected: float) -> None:
    capped = until_deadline(lambda _state: 20.0, timeout=60.0)
    assert capped(state(elapsed)) == pytest.approx(expected)
