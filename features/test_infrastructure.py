"""The Terraform rules: read from terraform/*.tf, no deployment needed."""

from pytest_bdd import scenarios

scenarios("infrastructure.feature")
