"""Steps for what the service does not offer: paths it does not have, methods it does not take."""

from __future__ import annotations

import re
from collections.abc import Callable

import requests
from pytest_bdd import parsers, when

from harness.client import ApiClient

#: What each phrase asks for. Each carries something of its own (a query, a body) that the
#: error must not repeat.
NOT_OFFERED: dict[str, Callable[[ApiClient], requests.Response]] = {
    "reads a page the service does not have": lambda c: c.request(
        "GET", "/no/such/page", params={"note": "remember this"}
    ),
    "deletes the log": lambda c: c.request("DELETE", "/logs", params={"note": "remember this"}),
    "sends an update to the status": lambda c: c.request(
        "POST", "/status", json={"message": "remember this"}
    ),
}


@when(
    parsers.re("a client (?P<asks>" + "|".join(map(re.escape, NOT_OFFERED)) + ")"),
    target_fixture="answer",
)
def ask_for_what_is_not_offered(client: ApiClient, asks: str) -> requests.Response:
    return NOT_OFFERED[asks](client)
