"""Steps for POST /update."""

from __future__ import annotations

import json

import requests
from pytest_bdd import parsers, then, when

from harness.client import ApiClient
from steps.common import assert_state, state_step

#: The service's default body limit; a deployment configured with a larger one would accept
#: a message this long, and the scenario would name "message" instead of "body".
BODY_LIMIT_BYTES = 16 * 1024
#: What a message at the limit is made of.
LIMIT_CHARACTER = "🎉"


@when(parsers.parse("the client sets the counter to {counter:d}"), target_fixture="answer")
def set_counter(client: ApiClient, counter: int) -> requests.Response:
    return client.update({"counter": counter})


@when(parsers.parse('the client sets the message to "{message}"'), target_fixture="answer")
def set_message(client: ApiClient, message: str) -> requests.Response:
    return client.update({"message": message})


@when(
    parsers.parse('the client sets the counter to {counter:d} and the message to "{message}"'),
    target_fixture="answer",
)
def set_both(client: ApiClient, counter: int, message: str) -> requests.Response:
    return client.update({"counter": counter, "message": message})


@when(parsers.parse("the client sends the update {body}"), target_fixture="answer")
def send_raw_update(client: ApiClient, body: str) -> requests.Response:
    # The Examples cell is sent byte for byte: what a reviewer reads is what the service gets.
    return client.update(raw=body.encode())


@when(
    parsers.re(r"the client sends (?P<body>.+) as an update, without saying it is JSON"),
    target_fixture="answer",
)
def send_not_declared_json(client: ApiClient, body: str) -> requests.Response:
    return client.update(raw=body.encode(), headers={"Content-Type": "text/plain"})


@when("the client sends a message exactly as long as the limit", target_fixture="answer")
def send_message_at_limit(client: ApiClient) -> requests.Response:
    return client.update(raw=message_body(client.max_message_length()))


@when("the client sends a message one character longer than the limit", target_fixture="answer")
def send_message_over_limit(client: ApiClient) -> requests.Response:
    return client.update(raw=message_body(client.max_message_length() + 1))


def message_body(length: int) -> bytes:
    """An update of the message to ``length`` characters of four UTF-8 bytes (two UTF-16
    units) each, sent as UTF-8: the limit counts characters, not bytes or code units. (At the
    default limit, 1,024 characters, that is 4 KiB, well within the body limit.)"""
    return json.dumps({"message": LIMIT_CHARACTER * length}, ensure_ascii=False).encode()


@when("the client sends an update body larger than 16 KiB", target_fixture="answer")
def send_oversized_body(client: ApiClient) -> requests.Response:
    return client.update(raw=json.dumps({"message": "m" * BODY_LIMIT_BYTES}).encode())


@then(state_step("the answer shows the new state: {state}"))
def answer_new_state(answer: requests.Response, counter: str, message: str) -> None:
    assert_state(answer.json()["state"], counter, message)


@then(state_step("the answer shows the previous state: {state}"))
def answer_old_state(answer: requests.Response, counter: str, message: str) -> None:
    assert_state(answer.json()["old_state"], counter, message)


@then("the answer shows the message as it was sent, every character of it")
def answer_shows_message_sent(answer: requests.Response) -> None:
    sent = json.loads(answer.request.body or b"{}").get("message")
    shown = answer.json()["state"]["message"]
    assert shown == sent, f"{len(sent)} characters sent, {len(shown)} shown"


@then("the status shows the state the update answered")
def status_shows_answered(client: ApiClient, answer: requests.Response) -> None:
    assert client.current_state() == answer.json()["state"]
