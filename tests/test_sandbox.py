"""The rehearsal's instance: a sandbox that runs user data as a fresh Amazon Linux 2023 host
would, so that a user data which would fail there fails here too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tenacity import Retrying, stop_after_delay, wait_fixed

from harness.docker import Docker
from harness.labels import RUN_ID_KEY
from harness.ports import ephemeral_range
from harness.rehearsal.instances import CALLS_PATH, InstanceHost, Sandbox, reboot
from harness.targets.base import new_run_id

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("docker_engine")]  # sandbox containers


@pytest.fixture(scope="module")
def host() -> Iterator[InstanceHost]:
    instance_host = InstanceHost(new_run_id())
    yield instance_host
    instance_host.reap(alive=())
    assert Docker().leftovers({RUN_ID_KEY: instance_host.run_id}) == []


@pytest.fixture(scope="module")
def image(host: InstanceHost) -> str:
    return host.ensure_image(["public.ecr.aws/docker/library/python:3.11-slim"])


def start(host: InstanceHost, image: str, name: str, script: str) -> Sandbox:
    return host.boot(image, f"i-{name}", f"#!/bin/bash\nset -euo pipefail\n{script}".encode())


def boot(host: InstanceHost, image: str, name: str, script: str) -> tuple[Sandbox, int | None]:
    sandbox = start(host, image, name, script)
    return sandbox, host._wait_for_boot(sandbox.container, timeout=60)


def test_tar_and_gzip_are_there_only_once_dnf_installed_them(
    host: InstanceHost, image: str
) -> None:
    _, without = boot(host, image, "notar", "tar --version\n")
    _, with_them = boot(
        host, image, "tar", "dnf install -y tar gzip\necho x | gzip | gunzip\ntar --version\n"
    )

    assert without == 127  # command not found, as on a host that lacks it
    assert with_them == 0


def test_dnf_fails_for_a_package_the_host_does_not_hold(host: InstanceHost, image: str) -> None:
    sandbox, code = boot(host, image, "nopkg", "dnf install -y no-such-package\n")

    assert code == 1
    assert "Unable to find a match: no-such-package" in host.read(
        sandbox.container, "/var/log/cloud-init-output.log"
    )


def test_docker_starts_only_once_installed(host: InstanceHost, image: str) -> None:
    _, not_installed = boot(host, image, "nodocker", "systemctl enable --now docker\n")

    assert not_installed == 5  # systemd's "unit not found"


def test_every_stand_in_call_is_recorded_in_order(host: InstanceHost, image: str) -> None:
    sandbox, code = boot(
        host, image, "calls", "shutdown -h +90 'bye'\nsystemctl daemon-reload\ndnf install -y tar\n"
    )

    calls = [
        line.split(" ", 1)[1] for line in host.read(sandbox.container, CALLS_PATH).splitlines()
    ]
    assert code == 0
    assert calls == [
        "boot: user data starts",
        "shutdown -h +90 bye",
        "systemctl daemon-reload",
        "dnf install -y tar",
        "boot: user data exited 0",
    ]


def test_shutdown_now_ends_the_instance(host: InstanceHost, image: str) -> None:
    # Not waiting for the boot's end: an instance that powers off never reports one.
    sandbox = start(host, image, "poweroff", "shutdown -h now\n")

    for attempt in Retrying(stop=stop_after_delay(20), wait=wait_fixed(0.5), reraise=True):
        with attempt:
            assert host.find(sandbox.instance_id) is None
    # What is left of it (the stopped container, its engine's volume) goes with the instance.
    others = set(host.sandboxes(running_only=False)) - {sandbox.instance_id}
    assert host.reap(alive=others) == [sandbox.container]
    left = [leftover.id for leftover in Docker().leftovers({RUN_ID_KEY: host.run_id})]
    assert not [name for name in left if name.startswith(sandbox.container)], left


def test_a_sandbox_is_never_auto_removed(host: InstanceHost, image: str) -> None:
    """A restart of a --rm container may remove it on Docker 20.10 (moby#43751): a reboot
    would lose the instance and leave its engine's volume. Its port is below the ephemeral
    range, where no outgoing connection takes it while the sandbox reboots."""
    sandbox = start(host, image, "norm", "true\n")
    config = Docker().inspect(sandbox.container)["HostConfig"]

    assert config["AutoRemove"] is False
    assert int(sandbox.base_url.rsplit(":", 1)[1]) < ephemeral_range()[0]


def _calls(host: InstanceHost, sandbox: Sandbox) -> list[str]:
    return [line.split(" ", 1)[1] for line in host.read(sandbox.container, CALLS_PATH).splitlines()]


def _rebooted(host: InstanceHost, sandbox: Sandbox) -> list[str]:
    """Reboot the sandbox as EC2's RebootInstances does in the rehearsal; its calls after."""
    assert reboot([sandbox.instance_id]) == [sandbox.container]
    for attempt in Retrying(stop=stop_after_delay(60), wait=wait_fixed(0.5), reraise=True):
        with attempt:
            assert "boot: reboot done" in _calls(host, sandbox)
    return _calls(host, sandbox)


@pytest.mark.parametrize(
    ("starts", "comes_back"),
    [("systemctl enable --now docker", True), ("systemctl start docker", False)],
    ids=["enabled", "only-started"],
)
def test_a_reboot_runs_no_user_data_and_starts_only_what_was_enabled(
    host: InstanceHost, image: str, starts: str, comes_back: bool
) -> None:
    """A reboot keeps the instance's disk and address, runs the user data no second time,
    and brings the engine back only if the first boot enabled it, as on Amazon Linux."""
    name = "enabled" if comes_back else "started"
    sandbox, code = boot(
        host,
        image,
        f"reboot-{name}",
        f"dnf install -y docker\n{starts}\necho first-boot-only >> /var/lib/marks\n",
    )
    assert code == 0

    calls = _rebooted(host, sandbox)

    assert calls.count("boot: user data starts") == 1, calls
    reboot_at = calls.index("boot: reboot: the user data is not run again")
    assert calls[reboot_at - 1] == "boot: power off", calls
    assert ("docker engine answers" in calls[reboot_at:]) is comes_back, calls
    engine = Docker().run("exec", sandbox.container, "pgrep", "-x", "dockerd", check=False)
    assert (engine.returncode == 0) is comes_back
    assert host.read(sandbox.container, "/var/lib/marks") == "first-boot-only\n"
    assert host.find(sandbox.instance_id) == sandbox  # the same address after the reboot
