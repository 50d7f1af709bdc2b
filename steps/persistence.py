"""Steps that restart the service."""

from __future__ import annotations

from pytest_bdd import parsers, then, when

from harness.client import ApiClient
from harness.targets import Target
from steps.common import Made


@when("the service restarts")
def service_restarts(target: Target) -> None:
    target.restart()


@then("the status shows the state the last update set")
def status_shows_last_update(client: ApiClient, made: Made) -> None:
    assert client.current_state() == made.answers[-1]["state"]


@then(parsers.parse("the log still holds those {count:d} updates, newest first"))
def log_holds_updates(client: ApiClient, made: Made, count: int) -> None:
    listed = client.logs(page=1, limit=count).json()["items"]
    assert [entry["id"] for entry in listed] == made.ids[::-1]
    assert [entry["new_value"] for entry in listed] == [a["state"] for a in made.answers[::-1]]
