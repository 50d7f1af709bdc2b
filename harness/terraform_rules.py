"""The rules the Terraform configuration keeps, checked statically from ``terraform/*.tf``.

Each ``*_problems`` function checks one rule, the one a step of ``infrastructure.feature``
states, and returns the problems it found (empty when the rule holds), so that a step or a test
shows every way the rule is broken at once. ``terraform validate`` (scripts/lint.sh) checks
that the configuration is valid; these rules check that it is the deployment we promise. The
variables' own validations run in Terraform itself, through :func:`check_variable_values`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import terraform
from harness.hcl import Block, TerraformConfig, is_expression

#: Tags every resource of a run carries (the teardown check looks for them).
REQUIRED_TAGS = ("ManagedBy", "Project", "RunId")
#: The only port the API listens on.
API_PORT = 5000
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
#: First-boot commands that can fail: the dead man's switch must be armed before any of them.
_FALLIBLE_COMMAND = re.compile(r"^(dnf|yum|docker|tar|base64|curl|pip|systemctl enable --now)\b")
_ARMING_COMMAND = re.compile(r"^(/usr/local/sbin/dead-mans-switch|shutdown -h|systemd-run)\b")


def _first(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A nested block that occurs at most once (python-hcl2 gives a list), or ``{}``."""
    value = body.get(name)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return value if isinstance(value, dict) else {}


def _mentions(value: Any, needle: str) -> bool:
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
        if body.get("from_port") != API_PORT or body.get("to_port") != API_PORT:
            problems.append(
                f"{rule.address}: ports {body.get('from_port')}-{body.get('to_port')},"
                f" not {API_PORT} only"
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
        from_variable = _mentions(sources, "var.allowed_cidrs") or (
            _mentions(body.get("for_each"), "var.allowed_cidrs") and _mentions(sources, "each.")
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
        if _mentions(value, cidr)
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
    if _mentions(tags, "local.tags"):
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
            elif not _mentions(tags[key], "var."):
                problems.append(f"provider aws: default tag {key} is not taken from a variable")
    return problems


def _has_name(config: TerraformConfig, tags: Any) -> bool:
    resolved = _resolve_local(config, tags)
    return (isinstance(resolved, dict) and "Name" in resolved) or _mentions(resolved, "Name")


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
        _mentions(tag.body.get("resource_id"), reference)
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
        if _mentions(body.get("value"), "var.api_key") or "api_key" in name
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


def dead_mans_switch_problems(user_data: str) -> list[str]:
    """The user data arms the dead man's switch before any command that can fail."""
    problems: list[str] = []
    for command in top_level_commands(user_data):
        if _ARMING_COMMAND.match(command):
            return problems
        if _FALLIBLE_COMMAND.match(command) and not problems:
            problems.append(f"user data runs {command!r} before arming the dead man's switch")
    problems.append("user data never arms the dead man's switch")
    return problems


#: What a fresh Amazon Linux 2023 host may lack: the package that brings each command.
PACKAGED_COMMANDS = {"docker": "docker", "tar": "tar", "gzip": "gzip", "gunzip": "gzip"}


def package_problems(user_data: str) -> list[str]:
    """The user data installs (with dnf) every package it uses before it first uses it:
    docker, and tar and gzip to unpack the application."""
    problems: list[str] = []
    installed: set[str] = set()
    for command in top_level_commands(user_data):
        if re.match(r"^dnf\s+install\b", command):
            installed.update(word for word in command.split()[2:] if not word.startswith("-"))
            continue
        for segment in re.split(r"\||&&|;|\$\(", command):
            words = segment.split()
            if not words:
                continue
            needed = {PACKAGED_COMMANDS[words[0]]} if words[0] in PACKAGED_COMMANDS else set()
            if words[0] == "tar" and any(re.fullmatch(r"-\w*z\w*", w) for w in words[1:]):
                needed.add("gzip")
            for package in sorted(needed - installed):
                problems.append(f"user data runs {words[0]!r} before installing {package}")
                installed.add(package)  # once per package
    return problems


def base_image_problems(config: TerraformConfig, user_data: str, dockerfile_base: str) -> list[str]:
    """The instance builds the image on ``var.base_image``, whose default is the Dockerfile's
    own base image as Amazon's public ECR mirror of Docker Hub's official images serves it."""
    problems: list[str] = []
    variable = config.variables().get("base_image")
    if variable is None:
        return ["no variable base_image"]
    library = dockerfile_base if "/" in dockerfile_base else f"docker/library/{dockerfile_base}"
    expected = f"public.ecr.aws/{library}"
    if variable.get("default") != expected:
        problems.append(
            f"variable base_image defaults to {variable.get('default')!r}, not {expected!r}"
        )
    if not re.search(r"docker build\b.*--build-arg 'BASE_IMAGE=\$\{base_image\}'", user_data):
        problems.append("user data does not build with --build-arg BASE_IMAGE=${base_image}")
    for instance in config.resources("aws_instance"):
        if not _mentions(config.locals().get("user_data"), "var.base_image"):
            problems.append(
                f"{instance.address}: the user data template is not given var.base_image"
            )
    return problems


def top_level_commands(script: str) -> list[str]:
    """The script's lines outside heredoc bodies, comments and blank lines, stripped."""
    commands: list[str] = []
    terminator: str | None = None
    for raw in script.splitlines():
        line = raw.strip()
        if terminator is not None:
            if line == terminator:
                terminator = None
            continue
        if not line or line.startswith("#"):
            continue
        commands.append(line)
        heredoc = re.search(r"<<-?\s*'?\"?(\w+)", line)
        if heredoc:
            terminator = heredoc.group(1)
    return commands


@dataclass(frozen=True)
class VariableCheck:
    """What Terraform said about a set of variable values."""

    accepted: bool
    message: str


def check_variable_values(
    variables_tf: Path, values: Mapping[str, Any], workdir: Path
) -> VariableCheck:
    """Run the variables' own ``validation`` blocks with Terraform itself, offline.

    ``variables.tf`` alone declares no provider, so ``terraform plan`` on a copy of it needs
    no ``init`` and no registry: it checks the values and plans nothing.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "variables.tf").write_text(variables_tf.read_text(encoding="utf-8"))
    (workdir / "check.auto.tfvars.json").write_text(json.dumps(dict(values)))
    completed = terraform.run(
        ("plan", "-input=false", "-lock=false"),
        cwd=workdir,
        env=terraform.quiet_cli_config(workdir),
        timeout=120,
    )
    errors = [line.strip("│╷╵ ") for line in completed.stderr.splitlines() if line.strip("│╷╵ ")]
    return VariableCheck(completed.returncode == 0, "\n".join(errors))


_RENDER_CONFIG = """\
variable "values" {
  type = any
}

output "rendered" {
  value = templatefile("${path.module}/template", var.values)
}

output "user_data_base64" {
  value = base64gzip(templatefile("${path.module}/template", var.values))
}
"""

#: EC2 refuses user data over this many bytes, counted before base64 (here: gzip'd bytes).
USER_DATA_LIMIT = 16384


@dataclass(frozen=True)
class RenderedTemplate:
    """A template as Terraform's templatefile() renders it, and as EC2 receives it: gzip'd
    by Terraform's base64gzip(), as main.tf sends it."""

    text: str
    user_data_base64: str

    @property
    def user_data_bytes(self) -> int:
        """The size EC2 holds against its limit: the gzip'd bytes, not their base64."""
        return len(base64.b64decode(self.user_data_base64))


def render_template(template: Path, values: Mapping[str, Any], workdir: Path) -> RenderedTemplate:
    """Render ``template`` with Terraform's own ``templatefile()``, offline (no provider)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "main.tf").write_text(_RENDER_CONFIG)
    (workdir / "template").write_text(template.read_text(encoding="utf-8"))
    (workdir / "render.auto.tfvars.json").write_text(json.dumps({"values": dict(values)}))
    env = terraform.quiet_cli_config(workdir)
    for args in (("apply", "-auto-approve", "-input=false", "-lock=false"), ("output", "-json")):
        completed = terraform.run(args, cwd=workdir, env=env, timeout=120)
        if completed.returncode != 0:
            raise RuntimeError(f"terraform {args[0]} failed: {completed.stderr.strip()}")
    outputs = json.loads(completed.stdout)
    return RenderedTemplate(outputs["rendered"]["value"], outputs["user_data_base64"]["value"])
