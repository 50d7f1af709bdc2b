"""Rules on the instance's user data (``terraform/user_data.sh``), read statically as a script.

Like :mod:`harness.rules.configuration`, each ``*_problems`` function checks the rule of one
step of ``infrastructure.feature`` and returns every problem it found.
"""

from __future__ import annotations

import re

from harness.hcl import TerraformConfig
from harness.rules.configuration import mentions

#: First-boot commands that can fail: the dead man's switch must be armed before any of them.
_FALLIBLE_COMMAND = re.compile(r"^(dnf|yum|docker|tar|base64|curl|pip|systemctl enable --now)\b")
_ARMING_COMMAND = re.compile(r"^(/usr/local/sbin/dead-mans-switch|shutdown -h|systemd-run)\b")


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
        if not mentions(config.locals().get("user_data"), "var.base_image"):
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
