"""Waiting, bounded, for a deployment to answer GET /health."""

from __future__ import annotations

import logging
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
    last_problem = "no answer yet"

    def probe() -> None:
        nonlocal last_problem
        if still_alive is not None and not still_alive():
            raise NotHealthy(f"the service at {base_url} stopped before it became healthy")
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
                f"waiting for {url}: {last_problem} after {state.seconds_since_start or 0:.0f}s"
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
            else (f"{url} did not become healthy within {timeout:.0f}s (last: {last_problem})")
        )
        details = context() if context is not None else ""
        raise NotHealthy(f"{message}\n{details}".rstrip()) from None
