"""Steps that restart the service."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pytest_bdd import parsers, then, when

from harness.client import ApiClient
from harness.targets import Target
from steps.common import Made

#: Time a status request may take on top of the uptime it reports.
REQUEST_ALLOWANCE = 2.0


@dataclass(frozen=True)
class Restart:
    """When the restart began, on the test machine's monotonic clock."""

    began: float


@when("the service restarts", target_fixture="restart")
def service_restarts(target: Target) -> Restart:
    began = time.monotonic()
    target.restart()
    return Restart(began)


@then("the service's uptime counts from the restart")
def uptime_from_restart(client: ApiClient, restart: Restart) -> None:
    response = client.status()
    assert response.status_code == 200, response.text
    since_restart = time.monotonic() - restart.began
    uptime = response.json()["uptime_seconds"]
    # A service that was not restarted has been up since before the restart began.
    assert uptime <= since_restart + REQUEST_ALLOWANCE, (uptime, since_restart)


@then("the status shows the state the last update set")
def status_shows_last_update(client: ApiClient, made: Made) -> None:
    assert client.current_state() == made.answers[-1]["state"]


@then(parsers.parse("the log still holds those {count:d} updates, newest first"))
def log_holds_updates(client: ApiClient, made: Made, count: int) -> None:
    response = client.logs(page=1, limit=count)
    assert response.status_code == 200, response.text
    assert response.json()["items"] == made.entries[::-1]


@then("the log holds as many entries as it did before the restart")
def log_total_kept(client: ApiClient, made: Made) -> None:
    assert client.log_total() == made.total
