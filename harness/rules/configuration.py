"""Rules on the Terraform configuration (``terraform/*.tf``), read statically.

Each ``*_problems`` function checks one rule, the one a step of ``infrastructure.feature``
states, and returns the problems it found (empty when the rule holds), so that a step or a test
shows every way the rule is broken at once. ``terraform validate`` (scripts/lint.sh) checks
that the configuration is valid; these rules check that it is the deployment we promise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from harness.hcl import Block, TerraformConfig, is_expression
from harness.labels import MANAGED_BY_KEY, PROJECT_KEY, RUN_ID_KEY
from harness.ports import SERVICE_PORT

#: Tags every resource of a run carries: the teardown check finds a run's resources by Project
#: and RunId; ManagedBy says what made them (the harness, or a bare ``terraform apply``).
REQUIRED_TAGS = (MANAGED_BY_KEY, PROJECT_KEY, RUN_ID_KEY)
#: Resource types that take a ``tags`` argument, as used (or likely to be used) here.
TAGGABLE = frozenset(
    {
        "aws_ebs_volume",
        "aws_eip",
        "aws_instance",
        "aws_key_pair",
        "aws_network_interface",
        "aws_security_group",
        "aws_vpc_security_group_egress_rule",
        "aws_vpc_security_group_ingress_rule",
    }
)
#: Resource types with no tags of their own.
UNTAGGABLE = frozenset(
    {"aws_ec2_tag", "aws_eip_association", "aws_security_group_rule", "aws_volume_attachment"}
)
#: Outputs the harness reads after an apply.
REQUIRED_OUTPUTS = ("api_url", "instance_id", "public_ip", "security_group_id")
_WHOLE_INTERNET = ("0.0.0.0/0", "::/0")


def _first(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A nested block that occurs at most once (python-hcl2 gives a list), or ``{}``."""
    value = body.get(name)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return value if isinstance(value, dict) else {}


def mentions(value: Any, needle: str) -> bool:
    """Whether ``needle`` occurs anywhere in ``value`` (an expression, a block, a map...)."""
    return needle in json.dumps(value)


def _instances(config: TerraformConfig) -> tuple[list[Block], list[str]]:
    """The instances, and a problem when there is none: a rule about instances must not hold
    just because nothing is declared."""
    instances = config.resources("aws_instance")
    return instances, ([] if instances else ["no aws_instance"])


def _ingress_rules(config: TerraformConfig) -> list[Block]:
    return config.resources("aws_vpc_security_group_ingress_rule")


def _legacy_ingress_rules(config: TerraformConfig) -> list[Block]:
    return [
        block
        for block in config.resources("aws_security_group_rule")
        if block.body.get("type") == "ingress"
    ]


def _sources(rule: Block) -> dict[str, Any]:
    return {key: rule.body[key] for key in ("cidr_ipv4", "cidr_ipv6") if key in rule.body}


def inbound_port_problems(config: TerraformConfig) -> list[str]:
    """Inbound traffic is TCP on the API port only, declared as one rule resource each (the
    form the other inbound rules can read)."""
    problems: list[str] = []
    for group in config.resources("aws_security_group"):
        if group.body.get("ingress"):
            problems.append(f"{group.address}: inline ingress blocks; use rule resources")
    legacy = _legacy_ingress_rules(config)
    if not _ingress_rules(config) and not legacy:
        problems.append("no inbound rule at all: the API cannot be reached")
    for rule in legacy:
        problems.append(f"{rule.address}: use aws_vpc_security_group_ingress_rule")
    for rule in _ingress_rules(config):
        body = rule.body
        if body.get("ip_protocol") != "tcp":
            problems.append(f"{rule.address}: protocol {body.get('ip_protocol')!r}, not 'tcp'")
        if body.get("from_port") != SERVICE_PORT or body.get("to_port") != SERVICE_PORT:
            problems.append(
                f"{rule.address}: ports {body.get('from_port')}-{body.get('to_port')},"
                f" not {SERVICE_PORT} only"
            )
    return problems


def inbound_source_problems(config: TerraformConfig) -> list[str]:
    """Every inbound rule takes its addresses from ``var.allowed_cidrs``, and only from it."""
    problems: list[str] = []
    for rule in _ingress_rules(config):
        body = rule.body
        sources = _sources(rule)
        for key in ("prefix_list_id", "referenced_security_group_id"):
            if key in body:
                problems.append(f"{rule.address}: source {key}, not var.allowed_cidrs")
        from_variable = mentions(sources, "var.allowed_cidrs") or (
            mentions(body.get("for_each"), "var.allowed_cidrs") and mentions(sources, "each.")
        )
        if not sources or not from_variable:
            problems.append(f"{rule.address}: source is not taken from var.allowed_cidrs")
    return problems


def inbound_internet_problems(config: TerraformConfig) -> list[str]:
    """No inbound rule, in any of the forms Terraform offers, names the whole internet."""
    inbound: list[tuple[str, Any]] = [
        (rule.address, _sources(rule)) for rule in _ingress_rules(config)
    ]
    inbound += [(rule.address, rule.body) for rule in _legacy_ingress_rules(config)]
    inbound += [
        (group.address, group.body["ingress"])
        for group in config.resources("aws_security_group")
        if group.body.get("ingress")
    ]
    return [
        f"{address}: inbound from {cidr}"
        for address, value in inbound
        for cidr in _WHOLE_INTERNET
        if mentions(value, cidr)
    ]


def rule_description_problems(config: TerraformConfig) -> list[str]:
    """Every security group rule, inbound and outbound, says what it is for."""
    rules = [
        *_ingress_rules(config),
        *config.resources("aws_vpc_security_group_egress_rule"),
    ]
    return [f"{rule.address}: no description" for rule in rules if not rule.body.get("description")]


def egress_protocol_problems(config: TerraformConfig) -> list[str]:
    """No outbound rule allows every protocol on every port."""
    return [
        f"{rule.address}: every protocol and port allowed"
        for rule in config.resources("aws_vpc_security_group_egress_rule")
        if str(rule.body.get("ip_protocol")) in ("-1", "all")
    ]


def imds_problems(config: TerraformConfig) -> list[str]:
    """Every instance requires IMDSv2 session tokens."""
    instances, problems = _instances(config)
    for instance in instances:
        options = _first(instance.body, "metadata_options")
        if options.get("http_tokens") != "required":
            problems.append(f"{instance.address}: metadata_options.http_tokens is not 'required'")
    return problems


def root_volume_encryption_problems(config: TerraformConfig) -> list[str]:
    """Every instance's root volume is encrypted."""
    instances, problems = _instances(config)
    for instance in instances:
        if _first(instance.body, "root_block_device").get("encrypted") is not True:
            problems.append(f"{instance.address}: root volume not encrypted")
    return problems


def root_volume_deletion_problems(config: TerraformConfig) -> list[str]:
    """Every instance's root volume goes away with the instance (the provider's default)."""
    instances, problems = _instances(config)
    for instance in instances:
        if _first(instance.body, "root_block_device").get("delete_on_termination") is False:
            problems.append(f"{instance.address}: root volume outlives the instance")
    return problems


def _resolve_local(config: TerraformConfig, value: Any) -> Any:
    """``${local.tags}`` → the value of that local; anything else unchanged."""
    if is_expression(value):
        match = re.fullmatch(r"\$\{local\.(\w+)\}", value)
        if match:
            return config.locals().get(match.group(1), value)
    return value


def _carries_run_tags(config: TerraformConfig, tags: Any) -> bool:
    """Whether a tags value holds every required tag, literally or through ``local.tags``."""
    resolved = _resolve_local(config, tags)
    if isinstance(resolved, dict):
        return all(key in resolved for key in REQUIRED_TAGS)
    if mentions(tags, "local.tags"):
        return _carries_run_tags(config, "${local.tags}")
    return False


def default_tag_problems(config: TerraformConfig) -> list[str]:
    """The provider tags everything with Project, RunId and ManagedBy, from variables."""
    providers = config.providers("aws")
    if not providers:
        return ["no aws provider block"]
    problems: list[str] = []
    for provider in providers:
        tags = _resolve_local(config, _first(provider, "default_tags").get("tags"))
        if not isinstance(tags, dict):
            problems.append("provider aws: default_tags.tags is not a map of tags")
            continue
        for key in REQUIRED_TAGS:
            if key not in tags:
                problems.append(f"provider aws: default_tags lacks {key}")
            elif not mentions(tags[key], "var."):
                problems.append(f"provider aws: default tag {key} is not taken from a variable")
    return problems


def _has_name(config: TerraformConfig, tags: Any) -> bool:
    resolved = _resolve_local(config, tags)
    return (isinstance(resolved, dict) and "Name" in resolved) or mentions(resolved, "Name")


def name_tag_problems(config: TerraformConfig) -> list[str]:
    """Every taggable resource has a Name, the root volume included. (The root volume gets the
    run's tags from default_tags, at launch: see default_tag_problems.)"""
    problems: list[str] = []
    for block in config.resources():
        type_ = block.labels[0]
        if type_ in UNTAGGABLE:
            continue
        if type_ not in TAGGABLE:
            problems.append(f"{block.address}: unknown whether taggable; classify it")
            continue
        if not _has_name(config, block.body.get("tags")):
            problems.append(f"{block.address}: no Name tag")
    for instance in config.resources("aws_instance"):
        if not _has_name(config, _first(instance.body, "root_block_device").get("tags")):
            problems.append(f"{instance.address}: root volume has no Name tag")
    return problems


def eni_tag_problems(config: TerraformConfig) -> list[str]:
    """The primary network interface, which default_tags never reach, carries the run's tags
    explicitly (an ``aws_ec2_tag`` for each)."""
    instances, problems = _instances(config)
    for instance in instances:
        if not _eni_tagged(config, instance):
            problems.append(f"{instance.address}: primary network interface not tagged")
    return problems


def _eni_tagged(config: TerraformConfig, instance: Block) -> bool:
    reference = f"{instance.address}.primary_network_interface_id"
    return any(
        mentions(tag.body.get("resource_id"), reference)
        and _carries_run_tags(config, tag.body.get("for_each"))
        for tag in config.resources("aws_ec2_tag")
    )


def required_output_problems(config: TerraformConfig) -> list[str]:
    """The outputs the harness reads after an apply exist."""
    outputs = config.outputs()
    return [f"output {name} missing" for name in REQUIRED_OUTPUTS if name not in outputs]


def output_description_problems(config: TerraformConfig) -> list[str]:
    """Every output says what it is."""
    return [
        f"output {name}: no description"
        for name, body in config.outputs().items()
        if not body.get("description")
    ]


def output_secret_problems(config: TerraformConfig) -> list[str]:
    """No output reveals the API key."""
    return [
        f"output {name}: reveals the API key"
        for name, body in config.outputs().items()
        if mentions(body.get("value"), "var.api_key") or "api_key" in name
    ]


def variable_declaration_problems(config: TerraformConfig) -> list[str]:
    """Every variable has a type and a description."""
    problems: list[str] = []
    for name, body in config.variables().items():
        if not body.get("description"):
            problems.append(f"variable {name}: no description")
        if not body.get("type"):
            problems.append(f"variable {name}: no type")
    return problems


def sensitive_variable_problems(config: TerraformConfig) -> list[str]:
    """The API key variable exists and is sensitive, so no plan or apply prints it."""
    variable = config.variables().get("api_key")
    if variable is None:
        return ["no variable api_key"]
    return [] if variable.get("sensitive") is True else ["variable api_key: not sensitive"]


def ordering_problems(config: TerraformConfig) -> list[str]:
    """Variables and outputs are declared in alphabetical order (HashiCorp's style guide)."""
    problems: list[str] = []
    if list(config.variables()) != sorted(config.variables()):
        problems.append("variables are not in alphabetical order")
    if list(config.outputs()) != sorted(config.outputs()):
        problems.append("outputs are not in alphabetical order")
    return problems


def shutdown_behaviour_problems(config: TerraformConfig) -> list[str]:
    """Powering an instance off terminates it, so the dead man's switch leaves nothing."""
    instances, problems = _instances(config)
    for instance in instances:
        if instance.body.get("instance_initiated_shutdown_behavior") != "terminate":
            problems.append(
                f"{instance.address}: instance_initiated_shutdown_behavior is not 'terminate'"
            )
    return problems
