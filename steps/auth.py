"""Steps for the API key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from pytest_bdd import given, parsers, then, when

from harness.client import API_KEY_HEADER, ApiClient
from harness.targets import Endpoint

#: How each phrase of the Examples sends (or fails to send) the key.
CREDENTIALS: dict[str, Callable[[ApiClient, str], requests.Response]] = {
    "without a key": lambda c, key: c.update({"counter": 4}, key=None),
    "with an empty key": lambda c, key: c.update({"counter": 4}, key=""),
    "with a wrong key": lambda c, key: c.update({"counter": 4}, key="not-" + key),
    "with the key in another case": lambda c, key: c.update({"counter": 4}, key=key.swapcase()),
    "with the key less its last character": lambda c, key: c.update({"counter": 4}, key=key[:-1]),
    "with the key and one more character": lambda c, key: c.update({"counter": 4}, key=key + "x"),
    "with the key in the query string": lambda c, key: c.update(
        {"counter": 4}, key=None, params={"api_key": key, "X-API-KEY": key}
    ),
    "with the key as a bearer token": lambda c, key: c.update(
        {"counter": 4}, key=None, headers={"Authorization": f"Bearer {key}"}
    ),
    "with the key in the body": lambda c, key: c.update({"counter": 4, "X-API-KEY": key}, key=None),
    "with the key in a cookie": lambda c, key: c.update(
        {"counter": 4}, key=None, headers={"Cookie": f"X-API-KEY={key}; api_key={key}"}
    ),
}

#: Where each thing a client may read is.
READS = {"the status": "/status", "the log": "/logs", "the health": "/health"}

#: What of each read must be the same for every reader (the status's time and uptime move).
SAME_FOR_EVERY_READER: dict[str, Callable[[Any], Any]] = {
    "the status": lambda body: body["state"],
    "the log": lambda body: body,
    "the health": lambda body: body,
}


@given("the service requires an API key", target_fixture="api_key")
def service_requires_key(endpoint: Endpoint) -> str:
    if endpoint.api_key is None:
        pytest.skip("no API key is known for this deployment (give --api-key)")
    # A key with no letters has no "other case": the scenario would prove nothing.
    assert endpoint.api_key.swapcase() != endpoint.api_key, "use a key with letters"
    return endpoint.api_key


@when(parsers.parse("a client sends an update {credentials}"), target_fixture="answer")
def send_with_credentials(client: ApiClient, api_key: str, credentials: str) -> requests.Response:
    return CREDENTIALS[credentials](client, api_key)


@when(parsers.parse("a client without a key sends the update {body}"), target_fixture="answer")
def send_raw_without_key(client: ApiClient, body: str) -> requests.Response:
    return client.update(raw=body.encode(), key=None)


@when(parsers.parse("a client without a key reads {what}"), target_fixture="answer")
def read_without_key(endpoint: Endpoint, what: str) -> requests.Response:
    return ApiClient(endpoint.base_url, api_key=None).request("GET", READS[what])


@then(parsers.parse("it reads {what} as a client holding the key does"))
def reads_as_key_holder(
    answer: requests.Response, client: ApiClient, api_key: str, what: str
) -> None:
    with_key = client.request("GET", READS[what], headers={API_KEY_HEADER: api_key})
    same = SAME_FOR_EVERY_READER[what]
    assert (with_key.status_code, same(with_key.json())) == (200, same(answer.json()))


@then("the answer does not contain the key")
def answer_hides_key(answer: requests.Response, api_key: str) -> None:
    shown = [answer.text, *answer.headers.values()]
    assert [text for text in shown if api_key in text] == []
