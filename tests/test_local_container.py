"""The local target's container runs as it must in production: read-only, not as root."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.docker import Docker
from harness.targets.base import TargetOptions
from harness.targets.local import LocalTarget

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("docker_engine")]  # a real container


@pytest.fixture(scope="module")
def local() -> Iterator[LocalTarget]:
    target = LocalTarget(TargetOptions())
    with target.deployed():
        yield target


def test_the_root_filesystem_is_read_only_and_only_data_is_writable(local: LocalTarget) -> None:
    docker = Docker()
    assert docker.inspect(local.container)["HostConfig"]["ReadonlyRootfs"] is True
    write = "import sys; open(sys.argv[1], 'w').write('x')"
    refused = docker.run(
        "exec", local.container, "python3", "-c", write, "/srv/app/intruder", check=False
    )
    assert refused.returncode != 0
    assert "Read-only file system" in refused.stderr
    allowed = docker.run(
        "exec", local.container, "python3", "-c", write, "/data/probe", check=False
    )
    assert allowed.returncode == 0, allowed.stderr


def test_the_service_runs_as_a_non_root_user(local: LocalTarget) -> None:
    docker = Docker()
    uid = docker.run("exec", local.container, "python3", "-c", "import os; print(os.getuid())")
    assert int(uid.stdout) != 0
    assert docker.inspect(local.container)["Config"]["User"].split(":")[0] not in ("", "0", "root")
