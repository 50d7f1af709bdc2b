"""Steps that start a throw-away deployment, tear it down and look for what it left."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from pytest_bdd import given, then, when

from harness.leftovers import Leftover
from harness.targets import Target, TargetOptions


@dataclass(frozen=True)
class Throwaway:
    """A deployment started for the scenario, and the lifetime that stops it."""

    target: Target
    lifetime: ExitStack


@dataclass(frozen=True)
class Teardown:
    """A teardown, and what the inventory found of the deployment just before it."""

    run_id: str
    found_while_running: list[Leftover]


@given(
    "a throw-away deployment of the kind under test, with a run id of its own",
    target_fixture="throwaway",
)
def throwaway_deployment(target: Target, request: pytest.FixtureRequest) -> Throwaway:
    # Never kept, whatever --keep says: this deployment exists only to be torn down. Its
    # options make a run id of their own; it is stopped however the scenario ends.
    deployment = type(target)(TargetOptions())
    lifetime = ExitStack()
    request.addfinalizer(lifetime.close)
    lifetime.enter_context(deployment.deployed())
    return Throwaway(deployment, lifetime)


@when("the deployment is torn down", target_fixture="teardown")
def deployment_torn_down(throwaway: Throwaway) -> Teardown:
    found = throwaway.target.leftovers()
    throwaway.lifetime.close()
    return Teardown(throwaway.target.options.run_id, found)


@then("its run id is not the one of the deployment under test")
def own_run_id(teardown: Teardown, target: Target) -> None:
    assert teardown.run_id != target.options.run_id, "the same run id as the session's"


@then("while it ran, what it created carried its run id")
def found_while_running(teardown: Teardown) -> None:
    # An inventory that sees nothing of a running deployment would prove nothing after it.
    assert teardown.found_while_running, f"nothing found carrying {teardown.run_id}"


@then("nothing that carries its run id remains")
def nothing_remains(throwaway: Throwaway) -> None:
    remaining = throwaway.target.leftovers()
    assert remaining == [], f"left behind by {throwaway.target.options.run_id}: {remaining}"
