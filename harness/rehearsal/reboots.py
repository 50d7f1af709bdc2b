"""The rehearsal's answer to a reboot: when the emulator has accepted a RebootInstances, the
sandbox of each instance named restarts (:func:`harness.rehearsal.instances.reboot`).

EC2's RebootInstances only queues the reboot and answers at once; the instance goes down and
comes back afterwards. So does the rehearsal: the front calls :func:`react` once the emulator
has answered, and the sandboxes restart in a thread of their own while the caller goes on.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import parse_qs

from harness.docker import DockerError
from harness.rehearsal.front import Call
from harness.rehearsal.instances import reboot

logger = logging.getLogger(__name__)

ACTION = "RebootInstances"


def instance_ids(body: bytes) -> list[str]:
    """The instances a RebootInstances request names (``InstanceId.1=i-…&InstanceId.2=…``)."""
    form = parse_qs(body.decode("utf-8", errors="replace"))
    named = sorted(
        (key for key in form if key.startswith("InstanceId.")),
        key=lambda key: int(key.partition(".")[2]) if key.partition(".")[2].isdigit() else 0,
    )
    return [form[key][0] for key in named]


def react(call: Call, body: bytes) -> None:
    """Reboot the sandboxes of a RebootInstances the emulator accepted (nothing otherwise)."""
    if call.service != "ec2" or call.action != ACTION:
        return
    ids = instance_ids(body)
    if ids:
        threading.Thread(
            target=_reboot, args=(ids,), name=f"reboot-{'-'.join(ids)}", daemon=True
        ).start()


def _reboot(ids: list[str]) -> None:
    try:
        rebooted = reboot(ids)
    except DockerError as exc:
        logger.warning("rebooting %s failed: %s", ", ".join(ids), exc)
        return
    logger.info("rebooted %s: %s", ", ".join(ids), ", ".join(rebooted) or "no sandbox running")
