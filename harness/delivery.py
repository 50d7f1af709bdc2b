"""Sending the application to a new instance: its user data waits for it on port 5000
(``PUT /app-bundle``) and takes only the bundle whose SHA-256 it was given.

The bundle is too big for EC2's 16 KB of user data; the port is the only one the security
group opens, to the allowed addresses only, and the pinned hash makes the bytes' integrity
independent of the channel (plain HTTP: the application holds no secret; the key travels in
the user data, never here).
"""

from __future__ import annotations

from collections.abc import Callable

import requests
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential

from harness.bundle import sha256
from harness.errors import TargetError
from harness.readiness import until_deadline

PATH = "/app-bundle"


class DeliveryError(TargetError):
    """The instance did not take its application."""


def deliver(
    base_url: str,
    bundle: bytes,
    *,
    timeout: float,
    progress: Callable[[str], None],
    failed: Callable[[], str | None] = lambda: None,
    max_wait: float = 10.0,
) -> None:
    """Wait (at most ``timeout`` s) until the instance at ``base_url`` asks for ``bundle``,
    then send it. Nothing is sent to an instance that answers /health already (it has its
    application) or that waits for another bundle. ``failed`` ends the wait early with the
    reason the instance's boot failed, where that can be seen."""
    expected = sha256(bundle)
    url = base_url.rstrip("/") + PATH
    seen = "no answer yet"

    def state() -> str | None:
        """'waiting', 'running', or None (not ready yet: ask again)."""
        nonlocal seen
        problem = failed()
        if problem:
            raise DeliveryError(problem)
        try:
            asked = requests.get(url, timeout=5)
            if asked.status_code == 200:
                wanted = asked.json().get("sha256")
                if wanted != expected:
                    raise DeliveryError(
                        f"the instance at {base_url} waits for bundle {wanted}, not {expected}: "
                        "it was deployed from another tree"
                    )
                return "waiting"
            if requests.get(base_url.rstrip("/") + "/health", timeout=5).status_code == 200:
                return "running"
            seen = f"HTTP {asked.status_code}"
        except (requests.RequestException, ValueError) as exc:
            seen = type(exc).__name__
        return None

    def report(attempt: object) -> None:
        progress(f"waiting for the instance to ask for its application at {url} ({seen})")

    try:
        found = Retrying(
            stop=stop_after_delay(timeout),
            wait=until_deadline(wait_exponential(multiplier=0.5, max=max_wait), timeout),
            retry=retry_if_result(lambda result: result is None),
            before_sleep=report,
        )(state)
    except RetryError:
        raise DeliveryError(
            f"the instance at {base_url} did not ask for its application within "
            f"{timeout:.0f}s (last: {seen})"
        ) from None
    if found == "running":
        progress(f"the instance at {base_url} runs its application already")
        return
    sent = requests.put(url, data=bundle, timeout=60)
    if sent.status_code != 204:
        raise DeliveryError(
            f"the instance at {base_url} refused its application: HTTP {sent.status_code} "
            f"{sent.text[:200]}"
        )
    progress(f"sent the application ({len(bundle)} bytes, sha256 {expected[:12]}…) to {url}")
