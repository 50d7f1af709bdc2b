"""The sweep against moto's server behind the rehearsal's front: what it deletes, in which
order, what it leaves alone, how it rides out throttling, and its exit codes.

The front records every call (so the order of the deletes can be read back) and refuses the
calls a test asks it to (a test double of a throttling or refusing AWS). It also refuses
DeleteSecurityGroup while an interface uses the group, as AWS does: a sweep that deleted in
the wrong order would fail here as it would on AWS.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest

from harness.labels import PROJECT
from harness.rehearsal.emulator import Emulator
from harness.rehearsal.front import Call, Refusal
from harness.sweep import IAM_ACTIONS, Found, Sweeper, parse_duration
from harness.sweep_search import old_runs
from scripts.sweep import main

pytestmark = pytest.mark.slow  # an AWS emulator

REGION = "eu-west-1"
#: What the sweep deletes with, in the front's record.
DELETING = (
    "TerminateInstances",
    "ReleaseAddress",
    "DeleteNetworkInterface",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "DeleteSecurityGroup",
    "DeleteVolume",
)


@dataclass
class RefusingFront:
    """A test double of an AWS that refuses some calls: ``times`` refusals per action (then
    lets it through), as throttling or a policy would."""

    refusals: dict[str, tuple[Refusal, int]] = field(default_factory=dict)

    def __call__(self, call: Call) -> Refusal | None:
        refusal, times = self.refusals.get(call.action, (None, 0))
        if refusal is None or times == 0:
            return None
        self.refusals[call.action] = (refusal, times - 1)
        return refusal

    def throttle(self, action: str, times: int) -> None:
        self.refusals[action] = (
            Refusal(503, "RequestLimitExceeded", "Request limit exceeded. (rehearsed)"),
            times,
        )

    def refuse(self, action: str) -> None:
        self.refusals[action] = (
            Refusal(403, "UnauthorizedOperation", f"not authorized: {action} (rehearsed)"),
            -1,
        )


@pytest.fixture(scope="module")
def front() -> RefusingFront:
    return RefusingFront()


@pytest.fixture(scope="module")
def emulator(front: RefusingFront) -> Iterator[Emulator]:
    with Emulator(interceptor=front) as running:
        yield running


@pytest.fixture(autouse=True)
def aws_env(
    emulator: Emulator, front: RefusingFront, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """Dummy credentials and the emulator's endpoint, nothing of this machine's AWS setup."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    front.refusals.clear()
    yield emulator.url
    front.refusals.clear()


@pytest.fixture
def run_id() -> str:
    return f"sweep-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def ec2(aws_env: str) -> Any:
    return boto3.client("ec2", region_name=REGION)


def spec(resource_type: str, project: str, run_id: str) -> list[dict[str, Any]]:
    tags = [{"Key": "Project", "Value": project}, {"Key": "RunId", "Value": run_id}]
    return [{"ResourceType": resource_type, "Tags": tags}]


@dataclass
class Made:
    instance: str
    group: str
    rule: str
    volume: str
    interface: str
    address: str


def make_a_run(ec2: Any, run_id: str, project: str = PROJECT) -> Made:
    """What a cut-short apply and a hand leave: an instance in a group with a tagged rule, a
    detached volume, a detached interface in the group, an elastic address."""
    group = ec2.create_security_group(
        GroupName=f"sg-{uuid.uuid4().hex[:8]}",
        Description="sweep test",
        TagSpecifications=spec("security-group", project, run_id),
    )["GroupId"]
    rule = ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5000,
                "ToPort": 5000,
                "IpRanges": [{"CidrIp": "203.0.113.7/32"}],
            }
        ],
        TagSpecifications=spec("security-group-rule", project, run_id),
    )["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    ec2.authorize_security_group_egress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
        TagSpecifications=spec("security-group-rule", project, run_id),
    )
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        SecurityGroupIds=[group],
        TagSpecifications=spec("instance", project, run_id),
    )["Instances"][0]["InstanceId"]
    volume = ec2.create_volume(
        AvailabilityZone=f"{REGION}a", Size=1, TagSpecifications=spec("volume", project, run_id)
    )["VolumeId"]
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    interface = ec2.create_network_interface(
        SubnetId=subnet,
        Groups=[group],
        TagSpecifications=spec("network-interface", project, run_id),
    )["NetworkInterface"]["NetworkInterfaceId"]
    address = ec2.allocate_address(
        Domain="vpc", TagSpecifications=spec("elastic-ip", project, run_id)
    )["AllocationId"]
    ec2.associate_address(AllocationId=address, NetworkInterfaceId=interface)
    return Made(instance, group, rule, volume, interface, address)


def exists(ec2: Any, made: Made) -> dict[str, bool]:
    """Which of ``made`` EC2 still has (a terminated instance counts as gone)."""
    state = ec2.describe_instances(InstanceIds=[made.instance])["Reservations"][0]["Instances"][0]
    groups = ec2.describe_security_groups()["SecurityGroups"]
    rules = ec2.describe_security_group_rules()["SecurityGroupRules"]
    return {
        "instance": state["State"]["Name"] != "terminated",
        "group": any(group["GroupId"] == made.group for group in groups),
        "rule": any(rule["SecurityGroupRuleId"] == made.rule for rule in rules),
        "volume": any(v["VolumeId"] == made.volume for v in ec2.describe_volumes()["Volumes"]),
        "interface": any(
            i["NetworkInterfaceId"] == made.interface
            for i in ec2.describe_network_interfaces()["NetworkInterfaces"]
        ),
        "address": any(
            a.get("AllocationId") == made.address for a in ec2.describe_addresses()["Addresses"]
        ),
    }


def sweep(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main([*argv, "--region", REGION, "--teardown-timeout", "0"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def deletes(emulator: Emulator, since: int) -> list[str]:
    return [call.action for call in emulator.calls()[since:] if call.action in DELETING]


def test_an_orphan_run_is_swept_in_the_order_aws_requires(
    ec2: Any, emulator: Emulator, run_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    made = make_a_run(ec2, run_id)
    seen = len(emulator.calls())

    code, output = sweep(capsys, "--run-id", run_id)

    assert code == 0, output
    assert not any(exists(ec2, made).values()), exists(ec2, made)
    order = deletes(emulator, seen)
    rules = sorted(order[3:5])
    assert [*order[:3], *rules, *order[5:]] == [
        "TerminateInstances",
        "ReleaseAddress",
        "DeleteNetworkInterface",
        "RevokeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "DeleteSecurityGroup",
        "DeleteVolume",
    ], order
    # What it would delete, then what it deleted, then the check's verdict.
    assert output.index("will delete:") < output.index(f"deleted ec2:instance {made.instance}")
    for ident in (made.instance, made.group, made.rule, made.volume, made.interface):
        assert ident in output
    assert "nothing remains" in output
    # Exactly the actions the CI role's policy is told to allow, and only as the sweep's
    # caller (the front's own look at the emulator is not recorded).
    called = {call.iam_action for call in emulator.calls()[seen:]}
    assert called == IAM_ACTIONS, called ^ IAM_ACTIONS


def test_the_group_is_refused_while_the_instance_lives_as_on_aws(ec2: Any, run_id: str) -> None:
    """The front plays AWS's rule the sweep's order is for (moto alone would not refuse)."""
    made = make_a_run(ec2, run_id, project="someone-else")
    ec2.disassociate_address(
        PublicIp=ec2.describe_addresses(AllocationIds=[made.address])["Addresses"][0]["PublicIp"]
    )
    ec2.delete_network_interface(NetworkInterfaceId=made.interface)

    with pytest.raises(ec2.exceptions.ClientError, match="DependencyViolation"):
        ec2.delete_security_group(GroupId=made.group)
    ec2.terminate_instances(InstanceIds=[made.instance])
    ec2.delete_security_group(GroupId=made.group)


def test_another_projects_resources_with_the_same_run_id_are_left_alone(
    ec2: Any, emulator: Emulator, run_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = make_a_run(ec2, run_id)
    theirs = make_a_run(ec2, run_id, project="someone-else")

    code, output = sweep(capsys, "--run-id", run_id)

    assert code == 0, output
    assert not any(exists(ec2, ours).values())
    assert all(exists(ec2, theirs).values()), exists(ec2, theirs)
    for ident in (theirs.instance, theirs.group, theirs.volume, theirs.interface):
        assert ident not in output


def test_each_resource_is_checked_afresh_just_before_its_delete(
    ec2: Any, run_id: str, aws_env: str
) -> None:
    """Retagged between the search and the delete (by someone else, at that moment): left."""
    made = make_a_run(ec2, run_id)
    sweeper = Sweeper(region=REGION, progress=lambda line: None)
    found = sweeper.find_run(run_id)
    ec2.create_tags(Resources=[made.volume], Tags=[{"Key": "Project", "Value": "someone-else"}])

    outcome = sweeper.sweep(found)

    assert exists(ec2, made)["volume"]
    left = {item.id: why for item, why in outcome.left}
    assert "no longer carries Project=state-api" in left[made.volume]
    assert made.volume not in {item.id for item in outcome.deleted}
    assert {item.id for item in outcome.deleted} >= {
        made.instance,
        made.group,
        made.rule,
        made.interface,
        made.address,
    }


def test_a_dry_run_lists_and_deletes_nothing(
    ec2: Any, emulator: Emulator, run_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    made = make_a_run(ec2, run_id)
    seen = len(emulator.calls())

    code, output = sweep(capsys, "--run-id", run_id, "--dry-run")

    assert code == 1, output  # the check still finds them
    assert deletes(emulator, seen) == []
    assert all(exists(ec2, made).values())
    assert "would delete:" in output
    for ident in (made.instance, made.group, made.rule, made.volume, made.interface, made.address):
        assert ident in output
    main(["--run-id", run_id, "--region", REGION, "--teardown-timeout", "0"])


def test_throttling_is_retried_with_backoff(
    ec2: Any,
    emulator: Emulator,
    front: RefusingFront,
    run_id: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    made = make_a_run(ec2, run_id)
    front.throttle("TerminateInstances", 3)
    front.throttle("DeleteSecurityGroup", 2)
    seen = len(emulator.calls())

    code, output = sweep(capsys, "--run-id", run_id)

    assert code == 0, output
    assert not any(exists(ec2, made).values())
    actions = [call.action for call in emulator.calls()[seen:]]
    assert actions.count("TerminateInstances") == 4
    assert actions.count("DeleteSecurityGroup") == 3


def test_a_refused_delete_is_left_said_and_exits_1(
    ec2: Any, front: RefusingFront, run_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    made = make_a_run(ec2, run_id)
    front.refuse("DeleteVolume")

    code, output = sweep(capsys, "--run-id", run_id)

    assert code == 1, output
    assert f"left ec2:volume {made.volume}: AWS refused DeleteVolume: UnauthorizedOperation" in (
        output
    )
    assert made.volume in output.splitlines()[-2]  # the check's leftover line
    exists_now = exists(ec2, made)
    assert exists_now["volume"]
    assert not exists_now["instance"]  # the rest went on
    front.refusals.clear()
    assert sweep(capsys, "--run-id", run_id)[0] == 0


def test_a_clean_run_exits_0(capsys: pytest.CaptureFixture[str], run_id: str) -> None:
    code, output = sweep(capsys, "--run-id", run_id)

    assert code == 0
    assert "nothing to delete" in output


def test_no_credentials_exits_2(
    monkeypatch: pytest.MonkeyPatch, run_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    code, output = sweep(capsys, "--run-id", run_id)

    assert code == 2
    assert "no AWS credentials" in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    "argv",
    [
        ["--run-id", "bad id"],
        ["--run-id", "-starts-with-a-dash"],
        ["--run-id", "x" * 41],
        ["--older-than", "soon"],
        ["--older-than", "0h"],
        ["--run-id", "r", "--older-than", "3h"],
        [],
    ],
    ids=["space", "dash", "too-long", "not-an-age", "zero-age", "both", "neither"],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_the_janitor_sweeps_undated_runs_and_leaves_a_run_with_a_young_instance(
    ec2: Any, run_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    young = make_a_run(ec2, f"{run_id}-young")
    # What a destroy that lost its instance leaves: a group and its rule, nothing dated.
    leftover = make_a_run(ec2, f"{run_id}-old")
    ec2.terminate_instances(InstanceIds=[leftover.instance])
    ec2.release_address(AllocationId=leftover.address)
    ec2.delete_network_interface(NetworkInterfaceId=leftover.interface)
    ec2.delete_volume(VolumeId=leftover.volume)
    ec2.create_tags(
        Resources=[leftover.instance], Tags=[{"Key": "RunId", "Value": "forgotten"}]
    )  # as if AWS had long forgotten the terminated instance

    code, output = sweep(capsys, "--older-than", "1h")

    assert code == 0, output
    assert all(exists(ec2, young).values()), exists(ec2, young)
    now = exists(ec2, leftover)
    assert not now["group"]
    assert not now["rule"]
    for ident in (young.instance, young.group, young.volume):
        assert ident not in output
    main(["--run-id", f"{run_id}-young", "--region", REGION, "--teardown-timeout", "0"])


def test_a_run_is_dated_by_its_youngest_instance_or_volume() -> None:
    now = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    hours = [
        Found("ec2:instance", "i-old", "old", "running", now - timedelta(hours=5)),
        Found("ec2:security-group", "sg-old", "old", "exists"),
        Found("ec2:instance", "i-a", "mixed", "terminated", now - timedelta(hours=5)),
        Found("ec2:instance", "i-b", "mixed", "running", now - timedelta(minutes=10)),
        Found("ec2:security-group", "sg-mixed", "mixed", "exists"),
        Found("ec2:volume", "vol-1", "volume-only", "available", now - timedelta(hours=4)),
        Found("ec2:security-group", "sg-undated", "undated", "exists"),
    ]

    assert old_runs(hours, timedelta(hours=3), now) == {"old", "volume-only", "undated"}


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("150m", timedelta(minutes=150)),
        ("3h", timedelta(hours=3)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("90s", timedelta(seconds=90)),
    ],
)
def test_ages_are_read(text: str, age: timedelta) -> None:
    assert parse_duration(text) == age


@pytest.mark.parametrize("text", ["", "3", "h", "3x", "-3h", "3h 2m", "0m"])
def test_bad_ages_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|no age"):
        parse_duration(text)
