"""Steps that start a throw-away deployment, tear it down and look for what it left."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from pytest_bdd import given, then, when

from harness.client import ApiClient
from harness.targets import Target, TargetOptions


@given(
    "a throw-away deployment of the kind under test, with a run id of its own",
    target_fixture="throwaway",
)
def throwaway_deployment(target: Target, request: pytest.FixtureRequest) -> Target:
    # Never kept, whatever --keep says: this deployment exists only to be torn down.
    deployment = type(target)(TargetOptions())
    lifetime = ExitStack()
    request.addfinalizer(lifetime.close)
    lifetime.enter_context(deployment.deployed())
    request.node.stash[LIFETIME] = lifetime
    return deployment


LIFETIME = pytest.StashKey[ExitStack]()


@given("the deployment answers and what it created carries its run id")
def deployment_answers(throwaway: Target, target: Target) -> None:
    assert throwaway.options.run_id != target.options.run_id, "a run id of its own"
    response = ApiClient(throwaway.endpoint.base_url, throwaway.endpoint.api_key).health()
    assert response.status_code == 200, response.text
    # The inventory must see the deployment while it runs, or an empty one proves nothing.
    assert throwaway.leftovers(), f"nothing found carrying {throwaway.options.run_id}"


@when("the deployment is torn down")
def deployment_torn_down(request: pytest.FixtureRequest) -> None:
    request.node.stash[LIFETIME].close()


@then("nothing that carries its run id remains")
def nothing_remains(throwaway: Target) -> None:
    remaining = throwaway.leftovers()
    assert remaining == [], f"left behind by {throwaway.options.run_id}: {remaining}"
