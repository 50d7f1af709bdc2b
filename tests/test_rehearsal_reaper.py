"""A terminated instance's sandbox goes, whoever terminates it: the emulator's front tells
its reaper of each TerminateInstances it carried out (a real emulator, a real Docker engine;
the "sandbox" here is a plain sleeping container carrying the labels a sandbox carries)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest

from harness.docker import Docker, choose_base_image
from harness.labels import INSTANCE_LABEL, run_labels
from harness.rehearsal.emulator import Emulator

pytestmark = pytest.mark.slow  # an AWS emulator and Docker

REGION = "us-east-1"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def ec2(emulator: Emulator) -> Any:
    return boto3.client(
        "ec2",
        endpoint_url=emulator.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def stand_in_sandbox(docker: Docker, run_id: str, instance_id: str) -> str:
    """A container and engine volume labelled as the sandbox of ``instance_id`` is."""
    image = choose_base_image(docker)  # whichever base this machine builds on (.ci/run's)
    name = f"reaper-test-{run_id}-{instance_id}"
    labels = {**run_labels(run_id), INSTANCE_LABEL: instance_id}
    docker.create_volume(f"{name}-docker", labels)
    label_args = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
    docker.run("run", "--detach", "--name", name, *label_args, image, "sleep", "600")
    return name


def launch(ec2: Any) -> str:
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    instance: str = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]
    return instance


def test_terminating_an_instance_ends_its_sandbox_and_only_its(
    ec2: Any, docker_engine: Docker
) -> None:
    run_id = f"reaper-{uuid.uuid4().hex[:8]}"
    ended, kept = launch(ec2), launch(ec2)
    ended_sandbox = stand_in_sandbox(docker_engine, run_id, ended)
    kept_sandbox = stand_in_sandbox(docker_engine, run_id, kept)
    try:
        ec2.stop_instances(InstanceIds=[kept])  # not a termination: the sandbox stays
        ec2.terminate_instances(InstanceIds=[ended])

        labels = run_labels(run_id)
        assert docker_engine.containers(labels) == [kept_sandbox]
        assert docker_engine.volumes(labels) == [f"{kept_sandbox}-docker"]
    finally:
        for name in (ended_sandbox, kept_sandbox):
            docker_engine.remove_container(name, stop_timeout=0)
            docker_engine.remove_volume(f"{name}-docker")
