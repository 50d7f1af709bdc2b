"""Where a deployment's AWS is, and where its instance boots: real AWS, or the offline
rehearsal (an emulator for AWS, a sandbox container for the instance's first boot).

A :class:`~harness.deploy.TerraformRun` asks its cloud at each point where the two differ,
and nowhere else; everything else (Terraform, the configuration, the user data, the waits,
the destroy and the teardown check) is the same code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3  # type: ignore[import-untyped]
import requests

from harness.errors import TargetError
from harness.leftovers import Leftover

if TYPE_CHECKING:
    from harness.deploy import TerraformRun

Progress = Callable[[str], None]

#: Where the runner's public address is asked for when no CIDR is given (real AWS only).
PUBLIC_IP_URL = "https://checkip.amazonaws.com"


def detect_public_ip(url: str = PUBLIC_IP_URL, timeout: float = 10.0) -> str:
    """This machine's public IPv4 address, as the internet sees it."""
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise TargetError(
            f"could not detect this machine's public IP from {url} ({type(exc).__name__}): "
            "give the allowed CIDR yourself, e.g. --allowed-cidr=203.0.113.7/32"
        ) from None
    address = response.text.strip()
    parts = address.split(".")
    if len(parts) != 4 or not all(part.isdigit() and int(part) < 256 for part in parts):
        raise TargetError(f"{url} answered {address[:40]!r}, not an IPv4 address")
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

    @abstractmethod
    def runner_cidrs(self) -> list[str]:
        """Where the harness reaches the instance from, when no CIDR is given."""

    @abstractmethod
    def environment(self, base: Mapping[str, str], run: TerraformRun) -> dict[str, str]:
        """The environment Terraform runs in: ``base`` with this cloud's settings."""

    def before_init(self, run: TerraformRun) -> None:
        """Write what Terraform needs in the run's directory before ``init``."""
        return None  # nothing, unless a cloud says otherwise

    def after_apply(self, run: TerraformRun, progress: Progress) -> None:
        """What happens to a new instance once the apply has created it (AWS boots it)."""
        return None  # nothing, unless a cloud says otherwise

    @abstractmethod
    def base_url(self, run: TerraformRun) -> str:
        """Where the harness reaches the deployed API."""

    def boot_watch(self, run: TerraformRun) -> BootWatch | None:
        """How to see a failed first boot while waiting, where it can be seen."""
        return None

    def after_destroy(self, run: TerraformRun, progress: Progress) -> None:
        """What happens to an instance once the destroy has ended it."""
        return None  # nothing, unless a cloud says otherwise

    @abstractmethod
    def aws_session(self, region: str) -> tuple[Any, str | None]:
        """A boto3 session for the teardown check, and the endpoint to send it to."""

    def other_leftovers(self, run: TerraformRun) -> list[Leftover]:
        """What the run left outside AWS."""
        return []

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind}


class RealAws(Cloud):
    """AWS itself: credentials, region and endpoints from the environment, as for the CLI."""

    kind = "aws"

    def runner_cidrs(self) -> list[str]:
        return [f"{detect_public_ip()}/32"]

    def environment(self, base: Mapping[str, str], run: TerraformRun) -> dict[str, str]:
        env = dict(base)
        # One download of the provider for every run, linked into each run's directory.
        env.setdefault("TF_PLUGIN_CACHE_DIR", str(run.plugin_cache_dir()))
        return env

    def before_init(self, run: TerraformRun) -> None:
        run.plugin_cache_dir().mkdir(parents=True, exist_ok=True)

    def base_url(self, run: TerraformRun) -> str:
        return str(run.record.outputs["api_url"]).rstrip("/")

    def aws_session(self, region: str) -> tuple[Any, str | None]:
        return boto3.session.Session(region_name=region), None


def cloud_from_record(record: Mapping[str, Any]) -> Cloud:
    """The cloud a recorded run was deployed to."""
    kind = record.get("kind", RealAws.kind)
    if kind == RealAws.kind:
        return RealAws()
    from harness.rehearsal import Rehearsal  # the rehearsal needs Docker; AWS does not

    if kind == Rehearsal.kind:
        mirror = record.get("provider_mirror")
        return Rehearsal(
            str(record["emulator_url"]), provider_mirror=Path(mirror) if mirror else None
        )
    raise ValueError(f"unknown cloud {kind!r} in the run's record")
