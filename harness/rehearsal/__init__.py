"""The cloud path rehearsed offline: real Terraform and the real AWS provider against an AWS
emulator, and each instance's first boot played by its own user data in a sandbox container.

What differs from real AWS is only where AWS is (the emulator, through ``AWS_ENDPOINT_URL``)
and where the instance boots (a sandbox on this machine, reached on 127.0.0.1). Terraform's
configuration is the production one, unchanged; the provider comes from a local mirror when
one is found (see :mod:`harness.provider`).
"""

from __future__ import annotations

import base64
import gzip
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3  # type: ignore[import-untyped]

from harness.cloud import BootWatch, Cloud
from harness.docker import Docker
from harness.errors import TargetError
from harness.hcl import load_directory
from harness.labels import RUN_ID_KEY
from harness.leftovers import Leftover
from harness.ports import is_loopback
from harness.provider import (
    MIRROR_ENV,
    find_mirror,
    mirror_cli_config,
    pinned_version,
    this_platform,
)
from harness.redact import safe_url
from harness.rehearsal.instances import USER_DATA_LOG, InstanceHost
from harness.rehearsal.principals import CREDENTIALS as CREDENTIALS
from harness.rehearsal.principals import INSTANCE_HOST_KEY_ID as INSTANCE_HOST_KEY_ID
from harness.runs import Progress, RunFiles

if TYPE_CHECKING:
    from harness.rehearsal.emulator import Emulator

logger = logging.getLogger(__name__)

#: Variables that could point Terraform at a real account, or elsewhere than the emulator.
SCRUBBED_PREFIXES = ("AWS_",)
SCRUBBED = frozenset({"TF_PLUGIN_CACHE_DIR"})
#: Any request not for loopback goes to this proxy, where nothing listens: it fails at once,
#: on this machine, instead of reaching the internet (the discard port, closed here).
DEAD_END_PROXY = "http://127.0.0.1:9"
#: States in which an instance is still there for its sandbox to play.
ALIVE_STATES = ("pending", "running", "stopping", "stopped")
CLI_CONFIG_FILE = "rehearsal.tfrc"
#: The harness reaches the sandboxes on loopback only: the security group's allowed CIDR.
RUNNER_CIDRS = ("127.0.0.1/32",)
#: Seconds a sandbox's reboot may take until the service answers again: a container restart
#: (the engine inside stops cleanly first), the engine's start, the container's and uvicorn's.
#: Measured here at 8 to 20 s with a load of 16 on 2 cores; the rest is headroom.
REHEARSAL_REBOOT_TIMEOUT = 90.0


class RehearsalError(TargetError):
    """The rehearsal cannot go on: what is missing, and what to do."""


def require_loopback(url: str, what: str) -> str:
    """``url`` when it is on 127.0.0.1 (or localhost); RehearsalError otherwise."""
    if not is_loopback(url):
        raise RehearsalError(
            f"{what} must be on 127.0.0.1, not {safe_url(url)}: the rehearsal sends nothing "
            "elsewhere"
        )
    return url.rstrip("/")


class Rehearsal(Cloud):
    """AWS as an emulator at ``emulator_url``, instances as sandboxes on this machine."""

    kind = "rehearsal"
    #: A sandbox boots in seconds and is looked at on loopback: a look a second costs nothing,
    #: where a pause doubling up to 20 s overshot the moment it became healthy by up to 20 s.
    boot_poll_max_wait = 1.0
    reboot_timeout = REHEARSAL_REBOOT_TIMEOUT
    other_places = (
        "Docker: containers, volumes and networks labelled with the run's id (the sandboxes "
        "that play its instances)",
    )

    def __init__(
        self,
        emulator_url: str,
        *,
        provider_mirror: Path | None = None,
        docker: Docker | None = None,
    ) -> None:
        self.emulator_url = require_loopback(emulator_url, "the AWS emulator")
        mirror = provider_mirror or find_mirror(pinned_version())
        if mirror is None:
            # Terraform's traffic off loopback goes to a dead end here, the registry's too.
            raise RehearsalError(
                f"no mirror of the AWS provider {pinned_version()} for {this_platform()} on this "
                f"machine: make one where the registry is reachable (terraform providers mirror "
                f"-platform={this_platform()} DIR, in terraform/), then set {MIRROR_ENV}=DIR"
            )
        self.provider_mirror: Path = mirror
        self.docker = docker or Docker()
        #: The emulator this cloud started for one command (None: one given by URL).
        self._own_emulator: Emulator | None = None

    @classmethod
    def with_own_emulator(cls, progress: Progress, *, region: str | None = None) -> Rehearsal:
        """A rehearsal on an emulator started now, which :meth:`close` ends; the CI role's
        policy it enforces allows ``region`` (the role's default regions when None)."""
        from harness.rehearsal.emulator import Emulator

        emulator = Emulator(role_regions=[region] if region else None).start()
        try:
            rehearsal = cls(emulator.url)
        except BaseException:
            emulator.stop()
            raise
        rehearsal._own_emulator = emulator
        progress(f"AWS emulator for this session at {emulator.url}")
        return rehearsal

    def close(self, run_id: str, progress: Progress) -> None:
        """The command's own emulator ends with it, and everything it emulated with it: the
        sandboxes of the run's instances go too, as a terminated instance would."""
        emulator, self._own_emulator = self._own_emulator, None
        if emulator is None:
            return
        for container in InstanceHost(run_id, self.docker).reap(alive=()):
            progress(f"the emulator ends: removed the sandbox {container}")
        emulator.stop()

    def runner_cidrs(self) -> list[str]:
        return list(RUNNER_CIDRS)

    def record(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "emulator_url": self.emulator_url,
            "provider_mirror": str(self.provider_mirror),
        }

    # -- Terraform ------------------------------------------------------------------------

    def environment(self, base: Mapping[str, str], run: RunFiles) -> dict[str, str]:
        env = {
            name: value
            for name, value in base.items()
            if not name.startswith(SCRUBBED_PREFIXES) and name not in SCRUBBED
        }
        env.update(CREDENTIALS)
        env.update(
            AWS_ENDPOINT_URL=self.emulator_url,
            AWS_REGION=run.record.region,
            AWS_DEFAULT_REGION=run.record.region,
            AWS_EC2_METADATA_DISABLED="true",
            HTTPS_PROXY=DEAD_END_PROXY,
            HTTP_PROXY=DEAD_END_PROXY,
            NO_PROXY="127.0.0.1,localhost",
        )
        for name in ("https_proxy", "http_proxy", "no_proxy", "all_proxy", "ALL_PROXY"):
            env.pop(name, None)
        env["TF_CLI_CONFIG_FILE"] = str(run.workdir / CLI_CONFIG_FILE)
        return env

    def before_init(self, run: RunFiles) -> None:
        (run.workdir / CLI_CONFIG_FILE).write_text(mirror_cli_config(self.provider_mirror))

    # -- the instance -----------------------------------------------------------------------

    def aws_session(self, region: str) -> tuple[Any, str | None]:
        session = boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=region,
        )
        return session, self.emulator_url

    def _ec2(self, run: RunFiles) -> Any:
        """EC2 as the rehearsal's instance host sees it (not the deployment's calls)."""
        session = boto3.session.Session(
            aws_access_key_id=INSTANCE_HOST_KEY_ID,
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=run.record.region,
        )
        return session.client("ec2", endpoint_url=self.emulator_url)

    def _instances(self, run: RunFiles) -> list[str]:
        """The run's instances the emulator has that are not terminated."""
        answer = self._ec2(run).describe_instances(
            Filters=[
                {"Name": f"tag:{RUN_ID_KEY}", "Values": [run.record.run_id]},
                {"Name": "instance-state-name", "Values": list(ALIVE_STATES)},
            ]
        )
        return [
            instance["InstanceId"]
            for reservation in answer.get("Reservations", [])
            for instance in reservation.get("Instances", [])
        ]

    def user_data(self, run: RunFiles, instance_id: str) -> bytes:
        """The instance's user data as cloud-init receives it: decoded, and unzipped."""
        answer = self._ec2(run).describe_instance_attribute(
            InstanceId=instance_id, Attribute="userData"
        )
        raw = base64.b64decode(answer.get("UserData", {}).get("Value", ""))
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw

    def host(self, run: RunFiles) -> InstanceHost:
        return InstanceHost(run.record.run_id, self.docker)

    def after_apply(self, run: RunFiles, progress: Progress) -> None:
        host = self.host(run)
        booting = [i for i in self._instances(run) if host.find(i) is None]
        if not booting:
            return
        variables = load_directory(run.tf_dir).variables()
        base_image = str(variables["base_image"]["default"])
        image = host.ensure_image([base_image], progress=progress)
        cache = host.build_cache(image, progress=progress)
        for instance_id in booting:
            user_data = self.user_data(run, instance_id)
            sandbox = host.boot(image, instance_id, user_data, cache)
            progress(
                f"instance {instance_id}: first boot of its user data ({len(user_data)} bytes) "
                f"in sandbox {sandbox.container}, API port on {sandbox.base_url}"
            )

    def base_url(self, run: RunFiles) -> str:
        instance_id = str(run.record.outputs["instance_id"])
        sandbox = self.host(run).find(instance_id)
        if sandbox is None:
            raise RehearsalError(
                f"no sandbox plays instance {instance_id} (was it ended, or never booted?)"
            )
        return require_loopback(sandbox.base_url, "the instance's API")

    def boot_watch(self, run: RunFiles) -> BootWatch:
        host = self.host(run)
        instance_id = str(run.record.outputs["instance_id"])

        def container() -> str | None:
            sandbox = host.find(instance_id)
            return sandbox.container if sandbox else None

        def failed() -> str | None:
            name = container()
            if name is None:
                return f"the sandbox of instance {instance_id} is gone"
            code = host.boot_exit(name)
            if code:
                return (
                    f"the first boot of instance {instance_id} failed: its user data exited {code}"
                )
            return None

        def details() -> str:
            name = container()
            if name is None:
                return ""
            tail = host.read(name, USER_DATA_LOG, tail=30).rstrip()
            return f"last lines of {USER_DATA_LOG} on instance {instance_id}:\n{tail}"

        return BootWatch(failed, details)

    def after_destroy(self, run: RunFiles, progress: Progress) -> None:
        for container in self.host(run).reap(self._instances(run)):
            progress(f"instance ended: removed its sandbox {container}")

    def other_leftovers(self, run: RunFiles) -> list[Leftover]:
        return self.docker.leftovers({RUN_ID_KEY: run.record.run_id})

    def first_boot_log(self, run: RunFiles) -> tuple[str, str]:
        """The sandbox's /var/log/user-data.log (the emulator has no console output)."""
        instance_id = str(run.record.outputs["instance_id"])
        sandbox = self.host(run).find(instance_id)
        if sandbox is None:
            return f"{USER_DATA_LOG} of {instance_id}", "(no sandbox plays the instance now)"
        text = self.host(run).read(sandbox.container, USER_DATA_LOG)
        return f"{USER_DATA_LOG} of {instance_id} (read from its sandbox)", text
