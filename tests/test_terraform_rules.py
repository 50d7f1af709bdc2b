"""The Terraform rules must be able to fail: each broken copy of terraform/ is caught."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import rules
from harness.docker import dockerfile_default_base
from harness.hcl import TerraformConfig, load_directory, normalise, unquote
from harness.paths import TERRAFORM_DIR

Check = Callable[[TerraformConfig], list[str]]


def broken_copy(tmp_path: Path, file: str, old: str, new: str) -> TerraformConfig:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy)
    path = copy / file
    text = path.read_text()
    assert old in text, f"{old!r} not in {file}: update this test"
    path.write_text(text.replace(old, new, 1))
    return load_directory(copy)


#: Every rule on the configuration alone, each the check of one step of infrastructure.feature.
CONFIG_RULES: list[Check] = [
    rules.inbound_port_problems,
    rules.inbound_source_problems,
    rules.inbound_internet_problems,
    rules.rule_description_problems,
    rules.egress_protocol_problems,
    rules.imds_problems,
    rules.root_volume_encryption_problems,
    rules.root_volume_deletion_problems,
    rules.default_tag_problems,
    rules.name_tag_problems,
    rules.eni_tag_problems,
    rules.required_output_problems,
    rules.output_description_problems,
    rules.output_secret_problems,
    rules.variable_declaration_problems,
    rules.sensitive_variable_problems,
    rules.ordering_problems,
    rules.shutdown_behaviour_problems,
]


def test_the_real_configuration_keeps_every_rule() -> None:
    config = load_directory(TERRAFORM_DIR)
    user_data = (TERRAFORM_DIR / "user_data.sh").read_text()

    problems = [
        *(problem for check in CONFIG_RULES for problem in check(config)),
        *rules.dead_mans_switch_problems(user_data),
        *rules.package_problems(user_data),
        *rules.base_image_problems(config, user_data, dockerfile_default_base()),
    ]

    assert problems == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("dnf install -y docker tar gzip", "dnf install -y docker", "'tar' before installing tar"),
        ("dnf install -y docker tar gzip", "dnf install -y docker tar", "before installing gzip"),
        ("dnf install -y docker tar gzip", "dnf install -y tar gzip", "before installing docker"),
    ],
)
def test_user_data_that_uses_a_package_before_installing_it_is_reported(
    old: str, new: str, expected: str
) -> None:
    user_data = (TERRAFORM_DIR / "user_data.sh").read_text()
    assert old in user_data

    problems = rules.package_problems(user_data.replace(old, new))

    assert any(expected in problem for problem in problems), problems


def test_the_instance_must_build_on_the_ecr_mirror_of_the_dockerfiles_base(tmp_path: Path) -> None:
    user_data = (TERRAFORM_DIR / "user_data.sh").read_text()
    dockerhub = broken_copy(
        tmp_path,
        "variables.tf",
        'default     = "public.ecr.aws/docker/library/python:3.11-slim"',
        'default     = "python:3.11-slim"',
    )
    unused = user_data.replace("--build-arg 'BASE_IMAGE=${base_image}' ", "")

    assert any(
        "not 'public.ecr.aws" in p
        for p in rules.base_image_problems(dockerhub, user_data, "python:3.11-slim")
    )
    assert any(
        "BASE_IMAGE" in p
        for p in rules.base_image_problems(
            load_directory(TERRAFORM_DIR), unused, "python:3.11-slim"
        )
    )
    # Another base in the Dockerfile: the mirror must follow it.
    assert rules.base_image_problems(load_directory(TERRAFORM_DIR), user_data, "python:3.12-slim")


#: An inbound rule in the older form, open to every IPv6 address.
LEGACY_RULE_FOR_ALL = (
    'resource "aws_security_group_rule" "legacy" {\n'
    '  type             = "ingress"\n'
    '  ipv6_cidr_blocks = ["::/0"]\n'
    "}\n\n"
)

#: Broken copies of terraform/, each caught by the rule it breaks.
BROKEN: list[tuple[str, str, str, Check, str]] = [
    (
        "main.tf",
        "from_port         = 5000",
        "from_port         = 22",
        rules.inbound_port_problems,
        "ports 22-5000",
    ),
    (
        "main.tf",
        'ip_protocol       = "tcp"',
        'ip_protocol       = "-1"',
        rules.inbound_port_problems,
        "protocol '-1'",
    ),
    (
        "main.tf",
        'resource "aws_vpc_security_group_ingress_rule" "api" {',
        LEGACY_RULE_FOR_ALL + 'resource "aws_vpc_security_group_ingress_rule" "api" {',
        rules.inbound_port_problems,
        "legacy: use aws_vpc_security_group_ingress_rule",
    ),
    (
        "main.tf",
        'cidr_ipv4         = strcontains(each.value, ":") ? null : each.value',
        'cidr_ipv4         = "0.0.0.0/0"',
        rules.inbound_internet_problems,
        "inbound from 0.0.0.0/0",
    ),
    (
        "main.tf",
        'resource "aws_vpc_security_group_ingress_rule" "api" {',
        LEGACY_RULE_FOR_ALL + 'resource "aws_vpc_security_group_ingress_rule" "api" {',
        rules.inbound_internet_problems,
        "legacy: inbound from ::/0",
    ),
    (
        "main.tf",
        "for_each = toset(var.allowed_cidrs)",
        'for_each = toset(["198.51.100.0/24"])',
        rules.inbound_source_problems,
        "not taken from var.allowed_cidrs",
    ),
    (
        "main.tf",
        'cidr_ipv4         = strcontains(each.value, ":") ? null : each.value',
        'prefix_list_id    = "pl-0"',
        rules.inbound_source_problems,
        "source prefix_list_id",
    ),
    (
        "main.tf",
        'description       = "API on TCP 5000',
        'x       = "API on TCP 5000',
        rules.rule_description_problems,
        "ingress_rule.api: no description",
    ),
    (
        "main.tf",
        'description       = "HTTPS out',
        'x       = "HTTPS out',
        rules.rule_description_problems,
        "egress_rule.https: no description",
    ),
    (
        "main.tf",
        'ip_protocol       = "tcp"\n  from_port         = 443',
        'ip_protocol       = "-1"\n  from_port         = 443',
        rules.egress_protocol_problems,
        "every protocol",
    ),
    (
        "main.tf",
        'http_tokens                 = "required"',
        'http_tokens                 = "optional"',
        rules.imds_problems,
        "http_tokens",
    ),
    (
        "main.tf",
        "encrypted             = true",
        "encrypted             = false",
        rules.root_volume_encryption_problems,
        "not encrypted",
    ),
    (
        "main.tf",
        "delete_on_termination = true",
        "delete_on_termination = false",
        rules.root_volume_deletion_problems,
        "outlives the instance",
    ),
    (
        "providers.tf",
        "tags = local.tags",
        "tags = { Project = var.project }",
        rules.default_tag_problems,
        "lacks ManagedBy",
    ),
    (
        "main.tf",
        "    ManagedBy = var.managed_by\n",
        '    ManagedBy = "by hand"\n',
        rules.default_tag_problems,
        "ManagedBy is not taken from a variable",
    ),
    (
        "main.tf",
        'Name = "${local.name}-api-in"',
        'Purpose = "in"',
        rules.name_tag_problems,
        "ingress_rule.api: no Name tag",
    ),
    (
        "main.tf",
        'Name = "${local.name}-root"',
        'Purpose = "root"',
        rules.name_tag_problems,
        "root volume has no Name tag",
    ),
    (
        "main.tf",
        "resource_id = aws_instance.api.primary_network_interface_id",
        'resource_id = "eni-0"',
        rules.eni_tag_problems,
        "network interface not tagged",
    ),
    (
        "outputs.tf",
        'output "public_ip" {',
        'output "address" {',
        rules.required_output_problems,
        "output public_ip missing",
    ),
    (
        "outputs.tf",
        '  description = "Id of the EC2',
        '  # description = "Id of the EC2',
        rules.output_description_problems,
        "instance_id: no description",
    ),
    (
        "outputs.tf",
        "value       = aws_instance.api.id",
        "value       = var.api_key",
        rules.output_secret_problems,
        "reveals the API key",
    ),
    (
        "variables.tf",
        "  type        = number",
        "  # type        = number",
        rules.variable_declaration_problems,
        "ttl_minutes: no type",
    ),
    (
        "variables.tf",
        "  sensitive   = true",
        "  sensitive   = false",
        rules.sensitive_variable_problems,
        "api_key: not sensitive",
    ),
    (
        "variables.tf",
        'variable "region" {',
        'variable "zone" {',
        rules.ordering_problems,
        "variables are not in alphabetical order",
    ),
    (
        "outputs.tf",
        'output "public_ip" {',
        'output "zz_public_ip" {',
        rules.ordering_problems,
        "outputs are not in alphabetical order",
    ),
    (
        "main.tf",
        'instance_initiated_shutdown_behavior = "terminate"',
        'instance_initiated_shutdown_behavior = "stop"',
        rules.shutdown_behaviour_problems,
        "is not 'terminate'",
    ),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "check", "expected"),
    BROKEN,
    ids=[f"{case[3].__name__}-{n}" for n, case in enumerate(BROKEN)],
)
def test_a_broken_rule_is_reported(
    tmp_path: Path, file: str, old: str, new: str, check: Check, expected: str
) -> None:
    config = broken_copy(tmp_path, file, old, new)

    problems = check(config)

    assert any(expected in problem for problem in problems), problems


def test_a_new_resource_type_must_be_classified(tmp_path: Path) -> None:
    config = broken_copy(
        tmp_path,
        "main.tf",
        'resource "aws_ec2_tag"',
        'resource "aws_s3_bucket" "x" {}\n\nresource "aws_ec2_tag"',
    )

    assert any("unknown whether taggable" in p for p in rules.name_tag_problems(config))


def test_every_rule_is_checked_on_the_real_configuration_and_shown_to_fail() -> None:
    """A new rule must join the real configuration's check and a broken copy that fails it."""
    config_rules = {check.__name__ for check in CONFIG_RULES}
    on_user_data = {"dead_mans_switch_problems", "package_problems", "base_image_problems"}
    every_rule = {name for name in dir(rules) if name.endswith("_problems")}
    assert every_rule == config_rules | on_user_data
    # The rules on the user data fail in their own tests below and above.
    assert {case[3].__name__ for case in BROKEN} == config_rules


@pytest.mark.parametrize(
    "check",
    [
        rules.imds_problems,
        rules.root_volume_encryption_problems,
        rules.root_volume_deletion_problems,
        rules.eni_tag_problems,
        rules.shutdown_behaviour_problems,
    ],
)
def test_a_rule_about_the_instance_fails_when_there_is_no_instance(
    tmp_path: Path, check: Check
) -> None:
    config = broken_copy(
        tmp_path, "main.tf", 'resource "aws_instance" "api"', 'resource "aws_instance_x" "api"'
    )

    assert "no aws_instance" in check(config)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("#!/bin/bash\nset -e\ndnf install -y docker\nshutdown -h +120\n", "before arming"),
        ("#!/bin/bash\nset -e\ndnf install -y docker\n", "never arms"),
        ("#!/bin/bash\nset -e\necho hi\n", "never arms"),
        # A heredoc body is not a command: the switch is still armed after dnf here.
        ("#!/bin/bash\ncat <<'X'\nshutdown -h +1\nX\ndnf install -y docker\n", "before arming"),
    ],
)
def test_user_data_that_arms_the_switch_late_or_never_is_reported(
    script: str, expected: str
) -> None:
    problems = rules.dead_mans_switch_problems(script)

    assert any(expected in p for p in problems), problems


def test_the_normaliser_removes_python_hcl2_quotes_and_markers() -> None:
    raw = {
        '"aws_instance"': {
            '"api"': {
                "ami": '"ami-1"',
                "count": "${var.n}",
                "escaped": '"say \\"hi\\""',
                "nested": [{"a": '"b"', "__is_block__": True}],
                "__comments__": [{"value": "x"}],
                "__is_block__": True,
            }
        }
    }

    assert normalise(raw) == {
        "aws_instance": {
            "api": {
                "ami": "ami-1",
                "count": "${var.n}",
                "escaped": 'say "hi"',
                "nested": [{"a": "b"}],
            }
        }
    }
    assert unquote("plain") == "plain"
    assert unquote('"') == '"'
