"""What every target offers: a deployment, started and always stopped, where the scenarios
reach it; maybe a restart, maybe an inventory of what it leaves behind."""

from __future__ import annotations

import secrets
import sys
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from harness import ci
from harness import timeline as phases
from harness.errors import TargetError
from harness.errors import TargetUnavailable as TargetUnavailable
from harness.leftovers import Leftover
from harness.timeline import Timeline

#: Stop and start the service over the same data, at the same endpoint.
RESTART = "restart"
#: Start a throw-away deployment of its own kind, tear it down, and list what it left.
TEARDOWN = "teardown"


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
    #: How long a reboot may take until the service answers again (None: the cloud's own).
    reboot_timeout: float | None = None
    teardown_timeout: float | None = None
    runs_dir: Path | None = None
    #: For the aws target: the instance's time to live in minutes (None: Terraform's default).
    ttl_minutes: int | None = None
    #: For the local target: the port to publish on 127.0.0.1 (None: a free one).
    host_port: int | None = None
    #: For the aws target: rehearse offline (an AWS emulator, the instance in a sandbox), with
    #: the emulator at ``emulator_url`` (None: one started for the session).
    rehearse: bool = False
    emulator_url: str | None = None
    #: Where a long start or stop reports progress (pytest's terminal, past its capture).
    progress: Callable[[str], None] | None = field(default=None, compare=False)
    #: Where a line for the CI runner goes (a workflow command, read on stdout only; under
    #: pytest, past its output capture). None: this process's stdout.
    ci_output: Callable[[str], None] | None = field(default=None, compare=False)


class StartFailed(TargetError):
    """A deployment did not start; what it made is removed already. The message says what
    failed (and what removing it left, if anything): shown as it is, without a traceback."""

    def __init__(self, message: str, *, unavailable: bool) -> None:
        super().__init__(message)
        #: The target cannot run here at all (no engine, no --base-url): a usage error.
        self.unavailable = unavailable


class StopFailed(TargetError):
    """A deployment could not be taken down entirely; the message says what remains."""


class Target(ABC):
    """One kind of deployment the scenarios run against.

    A target owns its deployment's lifecycle: :meth:`deployed` starts it, yields where it
    answers, and stops it however the block ends, with the stop armed before the start (as
    Terratest defers its destroy before the apply). Subclasses say how to start and stop.
    """

    name: ClassVar[str]
    #: What it can do beyond answering: RESTART, TEARDOWN. A scenario tagged with one it
    #: lacks is skipped, with the reason in ``lacks`` (or a generic one).
    capabilities: ClassVar[frozenset[str]] = frozenset()
    lacks: ClassVar[Mapping[str, str]] = {}

    def __init__(self, options: TargetOptions) -> None:
        self.options = options
        self._endpoint: Endpoint | None = None
        #: What the deployment went through, and when (the report draws it).
        self.timeline = Timeline()

    @classmethod
    def why_not(cls, capability: str) -> str | None:
        """Why this kind of target cannot do ``capability``, or None when it can."""
        if capability in cls.capabilities:
            return None
        return cls.lacks.get(capability, f"the {cls.name} target cannot {capability} the service")

    @property
    def endpoint(self) -> Endpoint:
        """Where the deployment answers, while it is deployed."""
        if self._endpoint is None:
            raise TargetError(f"the {self.name} deployment is not started")
        return self._endpoint

    @contextmanager
    def deployed(self) -> Iterator[Endpoint]:
        """The deployment, started for the block and stopped however the block ends.

        A start that fails stops what it got as far as making, then raises StartFailed; a
        stop that fails after the block raises StopFailed. An interrupt (Ctrl-C, SIGTERM)
        stops the deployment too, and goes on."""
        try:
            self._endpoint = self._start()
            # A key read back from a kept deployment (--reuse) exists only from here.
            self.mask(self._endpoint.api_key)
        except TargetError as exc:
            problem = self._stop_saying_why()
            raise StartFailed(
                f"{exc}{problem}", unavailable=isinstance(exc, TargetUnavailable)
            ) from None
        except BaseException:
            self._tell(self._stop_saying_why())
            raise
        try:
            with self.timeline.phase(phases.SCENARIOS):
                yield self._endpoint
        except BaseException:
            self._tell(self._stop_saying_why())
            raise
        problem = self._stop_saying_why()
        if problem:
            raise StopFailed(problem.strip())

    def _stop_saying_why(self) -> str:
        """Stop; what went wrong, as text to append to a message, or ""."""
        try:
            self._stop()
        except TargetError as exc:
            return f"\nstopping the {self.name} target failed: {exc}"
        finally:
            self._endpoint = None
        return ""

    def run_key(self) -> str:
        """The key of this run: the one given (``--api-key``), else a new one; masked in a
        CI job's log at once, before anything that could print it."""
        key = self.options.api_key or new_api_key()
        self.mask(key)
        return key

    def mask(self, key: str | None) -> None:
        """Hide ``key`` in a CI job's log from here on (see :func:`harness.ci.mask`)."""
        ci.mask(key, write=self.options.ci_output)

    def _tell(self, problem: str) -> None:
        if problem:
            (self.options.progress or print_progress)(problem.strip())

    @abstractmethod
    def _start(self) -> Endpoint:
        """Bring the deployment up and wait until it is healthy."""

    @abstractmethod
    def _stop(self) -> None:
        """Take down what _start() made, all of it even when _start() failed half-way
        (unless told to keep a deployment that started). Safe to call twice."""

    def restart(self) -> None:
        """Stop and start the service over the same data, at the same endpoint."""
        raise TargetUnavailable(f"the {self.name} target cannot restart the service")

    def leftovers(self) -> list[Leftover]:
        """What still carries this deployment's run id (where the target can tell)."""
        raise TargetUnavailable(f"the {self.name} target keeps no inventory of its own")

    def facts(self) -> dict[str, str]:
        """What a report says this deployment was, besides its URL (e.g. its run id)."""
        return {"run_id": self.options.run_id}
