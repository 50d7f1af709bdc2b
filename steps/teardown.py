"""Steps that start a throw-away deployment, tear it down and look for what it left."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pytest
from pytest_bdd import given, then, when

from harness.leftovers import ChecksLeftovers
from harness.targets import Target, TargetOptions


@dataclass(frozen=True)
class Teardown:
    """A teardown, and what the inventory found of the deployment just before it."""

    run_id: str
    found_while_running: list[str]


@given(
    "a throw-away deployment of the kind under test, with a run id of its own",
    target_fixture="throwaway",
)
def throwaway_deployment(target: Target, request: pytest.FixtureRequest) -> Target:
    if not isinstance(target, ChecksLeftovers):
        pytest.skip(
            f"the {target.name} target keeps no inventory here (url: the deployment is not ours;"
            " aws: a second instance per run would cost minutes and money, and the session"
            " ends with its own teardown check)"
        )
    # Never kept, whatever --keep says: this deployment exists only to be torn down. Its
    # options make a run id of their own; start() returns once it answers its health check.
    deployment = type(target)(TargetOptions())
    request.addfinalizer(deployment.stop)
    deployment.endpoint = deployment.start()
    return deployment


@when("the deployment is torn down", target_fixture="teardown")
def deployment_torn_down(throwaway: Target) -> Teardown:
    found = cast(ChecksLeftovers, throwaway).leftovers()
    throwaway.stop()
    return Teardown(throwaway.options.run_id, found)


@then("while it ran, what it created carried its own run id")
def found_while_running(teardown: Teardown, target: Target) -> None:
    assert teardown.run_id != target.options.run_id, "the same run id as the session's"
    # An inventory that sees nothing of a running deployment would prove nothing after it.
    assert teardown.found_while_running, f"nothing found carrying {teardown.run_id}"


@then("nothing that carries its run id remains")
def nothing_remains(throwaway: Target) -> None:
    remaining = cast(ChecksLeftovers, throwaway).leftovers()
    assert remaining == [], f"left behind by {throwaway.options.run_id}: {remaining}"
