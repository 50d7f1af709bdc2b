"""Steps for the status and health endpoints."""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from pytest_bdd import parsers, then, when

from harness.client import ApiClient
from steps.common import assert_now, assert_state, assert_timestamp_format, parse_utc, state_step


@when("a client asks for the status", target_fixture="answer")
def ask_status(client: ApiClient) -> requests.Response:
    return client.status()


#: How long the client lets pass between its two status requests.
PAUSE_SECONDS = 0.2


@dataclass(frozen=True)
class TwoStatuses:
    """Two status answers, and what the client's clock says can have passed between the
    moments the server wrote them: at least ``inner`` (from the first answer's arrival to
    the second request's departure), at most ``outer`` (first request out, second answer in)."""

    first: requests.Response
    second: requests.Response
    inner: float
    outer: float

    @property
    def both(self) -> tuple[requests.Response, requests.Response]:
        return self.first, self.second


@when("a client asks for the status twice, a moment apart", target_fixture="statuses")
def ask_status_twice(client: ApiClient) -> TwoStatuses:
    started = time.monotonic()
    first = client.status()
    answered = time.monotonic()
    time.sleep(PAUSE_SECONDS)  # the time whose passing the scenario is about
    asked = time.monotonic()
    second = client.status()
    return TwoStatuses(first, second, inner=asked - answered, outer=time.monotonic() - started)


@when("a client asks whether the service is healthy", target_fixture="answer")
def ask_health(client: ApiClient) -> requests.Response:
    return client.health()


@when("a client asks for the description of the API", target_fixture="answer")
def ask_description(client: ApiClient) -> requests.Response:
    return client.request("GET", "/openapi.json")


@when("a client asks for the page to try the API", target_fixture="answer")
def ask_try_page(client: ApiClient) -> requests.Response:
    return client.request("GET", "/docs")


@then(parsers.re(r"the description names every endpoint: (?P<paths>.+)"))
def description_names(answer: requests.Response, paths: str) -> None:
    named = set(paths.replace(" and ", ", ").split(", "))
    assert named - set(answer.json()["paths"]) == set(), sorted(answer.json()["paths"])


@then("the answer is a web page")
def answer_is_web_page(answer: requests.Response) -> None:
    media_type = answer.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    assert media_type == "text/html", answer.headers.get("content-type")


@then("the status holds a whole-number counter and a text message")
def status_holds_state(answer: requests.Response) -> None:
    state = answer.json()["state"]
    kinds = {name: type(value) for name, value in state.items()}
    assert kinds == {"counter": int, "message": str}, state


@then("the status time is written in UTC as ISO 8601, to the microsecond, ending in Z")
def status_time_format(answer: requests.Response) -> None:
    assert_timestamp_format(answer.json()["timestamp"])


@then("the status time is now")
def status_time_is_now(answer: requests.Response) -> None:
    assert_now(answer.json()["timestamp"])


@then("the uptime is a number of seconds, not negative")
def uptime_not_negative(answer: requests.Response) -> None:
    uptime = answer.json()["uptime_seconds"]
    # bool is an int to Python, not a number of seconds to JSON.
    assert (type(uptime) in (int, float), uptime >= 0) == (True, True), uptime


@then(state_step("the state answered is {state}"))
def state_answered(answer: requests.Response, counter: str, message: str) -> None:
    assert_state(answer.json()["state"], counter, message)


@then("the status time moved on by the time that passed between the two answers")
def time_moves(statuses: TwoStatuses) -> None:
    first, second = (parse_utc(answer.json()["timestamp"]) for answer in statuses.both)
    moved = (second - first).total_seconds()
    # A clock that stands still, or runs back, fails; the server's two readings lie between
    # the client's (timestamps to the microsecond).
    assert statuses.inner - 0.001 <= moved <= statuses.outer + 0.001, (first, second, statuses)


@then("the uptime grew by the time that passed between the two answers")
def uptime_grows(statuses: TwoStatuses) -> None:
    first, second = (answer.json()["uptime_seconds"] for answer in statuses.both)
    # A restart in between would make the second smaller; uptime is rounded to the ms.
    assert statuses.inner - 0.002 <= second - first <= statuses.outer + 0.002, (
        first,
        second,
        statuses,
    )


@then(parsers.parse('the service says it is "{status}"'))
def health_says(answer: requests.Response, status: str) -> None:
    assert answer.json() == {"status": status}
