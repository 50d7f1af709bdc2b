"""Turning the signals a CI runner sends into KeyboardInterrupt, so that cleanup runs."""

from __future__ import annotations

import signal
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")


def signals_interrupt() -> None:
    """Make SIGTERM and SIGHUP behave like Ctrl-C in this (main) thread."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
