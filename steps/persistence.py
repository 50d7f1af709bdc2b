"""Steps that restart the service, and read back what was made before it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pytest_bdd import given, then, when

from harness.client import ApiClient
from harness.targets import Target
from steps.common import Made, exact, state

#: Time a status request may take on top of the uptime it reports.
REQUEST_ALLOWANCE = 2.0


@dataclass(frozen=True)
class Restart:
    """When the restart began, on the test machine's monotonic clock."""

    began: float


def states_of(datatable: list[list[str]]) -> list[dict[str, object]]:
    """The states a table of ``counter | message`` rows writes, top to bottom."""
    header, *rows = datatable
    assert header == ["counter", "message"], f"the table's columns are {header}"
    return [state(counter, message) for counter, message in rows]


@given("the client has made these updates, oldest first:", target_fixture="made")
def client_has_made_these_updates(client: ApiClient, datatable: list[list[str]]) -> Made:
    answers = [client.set_state(**changes) for changes in states_of(datatable)]
    return Made(answers, client.log_total())


@when("the service restarts", target_fixture="restart")
def service_restarts(target: Target) -> Restart:
    began = time.monotonic()
    target.restart()
    return Restart(began)


@then("the service is healthy again")
def healthy_again(client: ApiClient) -> None:
    response = client.health()
    assert response.status_code == 200, response.text


@then("the service's uptime counts from the restart")
def uptime_from_restart(client: ApiClient, restart: Restart) -> None:
    since_restart = time.monotonic() - restart.began
    uptime = client.status().json()["uptime_seconds"]
    # A service that was not restarted has been up since before the restart began.
    assert uptime <= since_restart + REQUEST_ALLOWANCE, (uptime, since_restart)


@then("the log's newest entries set, newest first:")
def newest_entries_set(client: ApiClient, datatable: list[list[str]]) -> None:
    expected = states_of(datatable)
    listed = client.logs(page=1, limit=len(expected)).json()["items"]
    assert exact([entry["new_value"] for entry in listed]) == exact(expected)


@then(
    "the log's newest entries are those updates as they were answered, "
    "ids, times and previous states included"
)
def newest_entries_as_answered(client: ApiClient, made: Made) -> None:
    listed = client.logs(page=1, limit=len(made.answers)).json()["items"]
    assert listed == made.entries[::-1]


@then("the log holds as many entries as it did before the restart")
def log_total_kept(client: ApiClient, made: Made) -> None:
    assert client.log_total() == made.total
