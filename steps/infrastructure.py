"""Steps of the Terraform rules: they read terraform/*.tf and need no running service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from harness import rules
from harness.docker import dockerfile_default_base
from harness.hcl import TerraformConfig, load_directory
from harness.paths import TERRAFORM_DIR
from harness.rules.variable_values import VariableCheck, check_variable_values

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
def set_allowed_cidrs(cidrs: str, tmp_path: Path) -> VariableCheck:
    values = {**REQUIRED_VALUES, "allowed_cidrs": json.loads(cidrs)}
    return check_variable_values(TERRAFORM_DIR / "variables.tf", values, tmp_path / "vars")


@then(parsers.parse("Terraform {verdict} them"))
def terraform_verdict(verdict: str, variable_check: VariableCheck) -> None:
    if verdict not in ("accepts", "refuses"):
        pytest.fail(f"unknown verdict {verdict!r}")
    assert variable_check.accepted == (verdict == "accepts"), variable_check.message


@then("inbound traffic is allowed on TCP port 5000 only")
def inbound_port(terraform_config: TerraformConfig) -> None:
    assert_none(rules.inbound_port_problems(terraform_config))


@then("inbound traffic comes only from the allowed addresses variable")
def inbound_source(terraform_config: TerraformConfig) -> None:
    assert_none(rules.inbound_source_problems(terraform_config))


@then("no inbound rule is open to the whole internet")
def inbound_internet(terraform_config: TerraformConfig) -> None:
    assert_none(rules.inbound_internet_problems(terraform_config))


@then("no outbound rule allows every protocol")
def egress_protocol(terraform_config: TerraformConfig) -> None:
    assert_none(rules.egress_protocol_problems(terraform_config))


@then("every security group rule says what it is for")
def rule_descriptions(terraform_config: TerraformConfig) -> None:
    assert_none(rules.rule_description_problems(terraform_config))


@then("the instance requires IMDSv2 session tokens")
def imdsv2(terraform_config: TerraformConfig) -> None:
    assert_none(rules.imds_problems(terraform_config))


@then("the instance's root volume is encrypted")
def root_volume_encrypted(terraform_config: TerraformConfig) -> None:
    assert_none(rules.root_volume_encryption_problems(terraform_config))


@then("the instance's root volume is deleted with it")
def root_volume_deleted(terraform_config: TerraformConfig) -> None:
    assert_none(rules.root_volume_deletion_problems(terraform_config))


@then("the provider tags every resource with Project, RunId and ManagedBy from variables")
def default_tags(terraform_config: TerraformConfig) -> None:
    assert_none(rules.default_tag_problems(terraform_config))


@then("every taggable resource has a Name tag")
def name_tags(terraform_config: TerraformConfig) -> None:
    assert_none(rules.name_tag_problems(terraform_config))


@then("the primary network interface, which the provider's tags miss, carries the run's tags")
def eni_tags(terraform_config: TerraformConfig) -> None:
    assert_none(rules.eni_tag_problems(terraform_config))


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
def shutdown_terminates(terraform_config: TerraformConfig) -> None:
    assert_none(rules.shutdown_behaviour_problems(terraform_config))


@then("the user data arms the dead man's switch before any step that can fail")
def dead_mans_switch() -> None:
    assert_none(rules.dead_mans_switch_problems(user_data()))


@then("the outputs api_url, instance_id, public_ip and security_group_id exist")
def required_outputs(terraform_config: TerraformConfig) -> None:
    assert_none(rules.required_output_problems(terraform_config))


@then("every output says what it is")
def output_descriptions(terraform_config: TerraformConfig) -> None:
    assert_none(rules.output_description_problems(terraform_config))


@then("no output reveals the API key")
def output_secret(terraform_config: TerraformConfig) -> None:
    assert_none(rules.output_secret_problems(terraform_config))


@then("every variable has a type and a description")
def variable_declarations(terraform_config: TerraformConfig) -> None:
    assert_none(rules.variable_declaration_problems(terraform_config))


@then("the API key variable is sensitive")
def sensitive_variable(terraform_config: TerraformConfig) -> None:
    assert_none(rules.sensitive_variable_problems(terraform_config))


@then("variables and outputs are declared in alphabetical order")
def ordering(terraform_config: TerraformConfig) -> None:
    assert_none(rules.ordering_problems(terraform_config))
