"""The rehearsal's instance: a sandbox that runs user data as a fresh Amazon Linux 2023 host
would, so that a user data which would fail there fails here too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tenacity import Retrying, stop_after_delay, wait_fixed

from harness.docker import Docker
from harness.labels import RUN_ID_KEY
from harness.rehearsal.instances import CALLS_PATH, InstanceHost, Sandbox
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


def boot(host: InstanceHost, image: str, name: str, script: str) -> tuple[Sandbox, int | None]:
    sandbox = host.boot(image, f"i-{name}", f"#!/bin/bash\nset -euo pipefail\n{script}".encode())
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
    sandbox, _ = boot(host, image, "poweroff", "shutdown -h now\n")

    for attempt in Retrying(stop=stop_after_delay(20), wait=wait_fixed(0.5), reraise=True):
        with attempt:
            assert host.find(sandbox.instance_id) is None
