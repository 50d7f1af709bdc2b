"""The rules the Terraform configuration keeps, checked statically from ``terraform/*.tf``.

Each check returns the list of problems it found, empty when the rule holds, so that a step
or a test can show every broken rule at once. Offline, nothing can run ``terraform validate``
(it needs the AWS provider from the registry); these rules and ``terraform fmt`` are what can
be checked here, plus the variables' own validations through :func:`check_variable_values`.
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


def inbound_problems(config: TerraformConfig) -> list[str]:
    """Inbound traffic: TCP 5000 only, only from ``var.allowed_cidrs``, never the internet."""
    problems: list[str] = []
    for group in config.resources("aws_security_group"):
        if group.body.get("ingress"):
            problems.append(f"{group.address}: inline ingress blocks; use rule resources")
    rules = config.resources("aws_vpc_security_group_ingress_rule")
    legacy = [
        block
        for block in config.resources("aws_security_group_rule")
        if block.body.get("type") == "ingress"
    ]
    if not rules and not legacy:
        problems.append("no inbound rule at all: the API cannot be reached")
    for rule in legacy:
        problems.append(f"{rule.address}: use aws_vpc_security_group_ingress_rule")
    for rule in rules:
        body = rule.body
        if body.get("ip_protocol") != "tcp":
            problems.append(f"{rule.address}: protocol {body.get('ip_protocol')!r}, not 'tcp'")
        if body.get("from_port") != API_PORT or body.get("to_port") != API_PORT:
            problems.append(
                f"{rule.address}: ports {body.get('from_port')}-{body.get('to_port')},"
                f" not {API_PORT} only"
            )
        sources = {key: body[key] for key in ("cidr_ipv4", "cidr_ipv6") if key in body}
        for key in ("prefix_list_id", "referenced_security_group_id"):
            if key in body:
                problems.append(f"{rule.address}: source {key}, not var.allowed_cidrs")
        from_variable = _mentions(sources, "var.allowed_cidrs") or (
            _mentions(body.get("for_each"), "var.allowed_cidrs") and _mentions(sources, "each.")
        )
        if not sources or not from_variable:
            problems.append(f"{rule.address}: source is not taken from var.allowed_cidrs")
        for cidr in _WHOLE_INTERNET:
            if _mentions(sources, cidr):
                problems.append(f"{rule.address}: inbound from {cidr}")
        if not body.get("description"):
            problems.append(f"{rule.address}: no description")
    return problems


def egress_problems(config: TerraformConfig) -> list[str]:
    """Outbound rules are described; none allows every protocol on every port."""
    problems: list[str] = []
    for rule in config.resources("aws_vpc_security_group_egress_rule"):
        if not rule.body.get("description"):
            problems.append(f"{rule.address}: no description")
        if str(rule.body.get("ip_protocol")) in ("-1", "all"):
            problems.append(f"{rule.address}: every protocol and port allowed")
    return problems


def imds_problems(config: TerraformConfig) -> list[str]:
    """Every instance requires IMDSv2 session tokens."""
    problems: list[str] = []
    for instance in config.resources("aws_instance"):
        options = _first(instance.body, "metadata_options")
        if options.get("http_tokens") != "required":
            problems.append(f"{instance.address}: metadata_options.http_tokens is not 'required'")
    return problems


def root_volume_problems(config: TerraformConfig) -> list[str]:
    """Every instance's root volume is encrypted and goes away with the instance."""
    problems: list[str] = []
    for instance in config.resources("aws_instance"):
        root = _first(instance.body, "root_block_device")
        if root.get("encrypted") is not True:
            problems.append(f"{instance.address}: root volume not encrypted")
        if root.get("delete_on_termination") is False:
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


def resource_tag_problems(config: TerraformConfig) -> list[str]:
    """Every taggable resource has a Name, the root volume included; the primary network
    interface, which default_tags never reach, carries the run's tags explicitly. (The root
    volume gets the run's tags from default_tags, at launch: see default_tag_problems.)"""
    problems: list[str] = []
    for block in config.resources():
        type_ = block.labels[0]
        if type_ in UNTAGGABLE:
            continue
        if type_ not in TAGGABLE:
            problems.append(f"{block.address}: unknown whether taggable; classify it")
            continue
        tags = _resolve_local(config, block.body.get("tags"))
        if not (isinstance(tags, dict) and "Name" in tags) and not _mentions(tags, "Name"):
            problems.append(f"{block.address}: no Name tag")
    for instance in config.resources("aws_instance"):
        root_tags = _first(instance.body, "root_block_device").get("tags")
        if not (isinstance(root_tags, dict) and "Name" in root_tags) and not _mentions(
            root_tags, "Name"
        ):
            problems.append(f"{instance.address}: root volume has no Name tag")
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


def output_problems(config: TerraformConfig) -> list[str]:
    """The outputs the harness reads exist and are described; none reveals the API key."""
    outputs = config.outputs()
    problems = [f"output {name} missing" for name in REQUIRED_OUTPUTS if name not in outputs]
    for name, body in outputs.items():
        if not body.get("description"):
            problems.append(f"output {name}: no description")
        if _mentions(body.get("value"), "var.api_key") or "api_key" in name:
            problems.append(f"output {name}: reveals the API key")
    return problems


def variable_problems(config: TerraformConfig) -> list[str]:
    """Every variable is typed and described; secrets are sensitive; order is alphabetical."""
    variables = config.variables()
    problems: list[str] = []
    for name, body in variables.items():
        if not body.get("description"):
            problems.append(f"variable {name}: no description")
        if not body.get("type"):
            problems.append(f"variable {name}: no type")
    if "api_key" in variables and variables["api_key"].get("sensitive") is not True:
        problems.append("variable api_key: not sensitive")
    if list(variables) != sorted(variables):
        problems.append("variables are not in alphabetical order")
    if list(config.outputs()) != sorted(config.outputs()):
        problems.append("outputs are not in alphabetical order")
    return problems


def dead_mans_switch_problems(config: TerraformConfig, user_data: str) -> list[str]:
    """Instances terminate on power-off, and the user data arms the switch before any
    command that can fail."""
    problems = [
        f"{instance.address}: instance_initiated_shutdown_behavior is not 'terminate'"
        for instance in config.resources("aws_instance")
        if instance.body.get("instance_initiated_shutdown_behavior") != "terminate"
    ]
    armed = False
    for command in top_level_commands(user_data):
        if _ARMING_COMMAND.match(command):
            armed = True
            break
        if _FALLIBLE_COMMAND.match(command):
            problems.append(f"user data runs {command!r} before arming the dead man's switch")
            break
    if not armed:
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
