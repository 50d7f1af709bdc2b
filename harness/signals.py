"""Turning the signals that end a run into one KeyboardInterrupt, so that cleanup runs.

Ctrl-C (SIGINT), and SIGTERM and SIGHUP as CI runners send them, interrupt the run once; any
signal after that is told to wait, so that it cannot cut short the destroy the first one set
off. SIGQUIT (Ctrl-\\) or SIGKILL still end the process at once, leaving the cleanup undone.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Once only: a second signal must not cut short the cleanup the first one started.
    for other in HANDLED:
        signal.signal(other, _cleaning_up)
    raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")


def _cleaning_up(signum: int, frame: FrameType | None) -> None:
    print(
        f"received {signal.Signals(signum).name} again: still cleaning up, please wait "
        "(Ctrl-\\ ends at once, leaving the cleanup undone)",
        file=sys.__stderr__,
        flush=True,
    )


def signals_interrupt() -> None:
    """Make SIGINT, SIGTERM and SIGHUP interrupt this (main) thread, once."""
    for signum in HANDLED:
        signal.signal(signum, _interrupt)
