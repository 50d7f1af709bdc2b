"""Steps of the Terraform rules: they read terraform/*.tf and need no running service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from harness import terraform_rules as rules
from harness.docker import dockerfile_default_base
from harness.hcl import TerraformConfig, load_directory
from harness.terraform import TERRAFORM_DIR

#: Values for the variables that have no default, so that only the one under test varies.
REQUIRED_VALUES = {
    "allowed_cidrs": ["203.0.113.7/32"],
    "api_key": "an-api-key",
    "app_bundle_sha256": "0" * 64,
    "run_id": "rules-check",
}


def assert_none(problems: list[str]) -> None:
    assert problems == [], "\n".join(problems)


@given("the Terraform configuration of the deployment", target_fixture="terraform_config")
def terraform_config() -> TerraformConfig:
    return load_directory(TERRAFORM_DIR)


@when(
    parsers.parse("the allowed addresses are set to {cidrs}"),
    target_fixture="variable_check",
)
def set_allowed_cidrs(cidrs: str, tmp_path: Path) -> rules.VariableCheck:
    values = {**REQUIRED_VALUES, "allowed_cidrs": json.loads(cidrs)}
    return rules.check_variable_values(TERRAFORM_DIR / "variables.tf", values, tmp_path / "vars")


@then(parsers.parse("Terraform {verdict} them"))
def terraform_verdict(verdict: str, variable_check: rules.VariableCheck) -> None:
    if verdict not in ("accepts", "refuses"):
        pytest.fail(f"unknown verdict {verdict!r}")
    assert variable_check.accepted == (verdict == "accepts"), variable_check.message


@then("inbound traffic is allowed on TCP port 5000 only")
@then("inbound traffic comes only from the allowed addresses variable")
@then("no inbound rule is open to the whole internet")
def inbound_rules(terraform_config: TerraformConfig) -> None:
    assert_none(rules.inbound_problems(terraform_config))


@then("every outbound rule is described and limited to one protocol")
def outbound_rules(terraform_config: TerraformConfig) -> None:
    assert_none(rules.egress_problems(terraform_config))


@then("the instance requires IMDSv2 session tokens")
def imdsv2(terraform_config: TerraformConfig) -> None:
    assert terraform_config.resources("aws_instance"), "no aws_instance"
    assert_none(rules.imds_problems(terraform_config))


@then("the instance's root volume is encrypted and deleted with it")
def root_volume(terraform_config: TerraformConfig) -> None:
    assert_none(rules.root_volume_problems(terraform_config))


@then("the provider tags every resource with Project, RunId and ManagedBy from variables")
def default_tags(terraform_config: TerraformConfig) -> None:
    assert_none(rules.default_tag_problems(terraform_config))


@then("every taggable resource has a Name tag")
@then("the primary network interface, which the provider's tags miss, carries the run's tags")
def resource_tags(terraform_config: TerraformConfig) -> None:
    assert_none(rules.resource_tag_problems(terraform_config))


@then("the user data installs docker, tar and gzip before it uses them")
def packages() -> None:
    assert_none(rules.package_problems(user_data()))


@then("the image is built on the Dockerfile's base image from Amazon's public ECR mirror")
def base_image(terraform_config: TerraformConfig) -> None:
    problems = rules.base_image_problems(terraform_config, user_data(), dockerfile_default_base())
    assert_none(problems)


def user_data() -> str:
    return (TERRAFORM_DIR / "user_data.sh").read_text(encoding="utf-8")


@then("powering off the instance terminates it")
@then("the user data arms the dead man's switch before any step that can fail")
def dead_mans_switch(terraform_config: TerraformConfig) -> None:
    assert_none(rules.dead_mans_switch_problems(terraform_config, user_data()))


@then("the outputs api_url, instance_id, public_ip and security_group_id exist, described")
@then("no output reveals the API key")
def outputs(terraform_config: TerraformConfig) -> None:
    assert_none(rules.output_problems(terraform_config))


@then("every variable has a type and a description")
@then("the API key variable is sensitive")
def variables(terraform_config: TerraformConfig) -> None:
    assert_none(rules.variable_problems(terraform_config))
