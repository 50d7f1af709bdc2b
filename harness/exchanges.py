"""Every request a client of the service makes, and its answer, told to whoever listens.

The clients (harness/client.py) watch their session here; the report (harness/report/)
listens and writes each exchange down under the step that made it. The key a client holds is
registered as a secret the moment the client is made, so nothing written later shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from harness.redact import SECRETS

Listener = Callable[[requests.Response], None]

_listeners: list[Listener] = []


def watch(session: requests.Session, *, secret: str | None) -> None:
    """Tell the listeners about every answer ``session`` receives; ``secret`` is redacted."""
    SECRETS.add(secret)
    session.hooks["response"].append(_tell)


def listen(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` with every answer from now on; returns what stops it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def _tell(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    for listener in list(_listeners):
        listener(response)
