"""The CI role's policy, as the rehearsal enforces it: hand calls signed as the role (the
harness's key) against the emulator, on resources that "someone else in the account" made
with and without the project's tags. What AWS would refuse is refused, as AWS refuses it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from harness.labels import PROJECT
from harness.rehearsal import CREDENTIALS
from harness.rehearsal.emulator import Emulator
from tests.account_doubles import someone_else

pytestmark = pytest.mark.slow  # an AWS emulator

REGION = "eu-west-1"
OTHER_REGION = "us-west-2"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(role_regions=[REGION]) as running:
        yield running


def as_role(emulator: Emulator, service: str = "ec2", region: str = REGION) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=region,
    )
    return session.client(service, endpoint_url=emulator.url)


def tags(project: str | None) -> list[dict[str, str]]:
    run = [{"Key": "RunId", "Value": f"run-{uuid.uuid4().hex[:12]}"}]
    return run if project is None else [*run, {"Key": "Project", "Value": project}]


def specs(project: str | None, *types: str) -> list[dict[str, Any]]:
    return [{"ResourceType": t, "Tags": tags(project)} for t in types]


def with_owner(tagged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same tags plus one key the policy does not allow."""
    return [{**spec, "Tags": [*spec["Tags"], {"Key": "Owner", "Value": "x"}]} for spec in tagged]


def image(ec2: Any) -> str:
    found: str = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    return found


def instance_of(emulator: Emulator, project: str | None) -> str:
    ec2 = someone_else(emulator.url, REGION)
    answer = ec2.run_instances(
        ImageId=image(ec2),
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        TagSpecifications=specs(project, "instance", "volume"),
    )
    instance_id: str = answer["Instances"][0]["InstanceId"]
    return instance_id


def group_of(emulator: Emulator, project: str | None) -> str:
    answer = someone_else(emulator.url, REGION).create_security_group(
        GroupName=f"group-{uuid.uuid4().hex[:8]}",
        Description="made by someone else",
        TagSpecifications=specs(project, "security-group"),
    )
    group_id: str = answer["GroupId"]
    return group_id


def refused(error: pytest.ExceptionInfo[ClientError], code: str = "UnauthorizedOperation") -> None:
    assert error.value.response["Error"]["Code"] == code
    status = error.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert status == (403 if code == "UnauthorizedOperation" else 400)


@pytest.mark.parametrize("project", [None, "another-project"], ids=["untagged", "theirs"])
def test_the_role_cannot_terminate_an_instance_that_is_not_ours(
    emulator: Emulator, project: str | None
) -> None:
    theirs = instance_of(emulator, project)

    with pytest.raises(ClientError) as error:
        as_role(emulator).terminate_instances(InstanceIds=[theirs])

    refused(error)
    assert f"instance/{theirs}" in error.value.response["Error"]["Message"]
    state = someone_else(emulator.url, REGION).describe_instances(InstanceIds=[theirs])
    assert state["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"


def test_the_role_terminates_and_reboots_our_instance(emulator: Emulator) -> None:
    ours = instance_of(emulator, PROJECT)

    as_role(emulator).reboot_instances(InstanceIds=[ours])
    ended = as_role(emulator).terminate_instances(InstanceIds=[ours])

    assert ended["TerminatingInstances"][0]["InstanceId"] == ours


def test_one_instance_not_ours_refuses_the_whole_call(emulator: Emulator) -> None:
    ours, theirs = instance_of(emulator, PROJECT), instance_of(emulator, None)

    with pytest.raises(ClientError) as error:
        as_role(emulator).terminate_instances(InstanceIds=[ours, theirs])

    refused(error)
    answer = someone_else(emulator.url, REGION).describe_instances(InstanceIds=[ours])
    assert answer["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"


def test_the_role_deletes_only_our_security_groups(emulator: Emulator) -> None:
    theirs, ours = group_of(emulator, None), group_of(emulator, PROJECT)

    with pytest.raises(ClientError) as error:
        as_role(emulator).delete_security_group(GroupId=theirs)
    as_role(emulator).delete_security_group(GroupId=ours)

    refused(error)
    left = someone_else(emulator.url, REGION).describe_security_groups(GroupIds=[theirs])
    assert [group["GroupId"] for group in left["SecurityGroups"]] == [theirs]


def test_the_role_cannot_tag_someone_elses_resource_as_ours(emulator: Emulator) -> None:
    theirs = group_of(emulator, None)

    with pytest.raises(ClientError) as error:
        as_role(emulator).create_tags(
            Resources=[theirs], Tags=[{"Key": "Project", "Value": PROJECT}]
        )

    refused(error)


def launch(emulator: Emulator, region: str = REGION, **overrides: Any) -> dict[str, Any]:
    ec2 = as_role(emulator, region=region)
    arguments: dict[str, Any] = {
        "ImageId": image(someone_else(emulator.url, region)),
        "MinCount": 1,
        "MaxCount": 1,
        "InstanceType": "t3.micro",
        "TagSpecifications": specs(PROJECT, "instance", "volume"),
        **overrides,
    }
    answer: dict[str, Any] = ec2.run_instances(**arguments)
    return answer


def test_the_role_launches_a_tagged_instance_of_an_allowed_type(emulator: Emulator) -> None:
    launched = launch(emulator)

    instance = launched["Instances"][0]
    assert {"Key": "Project", "Value": PROJECT} in instance["Tags"]
    as_role(emulator).terminate_instances(InstanceIds=[instance["InstanceId"]])


@pytest.mark.parametrize(
    "overrides",
    [
        {"InstanceType": "m5.24xlarge"},
        {"TagSpecifications": specs(None, "instance", "volume")},
        {"TagSpecifications": specs(PROJECT, "instance")},  # the volume untagged
        {"TagSpecifications": specs("another-project", "instance", "volume")},
        {"TagSpecifications": with_owner(specs(PROJECT, "instance", "volume"))},
    ],
    ids=["type not allowed", "untagged", "volume untagged", "another project", "other tag key"],
)
def test_the_role_cannot_launch_what_the_policy_does_not_allow(
    emulator: Emulator, overrides: dict[str, Any]
) -> None:
    before = someone_else(emulator.url, REGION).describe_instances()["Reservations"]

    with pytest.raises(ClientError) as error:
        launch(emulator, **overrides)

    refused(error)
    after = someone_else(emulator.url, REGION).describe_instances()["Reservations"]
    assert len(after) == len(before)


@pytest.mark.parametrize("how", ["SecurityGroupIds", "NetworkInterfaces"])
def test_the_role_launches_only_into_our_security_group(emulator: Emulator, how: str) -> None:
    """Both ways a launch names its groups; the provider uses the interface's."""
    theirs, ours = group_of(emulator, None), group_of(emulator, PROJECT)

    def into(group: str) -> dict[str, Any]:
        if how == "SecurityGroupIds":
            return {"SecurityGroupIds": [group]}
        interface = {"DeviceIndex": 0, "Groups": [group], "AssociatePublicIpAddress": True}
        return {"NetworkInterfaces": [interface]}

    with pytest.raises(ClientError) as error:
        launch(emulator, **into(theirs))
    launched = launch(emulator, **into(ours))

    refused(error)
    assert f"security-group/{theirs}" in error.value.response["Error"]["Message"]
    as_role(emulator).terminate_instances(InstanceIds=[launched["Instances"][0]["InstanceId"]])


def test_the_role_is_refused_in_another_region(emulator: Emulator) -> None:
    with pytest.raises(ClientError) as described:
        as_role(emulator, region=OTHER_REGION).describe_instances()
    with pytest.raises(ClientError) as launched:
        launch(emulator, region=OTHER_REGION)

    refused(described)
    refused(launched)
    assert as_role(emulator).describe_instances()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_json_protocol_refusal_is_access_denied(emulator: Emulator) -> None:
    ssm = as_role(emulator, "ssm")
    allowed = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"

    with pytest.raises(ClientError) as error:
        ssm.get_parameter(Name="/aws/service/global-infrastructure/regions")
    found = ssm.get_parameter(Name=allowed)

    refused(error, "AccessDeniedException")
    assert found["Parameter"]["Name"] == allowed
