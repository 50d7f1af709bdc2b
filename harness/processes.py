"""Stopping a child process: ask it first, then insist."""

from __future__ import annotations

import logging
import signal
import subprocess
from typing import Any

logger = logging.getLogger(__name__)


def stop(
    process: subprocess.Popen[Any], *, ask: int = signal.SIGTERM, timeout: float = 10.0
) -> int:
    """Send ``ask`` (SIGTERM unless told otherwise), wait up to ``timeout`` seconds for the
    process to end, then SIGKILL it; returns its exit code. A process already ended is left
    as it is."""
    if process.poll() is None:
        process.send_signal(ask)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            logger.warning(
                "pid %d ignored %s for %ss: killing it",
                process.pid,
                signal.Signals(ask).name,
                timeout,
            )
            process.kill()
            process.wait()
    return process.returncode
