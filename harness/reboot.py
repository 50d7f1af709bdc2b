"""A reboot of a deployment's instance through EC2, and the wait until its service is back.

EC2's RebootInstances only queues the reboot: the service may still answer for a while
before it goes down. So the wait is for a service that started after the request (its
uptime says so), then for /health, within the budget the run's cloud gives
(:data:`harness.cloud.REBOOT_TIMEOUT` on AWS). The state and the log survive only because
the first boot enabled Docker at boot and gave the container a restart policy over a named
volume; the user data does not run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from harness.errors import TargetError
from harness.readiness import wait_for_health, wait_for_restart

if TYPE_CHECKING:
    from harness.deploy import TerraformRun


class RebootError(TargetError):
    """EC2 would not reboot the instance."""


def reboot(
    run: TerraformRun, base_url: str, progress: Callable[[str], None], *, timeout: float
) -> None:
    """Reboot the run's instance and wait up to ``timeout`` seconds until the service at
    ``base_url`` is back."""
    instance_id = str(run.record.outputs["instance_id"])
    session, endpoint = run.cloud.aws_session(run.record.region)
    ec2 = session.client("ec2", endpoint_url=endpoint)
    since = time.monotonic()
    try:
        ec2.reboot_instances(InstanceIds=[instance_id])
    except (ClientError, BotoCoreError) as exc:
        raise RebootError(f"EC2 did not reboot instance {instance_id}: {exc}") from None
    progress(f"rebooting instance {instance_id}; waiting up to {timeout:.0f}s for {base_url}")
    wait_for_restart(base_url, since=since, timeout=timeout, progress=progress)
    wait_for_health(base_url, timeout=max(1.0, timeout - (time.monotonic() - since)))
    progress(f"instance {instance_id} rebooted: {base_url} answers again")
