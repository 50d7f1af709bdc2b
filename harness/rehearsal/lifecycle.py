"""What happens to the rehearsal's instances when the emulator carries out a call on them, as
EC2's hosts do: the front tells :func:`react` of every call the emulator answered with
success, whoever made it (Terraform, the sweep, the aws target, a hand call).

- TerminateInstances: the sandbox of each instance ends, its disk with it.
- RebootInstances: the sandbox of each instance restarts. EC2 only queues the reboot and
  answers at once; the instance goes down and comes back afterwards. So does the rehearsal:
  the sandboxes restart in a thread of their own while the caller goes on.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import parse_qs

from harness.docker import Docker, DockerError
from harness.rehearsal.front import Call
from harness.rehearsal.instances import end_instances, reboot

logger = logging.getLogger(__name__)

TERMINATE = "TerminateInstances"
REBOOT = "RebootInstances"


def instance_ids(body: bytes) -> list[str]:
    """The instances a request names (``InstanceId.1=i-…&InstanceId.2=…``), in order."""
    form = parse_qs(body.decode("utf-8", errors="replace"))
    named = sorted(
        (key for key in form if key.startswith("InstanceId.")),
        key=lambda key: int(key.partition(".")[2]) if key.partition(".")[2].isdigit() else 0,
    )
    return [form[key][0] for key in named]


def react(call: Call, body: bytes) -> None:
    """The instances' answer to a call the emulator carried out (nothing for most calls)."""
    if call.service != "ec2" or call.action not in (TERMINATE, REBOOT):
        return
    ids = instance_ids(body)
    if not ids:
        return
    if call.action == TERMINATE:
        _terminate(ids)
    else:
        threading.Thread(
            target=_reboot, args=(ids,), name=f"reboot-{'-'.join(ids)}", daemon=True
        ).start()


def _terminate(ids: list[str]) -> None:
    try:
        for container in end_instances(ids, Docker()):
            logger.info("instance terminated: removed its sandbox %s", container)
    except DockerError as exc:  # no engine: nothing plays the instances, nothing to end
        logger.warning("could not end the sandboxes of %s: %s", ", ".join(ids), exc)


def _reboot(ids: list[str]) -> None:
    try:
        rebooted = reboot(ids)
    except DockerError as exc:
        logger.warning("rebooting %s failed: %s", ", ".join(ids), exc)
        return
    logger.info("rebooted %s: %s", ", ".join(ids), ", ".join(rebooted) or "no sandbox running")
