"""The errors scenarios: the feature file is the spec, this module only binds it."""

from pytest_bdd import scenarios

scenarios("errors.feature")
