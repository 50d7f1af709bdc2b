"""Turning the signals a CI runner sends into KeyboardInterrupt, so that cleanup runs."""

from __future__ import annotations

import signal
import sys
from types import FrameType

HANDLED = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Once only: a second signal must not cut short the cleanup the first one started.
    for other in HANDLED:
        signal.signal(other, _cleaning_up)
    raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")


def _cleaning_up(signum: int, frame: FrameType | None) -> None:
    print(
        f"received {signal.Signals(signum).name} again: still cleaning up, please wait",
        file=sys.__stderr__,
        flush=True,
    )


def signals_interrupt() -> None:
    """Make SIGTERM and SIGHUP behave like Ctrl-C in this (main) thread, once."""
    for signum in HANDLED:
        signal.signal(signum, _interrupt)
