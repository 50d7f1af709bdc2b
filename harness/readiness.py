"""Waiting, bounded, for a deployment to answer GET /health."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import requests
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from harness.errors import TargetError
from harness.redact import safe_url

logger = logging.getLogger(__name__)


class NotHealthy(TargetError):
    """The deployment did not become healthy in time."""


class _NotYet(Exception):
    pass


def until_deadline(wait: Callable[[RetryCallState], float], timeout: float) -> Any:
    """``wait``, but never past ``timeout`` seconds from the start: the last look comes at
    the deadline, not up to a whole pause after it (a wait doubling up to 20 s gave up on
    a 60 s timeout after 71 s)."""

    def capped(state: RetryCallState) -> float:
        return max(0.0, min(wait(state), timeout - (state.seconds_since_start or 0.0)))

    return capped


def wait_for_health(
    base_url: str,
    *,
    timeout: float = 30.0,
    initial_wait: float = 0.02,
    max_wait: float = 0.1,
    still_alive: Callable[[], bool] | None = None,
    context: Callable[[], str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Poll ``base_url``/health until it answers 200, for at most ``timeout`` seconds.

    ``still_alive`` ends the wait early when the deployment has died; ``context`` supplies
    what to show when it fails (the server's output, a container's logs).

    The default cadence suits a service on this machine, which answers within a second or two:
    a wait doubling up to 2 s overshot its start by half a second on average, every start of
    every deployment (a remote first boot passes a slower cadence).
    """
    url = base_url.rstrip("/") + "/health"
    # What messages show: a --base-url may carry a key in its query or its user part.
    shown, shown_base = safe_url(url), safe_url(base_url)
    last_problem = "no answer yet"

    def probe() -> None:
        nonlocal last_problem
        if still_alive is not None and not still_alive():
            raise NotHealthy(f"the service at {shown_base} stopped before it became healthy")
        try:
            # B113 misreads a computed timeout as none: it is at most 5 s, at least 0.1 s.
            response = requests.get(url, timeout=min(5.0, max(timeout, 0.1)))  # nosec B113
        except requests.RequestException as exc:
            last_problem = f"{type(exc).__name__}"
            raise _NotYet from exc
        if response.status_code != 200:
            last_problem = f"HTTP {response.status_code}"
            raise _NotYet

    def report(state: RetryCallState) -> None:
        if progress is not None:
            progress(
                f"waiting for {shown}: {last_problem} after {state.seconds_since_start or 0:.0f}s"
            )

    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=until_deadline(wait_exponential(multiplier=initial_wait, max=max_wait), timeout),
        retry=retry_if_exception_type(_NotYet),
        before_sleep=report,
    )
    try:
        retrying(probe)
    except (RetryError, NotHealthy) as exc:
        message = (
            str(exc)
            if isinstance(exc, NotHealthy)
            else (f"{shown} did not become healthy within {timeout:.0f}s (last: {last_problem})")
        )
        details = context() if context is not None else ""
        raise NotHealthy(f"{message}\n{details}".rstrip()) from None


def wait_for_restart(
    base_url: str,
    *,
    since: float,
    timeout: float,
    progress: Callable[[str], None] | None = None,
    max_wait: float = 5.0,
) -> None:
    """Poll ``base_url``/status until a service started after ``since`` (a time.monotonic()
    reading) answers: its uptime is shorter than the time since then. Until then, no answer
    (it is down) or the old service's (it has not gone down yet) are the same: not yet.

    For a restart asked of something that answers at once and acts later (EC2 only queues a
    reboot), so that the old service, still up, is never taken for the new one.
    """
    url = base_url.rstrip("/") + "/status"
    last_problem = "no answer yet"

    def probe() -> None:
        nonlocal last_problem
        try:
            response = requests.get(url, timeout=5.0)
            elapsed = time.monotonic() - since
            uptime = float(response.json()["uptime_seconds"]) if response.ok else None
        except requests.RequestException as exc:
            last_problem = type(exc).__name__
            raise _NotYet from exc
        except (ValueError, KeyError, TypeError) as exc:
            last_problem = f"HTTP {response.status_code} without an uptime"
            raise _NotYet from exc
        if uptime is None:
            last_problem = f"HTTP {response.status_code}"
            raise _NotYet
        if uptime >= elapsed:
            last_problem = f"still the service started before the restart (up {uptime:.0f}s)"
            raise _NotYet

    def report(state: RetryCallState) -> None:
        if progress is not None:
            progress(
                f"waiting for {base_url} to come back: {last_problem} after "
                f"{state.seconds_since_start or 0:.0f}s"
            )

    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_exponential(multiplier=0.25, max=max_wait),
        retry=retry_if_exception_type(_NotYet),
        before_sleep=report,
    )
    try:
        retrying(probe)
    except RetryError:
        raise NotHealthy(
            f"{base_url} did not come back within {timeout:.0f}s of the restart "
            f"(last: {last_problem})"
        ) from None
