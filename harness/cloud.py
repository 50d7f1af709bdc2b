"""Where a deployment's AWS is, and where its instance boots: real AWS, or the offline
rehearsal (an emulator for AWS, a sandbox container for the instance's first boot).

A deployment (:mod:`harness.deploy`) and its teardown (:mod:`harness.teardown`) ask the run's
cloud at each point where the two differ, and nowhere else; everything else (Terraform, the
configuration, the user data, the waits, the destroy and the teardown check) is the same code.
Each hook takes the run's files and record (:class:`~harness.runs.RunFiles`), nothing more.
Which cloud a run uses is decided in one place, :mod:`harness.cloud_choice`.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3  # type: ignore[import-untyped]
import requests

from harness.errors import TargetError
from harness.leftovers import Leftover
from harness.readiness import wait_for_health
from harness.redact import safe_url
from harness.runs import Progress, RunFiles

#: Where the runner's public address is asked for when no CIDR is given (real AWS only).
PUBLIC_IP_URL = "https://checkip.amazonaws.com"
#: Seconds from RebootInstances until the service answers again, on AWS. A budget on paper,
#: not a measurement (no account here):
#: - going down: RebootInstances only queues the reboot; an instance that does not shut down
#:   cleanly within four minutes is hard-rebooted (EC2 API reference, RebootInstances: "within
#:   four minutes" in its older editions, "a few minutes" now): 240 s at worst, a few seconds
#:   when systemd stops docker.service (the engine gives the container 10 s);
#: - booting: a reboot keeps the instance on its host, so none of a launch's ~16 s from
#:   pending to running; Amazon Linux 2023's kernel and systemd to multi-user take tens of
#:   seconds on a t3 (a cold launch to SSH measures ~26 s in all, brevdev/ec2-coldboot-research):
#:   60 s;
#: - docker.service and the container (its image is on the disk already, nothing is built),
#:   then uvicorn: 30 s.
#: 240 + 60 + 30 = 330 s, rounded up to six minutes; a clean reboot should take about one.
REBOOT_TIMEOUT = 6 * 60.0
#: The most of the console output the report shows (EC2 keeps the last 64 KB).
CONSOLE_TAIL = 64 * 1024


def detect_public_ip(url: str = PUBLIC_IP_URL, timeout: float = 10.0) -> str:
    """This machine's public IPv4 address, as the internet sees it."""
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise TargetError(
            f"could not detect this machine's public IP from {safe_url(url)} "
            f"({type(exc).__name__}): "
            "give the allowed CIDR yourself, e.g. --allowed-cidr=203.0.113.7/32"
        ) from None
    address = response.text.strip()
    parts = address.split(".")
    if len(parts) != 4 or not all(part.isdigit() and int(part) < 256 for part in parts):
        raise TargetError(f"{safe_url(url)} answered {address[:40]!r}, not an IPv4 address")
    return address


@dataclass(frozen=True)
class BootWatch:
    """How to tell, while waiting for /health, that the boot has failed, and what to show."""

    failed: Callable[[], str | None]
    details: Callable[[], str]


class Cloud(ABC):
    """The points where a deployment to real AWS and its offline rehearsal differ."""

    #: The longest pause between two looks at a booting instance (its delivery, its /health).
    #: A real first boot takes minutes, and every look crosses the internet.
    boot_poll_max_wait: float = 20.0

    #: Recorded in run.json, so that a later command (destroy, --reuse) finds the same cloud.
    kind: str
    #: How long a reboot of the instance may take until the service answers again.
    reboot_timeout: float = REBOOT_TIMEOUT

    @abstractmethod
    def runner_cidrs(self) -> list[str]:
        """Where the harness reaches the instance from, when no CIDR is given."""

    @abstractmethod
    def environment(self, base: Mapping[str, str], run: RunFiles) -> dict[str, str]:
        """The environment Terraform runs in: ``base`` with this cloud's settings."""

    def before_init(self, run: RunFiles) -> None:
        """Write what Terraform needs in the run's directory before ``init``."""
        return None  # nothing, unless a cloud says otherwise

    def after_apply(self, run: RunFiles, progress: Progress) -> None:
        """What happens to a new instance once the apply has created it (AWS boots it)."""
        return None  # nothing, unless a cloud says otherwise

    @abstractmethod
    def base_url(self, run: RunFiles) -> str:
        """Where the harness reaches the deployed API."""

    def boot_watch(self, run: RunFiles) -> BootWatch | None:
        """How to see a failed first boot while waiting, where it can be seen."""
        return None

    def after_destroy(self, run: RunFiles, progress: Progress) -> None:
        """What happens to an instance once the destroy has ended it."""
        return None  # nothing, unless a cloud says otherwise

    @abstractmethod
    def aws_session(self, region: str) -> tuple[Any, str | None]:
        """A boto3 session for the teardown check, and the endpoint to send it to."""

    def other_leftovers(self, run: RunFiles) -> list[Leftover]:
        """What the run left outside AWS."""
        return []

    #: Where the teardown check looks besides AWS (shown with its verdict).
    other_places: tuple[str, ...] = ()

    def first_boot_log(self, run: RunFiles) -> tuple[str, str]:
        """The instance's first boot as it logged it: where it was read, and the text.

        On AWS, the console output (GetConsoleOutput, IAM action ec2:GetConsoleOutput): the
        kernel's and cloud-init's lines, the user data's own normally among them (it tees
        them to its stdout, which cloud-init passes on to the console, as well as to
        /var/log/user-data.log, which no API reads)."""
        instance_id = str(run.record.outputs["instance_id"])
        session, endpoint = self.aws_session(run.record.region)
        ec2 = session.client("ec2", endpoint_url=endpoint)
        answer = ec2.get_console_output(InstanceId=instance_id, Latest=True)
        text = base64.b64decode(answer.get("Output") or "").decode("utf-8", errors="replace")
        return f"console output of {instance_id} (ec2:GetConsoleOutput)", text[-CONSOLE_TAIL:]

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def close(self, run_id: str, progress: Progress) -> None:
        """End what this cloud started for the session (nothing, unless a cloud says so)."""
        return None


class RealAws(Cloud):
    """AWS itself: credentials, region and endpoints from the environment, as for the CLI."""

    kind = "aws"

    def runner_cidrs(self) -> list[str]:
        return [f"{detect_public_ip()}/32"]

    def environment(self, base: Mapping[str, str], run: RunFiles) -> dict[str, str]:
        env = dict(base)
        # One download of the provider for every run, linked into each run's directory.
        env.setdefault("TF_PLUGIN_CACHE_DIR", str(run.plugin_cache_dir()))
        return env

    def before_init(self, run: RunFiles) -> None:
        run.plugin_cache_dir().mkdir(parents=True, exist_ok=True)

    def base_url(self, run: RunFiles) -> str:
        return str(run.record.outputs["api_url"]).rstrip("/")

    def aws_session(self, region: str) -> tuple[Any, str | None]:
        return boto3.session.Session(region_name=region), None


def runner_cidrs(given: Sequence[str], cloud: Cloud) -> list[str]:
    """The CIDRs given, or the ones the cloud says the harness reaches the instance from."""
    return list(given) if given else cloud.runner_cidrs()


def wait_until_healthy(
    base_url: str,
    watch: BootWatch | None,
    *,
    timeout: float,
    max_wait: float,
    progress: Progress,
) -> str:
    """Wait until a new instance's API at ``base_url`` answers /health, giving up early when
    ``watch`` sees its boot fail (and showing what it saw); returns ``base_url``."""
    progress(f"waiting for {base_url}/health (a first boot installs Docker, builds the image)")
    wait_for_health(
        base_url,
        timeout=timeout,
        initial_wait=1.0,
        max_wait=max_wait,
        still_alive=(lambda: watch.failed() is None) if watch else None,
        context=(lambda: f"{watch.failed() or ''}\n{watch.details()}".strip()) if watch else None,
        progress=progress,
    )
    progress(f"healthy: {base_url}")
    return base_url
