"""Steps for the status and health endpoints."""

from __future__ import annotations

import time
from datetime import timedelta

import requests
from pytest_bdd import parsers, then, when

from harness.client import ApiClient
from steps.common import assert_state, assert_utc_iso8601_now, parse_utc, state_step


@when("a client asks for the status", target_fixture="answer")
def ask_status(client: ApiClient) -> requests.Response:
    return client.status()


@when("a client asks for the status twice, a second apart", target_fixture="answers")
def ask_status_twice(client: ApiClient) -> list[requests.Response]:
    first = client.status()
    time.sleep(1.0)
    return [first, client.status()]


@when("a client asks whether the service is healthy", target_fixture="answer")
def ask_health(client: ApiClient) -> requests.Response:
    return client.health()


@then("the status holds a whole-number counter and a text message")
def status_holds_state(answer: requests.Response) -> None:
    state = answer.json()["state"]
    assert set(state) == {"counter", "message"}, state
    assert type(state["counter"]) is int, state
    assert isinstance(state["message"], str), state


@then("the status time is now, in UTC, written in ISO 8601 and ending in Z")
def status_time_is_now(answer: requests.Response) -> None:
    assert_utc_iso8601_now(answer.json()["timestamp"])


@then("the uptime is a number of seconds, not negative")
def uptime_not_negative(answer: requests.Response) -> None:
    uptime = answer.json()["uptime_seconds"]
    assert isinstance(uptime, int | float), uptime
    assert not isinstance(uptime, bool), uptime
    assert uptime >= 0


@then(state_step("the state answered is {state}"))
def state_answered(answer: requests.Response, counter: str, message: str) -> None:
    assert_state(answer.json()["state"], counter, message)


@then("the second time is about a second after the first")
def time_moves(answers: list[requests.Response]) -> None:
    first, second = (parse_utc(answer.json()["timestamp"]) for answer in answers)
    # Network delay only adds time; a clock that stands still, or runs back, does not.
    assert timedelta(seconds=0.9) <= second - first < timedelta(seconds=30), (first, second)


@then("the second uptime is about a second more than the first")
def uptime_grows(answers: list[requests.Response]) -> None:
    first, second = (answer.json()["uptime_seconds"] for answer in answers)
    # A restart in between would make the second smaller; network delay only adds time.
    assert 0.9 <= second - first < 30, (first, second)


@then(parsers.parse('the service says it is "{status}"'))
def health_says(answer: requests.Response, status: str) -> None:
    assert answer.json() == {"status": status}
