"""What every target offers: start a deployment, reach it, maybe restart it, stop it."""

from __future__ import annotations

import secrets
import sys
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from harness.errors import TargetError

#: A target that can stop and start the service over the same data offers this.
RESTART = "restart"


def print_progress(line: str) -> None:
    """Where a target reports progress when it is given nowhere else."""
    print(line, file=sys.stderr, flush=True)


def new_run_id() -> str:
    """A short id, unique per run, carried by every resource the run creates."""
    return f"run-{uuid.uuid4().hex[:12]}"


def new_api_key() -> str:
    """A fresh random key for one deployment."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Endpoint:
    """Where a deployment answers, and the key its POST /update needs (None: auth is off)."""

    base_url: str
    api_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TargetOptions:
    """What the command line says about the target."""

    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    keep: bool = False
    reuse: bool = False
    run_id: str = field(default_factory=new_run_id)
    #: For the aws target: region, who may reach the API, how long a first boot may take,
    #: and where runs keep their Terraform state.
    region: str | None = None
    allowed_cidrs: tuple[str, ...] = ()
    health_timeout: float | None = None
    teardown_timeout: float | None = None
    runs_dir: Path | None = None
    #: For the aws target: rehearse offline (an AWS emulator, the instance in a sandbox), with
    #: the emulator at ``emulator_url`` (None: one started for the session).
    rehearse: bool = False
    emulator_url: str | None = None
    #: Where a long start or stop reports progress (pytest's terminal, past its capture).
    progress: Callable[[str], None] | None = field(default=None, compare=False)


class TargetUnavailable(TargetError):
    """The target cannot run on this machine; the message says what to do instead."""


class Target(ABC):
    """One kind of deployment the scenarios run against."""

    name: ClassVar[str]
    #: Capabilities such as RESTART; a scenario tagged with one is skipped elsewhere.
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: TargetOptions) -> None:
        self.options = options
        #: Set once start() has answered.
        self.endpoint: Endpoint | None = None

    @abstractmethod
    def start(self) -> Endpoint:
        """Bring the deployment up and wait until it is healthy."""

    @abstractmethod
    def stop(self) -> None:
        """Take down what start() created (unless told to keep it). Safe to call twice."""

    def restart(self) -> None:
        """Stop and start the service over the same data, at the same endpoint."""
        raise TargetUnavailable(f"the {self.name} target cannot restart the service")

    def facts(self) -> dict[str, str]:
        """What a report says this deployment was, besides its URL (e.g. its run id)."""
        return {"run_id": self.options.run_id}
