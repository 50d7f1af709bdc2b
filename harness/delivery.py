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
from harness.redact import safe_url, without_url_secrets

PATH = "/app-bundle"


class DeliveryError(TargetError):
    """The instance did not take its application."""


def wait_until_asked(
    base_url: str,
    bundle: bytes,
    *,
    timeout: float,
    progress: Callable[[str], None],
    failed: Callable[[], str | None] = lambda: None,
    max_wait: float = 10.0,
) -> bool:
    """Wait (at most ``timeout`` s) until the instance at ``base_url`` asks for ``bundle``:
    True once it does (then :func:`send` it), False when it answers /health already (it has
    its application, and is sent nothing). An instance that waits for another bundle is an
    error; ``failed`` ends the wait early with the reason the instance's boot failed, where
    that can be seen."""
    expected = sha256(bundle)
    url = base_url.rstrip("/") + PATH
    # What messages show (Terraform's output has no secret in it, but a message never shows
    # a URL's user part or query, wherever the URL came from).
    shown, shown_base = safe_url(url), safe_url(base_url)
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
                        f"the instance at {shown_base} waits for bundle {wanted}, not {expected}: "
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
        progress(f"waiting for the instance to ask for its application at {shown} ({seen})")

    try:
        found = Retrying(
            stop=stop_after_delay(timeout),
            wait=until_deadline(wait_exponential(multiplier=0.5, max=max_wait), timeout),
            retry=retry_if_result(lambda result: result is None),
            before_sleep=report,
        )(state)
    except RetryError:
        raise DeliveryError(
            f"the instance at {shown_base} did not ask for its application within "
            f"{timeout:.0f}s (last: {seen})"
        ) from None
    if found == "running":
        progress(f"the instance at {shown_base} runs its application already")
        return False
    return True


def send(base_url: str, bundle: bytes, *, progress: Callable[[str], None]) -> None:
    """The bundle, to an instance that asked for it (:func:`wait_until_asked` said so)."""
    expected = sha256(bundle)
    url = base_url.rstrip("/") + PATH
    shown, shown_base = safe_url(url), safe_url(base_url)
    try:
        sent = requests.put(url, data=bundle, timeout=60)
    except requests.RequestException as exc:
        raise DeliveryError(
            f"sending the application to {shown} failed: {without_url_secrets(str(exc))}"
        ) from None
    if sent.status_code != 204:
        raise DeliveryError(
            f"the instance at {shown_base} refused its application: HTTP {sent.status_code} "
            f"{sent.text[:200]}"
        )
    progress(f"sent the application ({len(bundle)} bytes, sha256 {expected[:12]}…) to {shown}")
