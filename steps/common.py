"""Steps every feature shares: the service, the state a scenario starts from, the answer, and
where an accepted update must show: the status and the log."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from pytest_bdd import given, parsers, then

from harness.client import ApiClient
from harness.readiness import wait_for_health

#: How far the service's clock may be from the test machine's.
CLOCK_TOLERANCE = timedelta(minutes=2)
#: How long "the service is running" waits for the service to answer its health check.
READY_TIMEOUT = 30.0
#: A timestamp as the service writes every one: UTC, ISO 8601, to the microsecond, with a Z.
TIMESTAMP_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
#: Shorter pieces of a request are not looked for in its error: "red" is in "required".
ECHO_MIN_LENGTH = 4


def state_pattern(prefix: str = "") -> str:
    """A state as the spec writes it, ``counter 5 and message "text"``, as a regular expression
    with the groups ``{prefix}counter`` and ``{prefix}message``. The message may be empty, and
    may span lines (an Examples cell writes a line break as ``\\n``)."""
    return rf'counter (?P<{prefix}counter>-?\d+) and message "(?P<{prefix}message>.*)"'


def state_step(text: str) -> parsers.re:
    """A step parser for ``text``, in which ``{state}`` (or ``{old}`` and ``{new}``) stands for a
    state as the spec writes it."""
    expression = re.escape(text)
    for name in ("state", "old", "new"):
        prefix = "" if name == "state" else f"{name}_"
        expression = expression.replace(re.escape(f"{{{name}}}"), state_pattern(prefix))
    return parsers.re(expression, re.DOTALL)


def state(counter: str, message: str) -> dict[str, Any]:
    return {"counter": int(counter), "message": message}


def exact(value: Any) -> str:
    """``value`` as JSON text, keys sorted: two values compare equal this way only if they are
    the same JSON, so 2 is not 2.0 or true (which Python would count as equal)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def assert_state(shown: Any, counter: str, message: str) -> None:
    """``shown`` is exactly that state: no other field, the same text, and the counter a JSON
    integer."""
    expected = exact(state(counter, message))
    assert exact(shown) == expected, f"{exact(shown)} is not {expected}"


def assert_timestamp_format(text: Any) -> None:
    written = text if isinstance(text, str) else ""
    assert TIMESTAMP_FORMAT.fullmatch(written), f"{text!r} is not UTC ISO 8601 to the µs with a Z"


@dataclass(frozen=True)
class Snapshot:
    """What the service held before the scenario's action: the state, the log's size and its
    newest entry."""

    state: dict[str, Any]
    total: int
    newest: dict[str, Any] | None


def as_entry(answered: dict[str, Any]) -> dict[str, Any]:
    """The log entry that an answer to an update promises."""
    return {
        "id": answered["log_id"],
        "timestamp": answered["timestamp"],
        "old_value": answered["old_state"],
        "new_value": answered["state"],
    }


@dataclass(frozen=True)
class Made:
    """The updates a scenario made itself, oldest first, as the service answered them, and
    the log's size right after them."""

    answers: list[dict[str, Any]]
    total: int

    @property
    def entries(self) -> list[dict[str, Any]]:
        """The log entries these updates promise, oldest first."""
        return [as_entry(answer) for answer in self.answers]


def take_snapshot(client: ApiClient) -> Snapshot:
    state = client.current_state()
    total, newest = client.log_head()
    return Snapshot(state, total, newest)


def nth_update(marker: int, n: int) -> dict[str, Any]:
    """The n-th of a series of updates: the counter, the message or both, in turn, so that a
    log of them shows every kind of change (the message in more than ASCII)."""
    kinds = (
        {"counter": marker + n},
        {"message": f"update {marker + n} — ünïcödé ✓"},
        {"counter": -(marker + n), "message": f"update {marker + n}, both"},
    )
    return kinds[n % len(kinds)]


def assert_now(text: str) -> None:
    drift = abs(datetime.now(UTC) - parse_utc(text))
    assert drift < CLOCK_TOLERANCE, f"{text} is {drift} away from now"


def parse_utc(text: str) -> datetime:
    """A timestamp the service wrote, as a moment (one without its Z is not in UTC)."""
    assert text.endswith("Z"), f"{text!r} does not end in Z"
    return datetime.fromisoformat(text.removesuffix("Z") + "+00:00")


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included, however deep."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def pieces_sent(request: requests.PreparedRequest) -> list[str]:
    """What a request carried that its answer must not repeat: its body, as sent and as JSON
    would write it again, the text values in it, and the values of its query string."""
    body = request.body or b""
    text = (body if isinstance(body, bytes) else body.encode()).decode("utf-8", "replace")
    pieces = [text.strip()]
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    else:
        pieces += [json.dumps(parsed), json.dumps(parsed, separators=(",", ":"))]
        # A top-level key is a field's name, which an error may name; its value it may not.
        values = parsed.values() if isinstance(parsed, dict) else [parsed]
        pieces += [item for value in values for item in strings_in(value)]
    pieces += [value for _, value in parse_qsl(urlsplit(request.url or "").query)]
    return [piece for piece in pieces if len(piece) >= ECHO_MIN_LENGTH]


def error_shape_problems(body: Any) -> list[str]:
    """How an error's body differs from the one shape every error has: ``detail``, a
    sentence, and ``errors``, a list of ``field`` and ``message`` pairs, nothing else."""
    if not isinstance(body, dict):
        return [f"not a JSON object: {body!r}"]
    problems = []
    if set(body) != {"detail", "errors"}:
        problems.append(f"fields {sorted(body)}, not detail and errors")
    if not isinstance(body.get("detail"), str) or not body["detail"]:
        problems.append(f"detail {body.get('detail')!r} is not a sentence")
    errors = body.get("errors")
    if not isinstance(errors, list):
        problems.append(f"errors {errors!r} is not a list")
        return problems
    for error in errors:
        if not isinstance(error, dict) or set(error) != {"field", "message"}:
            problems.append(f"error {error!r} is not a field and a message")
        elif not all(isinstance(error[part], str) for part in ("field", "message")):
            problems.append(f"error {error!r} is not text")
    return problems


@given("the service is running")
def service_is_running(client: ApiClient) -> None:
    # Every target waits for its deployment when it starts it; a scenario still begins only
    # on a service that answers now. A service that never does is an error in the set-up
    # (NotHealthy), not a failed promise.
    wait_for_health(client.base_url, timeout=READY_TIMEOUT)


@given(state_step("the state is {state}"), target_fixture="before")
def state_is(client: ApiClient, counter: str, message: str) -> Snapshot:
    client.set_state(**state(counter, message))
    return take_snapshot(client)


@given(parsers.parse("the client has made {count:d} updates"), target_fixture="made")
def client_has_made_updates(client: ApiClient, count: int) -> Made:
    marker = random.randrange(1_000_000)  # nosec B311 - a marker, not a secret
    answers = [client.set_state(**nth_update(marker, n)) for n in range(count)]
    return Made(answers, client.log_total())


@pytest.fixture
def answer() -> requests.Response:
    raise AssertionError("this step needs a When step that makes a request first")


@then(parsers.parse("the answer is {code:d}"))
def answer_is(answer: requests.Response, code: int) -> None:
    assert answer.status_code == code, f"{answer.status_code}: {answer.text}"


@then("the answer is JSON")
def answer_is_json(answer: requests.Response) -> None:
    media_type = answer.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    assert media_type == "application/json", answer.headers.get("content-type")


@then("the error says why")
def error_says_why(answer: requests.Response) -> None:
    # Every error is of one shape, whatever refused the request.
    assert error_shape_problems(answer.json()) == []


@then("the error does not repeat what was sent")
def error_does_not_echo(answer: requests.Response) -> None:
    shown = [*strings_in(answer.json()), *answer.headers.values()]
    echoed = [piece for piece in pieces_sent(answer.request) if any(piece in s for s in shown)]
    assert echoed == [], f"the answer repeats {echoed!r}"


@then(parsers.parse('the error names "{field}"'))
def error_names(answer: requests.Response, field: str) -> None:
    body = answer.json()
    named = [error.get("field") for error in body.get("errors", [])]
    assert field in named, f"{field!r} not among {named}: {body}"


@then("nothing changed")
def nothing_changed(client: ApiClient, before: Snapshot) -> None:
    assert take_snapshot(client) == before


@then("the update was logged once")
def logged_once(client: ApiClient, before: Snapshot) -> None:
    assert client.log_total() == before.total + 1


@then(state_step("the status shows {state}"))
def status_shows(client: ApiClient, counter: str, message: str) -> None:
    assert_state(client.current_state(), counter, message)


@then("the log's newest entry is the update as answered")
def newest_entry_is_update(client: ApiClient, answer: requests.Response) -> None:
    newest, answered = exact(client.newest_entry()), exact(as_entry(answer.json()))
    assert newest == answered, f"the log holds {newest}, the update answered {answered}"
