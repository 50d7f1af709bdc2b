"""The teardown check against moto's server, an AWS emulator reached over real HTTP.

boto3 is pointed at it only through AWS_ENDPOINT_URL, as a user would do, which also shows
that the check honours that variable. Every test tags its resources with its own RunId, so
tests share one server without seeing each other's resources.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest

from harness.aws_inventory import Inventory, check
from harness.leftovers import Leftover
from harness.ports import free_port
from scripts.verify_teardown import main
from tests.live import serving

pytestmark = pytest.mark.slow  # an AWS emulator

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "verify_teardown.py"
REGION = "eu-west-1"
PROJECT = "teardown-test"


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Dummy credentials and the endpoint, and nothing from this machine's AWS setup."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    # Never let botocore look for instance credentials on a link-local address.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return moto_endpoint


@pytest.fixture
def run_id() -> str:
    return f"run-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def tags(run_id: str) -> dict[str, str]:
    return {"Project": PROJECT, "RunId": run_id}


@pytest.fixture
def ec2(aws_env: str) -> Any:
    return boto3.client("ec2", region_name=REGION)


def tag_args(tags: dict[str, str]) -> list[str]:
    return [arg for key, value in tags.items() for arg in ("--tag", f"{key}={value}")]


def tag_spec(resource_type: str, tags: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "ResourceType": resource_type,
            "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
        }
    ]


@functools.cache
def any_image(endpoint: str) -> str:
    """One of the images moto knows (listing them is slow: once per server)."""
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    image: str = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    return image


def launch_instance(ec2: Any, tags: dict[str, str]) -> str:
    answer = ec2.run_instances(
        ImageId=any_image(ec2.meta.endpoint_url),
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        TagSpecifications=tag_spec("instance", tags),
    )
    instance_id: str = answer["Instances"][0]["InstanceId"]
    return instance_id


def create_volume(ec2: Any, tags: dict[str, str]) -> str:
    answer = ec2.create_volume(
        AvailabilityZone=f"{REGION}a", Size=1, TagSpecifications=tag_spec("volume", tags)
    )
    volume_id: str = answer["VolumeId"]
    return volume_id


def create_security_group(ec2: Any, tags: dict[str, str]) -> str:
    answer = ec2.create_security_group(
        GroupName=f"sg-{uuid.uuid4().hex[:8]}",
        Description="teardown test",
        TagSpecifications=tag_spec("security-group", tags),
    )
    group_id: str = answer["GroupId"]
    return group_id


def create_ingress_rule(ec2: Any, tags: dict[str, str]) -> str:
    """A tagged rule (as Terraform's aws_vpc_security_group_ingress_rule makes) in a group
    that carries other tags, so that only the rule matches."""
    group_id = create_security_group(ec2, {"Project": "someone-else"})
    answer = ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5000,
                "ToPort": 5000,
                "IpRanges": [{"CidrIp": "203.0.113.7/32"}],
            }
        ],
        TagSpecifications=tag_spec("security-group-rule", tags),
    )
    rule_id: str = answer["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    return rule_id


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([*argv, "--region", REGION, "--timeout", "0"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_clean_account_exits_0(
    aws_env: str, tags: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(tag_args(tags), capsys)

    assert code == 0
    assert "nothing is tagged" in out


@pytest.mark.parametrize(
    ("make", "resource_type"),
    [
        (launch_instance, "ec2:instance"),
        (create_volume, "ec2:volume"),
        (create_security_group, "ec2:security-group"),
        (create_ingress_rule, "ec2:security-group-rule"),
    ],
)
def test_a_tagged_leftover_exits_1_naming_it(
    ec2: Any,
    tags: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    make: Any,
    resource_type: str,
) -> None:
    resource_id = make(ec2, tags)

    code, out, _ = run(tag_args(tags), capsys)

    assert code == 1
    lines = [line for line in out.splitlines() if resource_id in line]
    assert len(lines) == 1, out
    assert lines[0].startswith(resource_type + "\t")


def test_a_leftover_line_gives_the_arn_when_the_tagging_api_knows_it(
    ec2: Any, tags: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    instance_id = launch_instance(ec2, tags)

    code, out, _ = run(tag_args(tags), capsys)

    assert code == 1
    line = next(line for line in out.splitlines() if instance_id in line)
    kind, arn, state = line.split("\t")
    assert kind == "ec2:instance"
    assert arn.startswith("arn:aws:ec2:")
    assert arn.endswith(f"instance/{instance_id}")
    assert state == "running"


def test_a_terminated_instance_counts_as_gone(
    ec2: Any, tags: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    instance_id = launch_instance(ec2, tags)
    ec2.terminate_instances(InstanceIds=[instance_id])
    # Like AWS, the tagging API still lists it: the direct look-up must overrule it.
    tagging = boto3.client("resourcegroupstaggingapi", region_name=REGION)
    listed = tagging.get_resources(
        TagFilters=[{"Key": key, "Values": [value]} for key, value in tags.items()]
    )["ResourceTagMappingList"]
    assert any(instance_id in item["ResourceARN"] for item in listed)

    code, out, _ = run(tag_args(tags), capsys)

    assert code == 0, out
    assert instance_id not in out


def test_resources_with_other_tags_are_ignored(
    ec2: Any, tags: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    launch_instance(ec2, {**tags, "RunId": "another-run"})
    create_volume(ec2, {"Project": "another-project", "RunId": tags["RunId"]})
    create_security_group(ec2, {"Project": PROJECT})

    code, out, _ = run(tag_args(tags), capsys)

    assert code == 0, out


def test_every_tag_must_match(
    ec2: Any, tags: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    volume_id = create_volume(ec2, tags)

    assert run(tag_args({"RunId": tags["RunId"]}), capsys)[0] == 1
    assert run(tag_args({**tags, "ManagedBy": "someone-else"}), capsys)[0] == 0
    code, out, _ = run(tag_args(tags), capsys)
    assert code == 1
    assert volume_id in out


def test_json_output_parses(
    ec2: Any, tags: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    group_id = create_security_group(ec2, tags)

    code, out, _ = run([*tag_args(tags), "--json"], capsys)

    assert code == 1
    document = json.loads(out)
    assert document["status"] == "leftovers"
    assert document["tags"] == tags
    assert document["region"] == REGION
    assert [item["id"] for item in document["leftovers"]] == [group_id]
    assert document["leftovers"][0]["type"] == "ec2:security-group"


def test_json_output_of_a_clean_account(
    aws_env: str, tags: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run([*tag_args(tags), "--json"], capsys)

    assert code == 0
    assert json.loads(out)["status"] == "clean"
    assert json.loads(out)["leftovers"] == []


def test_pagination_finds_every_leftover(
    ec2: Any, tags: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    instances = {launch_instance(ec2, tags) for _ in range(12)}

    code, out, _ = run([*tag_args(tags), "--page-size", "5", "--json"], capsys)

    assert code == 1
    leftovers = json.loads(out)["leftovers"]
    assert sorted(item["id"] for item in leftovers) == sorted(instances)
    assert all(item["arn"] for item in leftovers), "an instance was missed in the tagging API"


def test_the_inventory_reads_every_page(ec2: Any, tags: dict[str, str]) -> None:
    # moto pages describe_instances and get_resources (not the other EC2 look-ups).
    instances = {launch_instance(ec2, tags) for _ in range(7)}
    session = boto3.session.Session(region_name=REGION)
    calls: dict[str, int] = {}

    def count(event_name: str, **_: Any) -> None:
        calls[event_name] = calls.get(event_name, 0) + 1

    session.events.register("after-call.*.*", count)
    inventory = Inventory(tags, REGION, page_size=2, session=session)

    arns = inventory.tagged_arns()
    found = {item.id for item in inventory.instances()}

    assert {arn.rsplit("/", 1)[-1] for arn in arns} == instances
    assert found == instances
    assert calls["after-call.resource-groups-tagging-api.GetResources"] == 4  # 2+2+2+1
    assert calls["after-call.ec2.DescribeInstances"] == 2  # EC2's smallest page is 5: 5+2


def test_no_credentials_exits_2(
    aws_env: str,
    tags: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    code, out, err = run(tag_args(tags), capsys)

    assert code == 2
    assert out == ""
    assert err.strip().count("\n") == 0
    assert "no AWS credentials" in err


def test_unreachable_endpoint_exits_2(
    aws_env: str,
    tags: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")

    code, out, err = run(tag_args(tags), capsys)

    assert code == 2
    assert out == ""
    assert "could not reach AWS" in err


@contextmanager
def _forbidding_server() -> Iterator[str]:
    """An HTTP server on loopback that refuses every request as IAM would, with a 403."""

    class Forbid(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = (
                b"<Response><Errors><Error><Code>UnauthorizedOperation</Code>"
                b"<Message>You are not authorized to perform this operation.</Message>"
                b"</Error></Errors><RequestID>forbidden</RequestID></Response>"
            )
            self.send_response(403)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Forbid) as url:
        yield url


def test_access_denied_exits_2(
    aws_env: str,
    tags: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # moto answers any credentials; a 403 from a plain server stands in for IAM's refusal.
    with _forbidding_server() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        code, out, err = run(tag_args(tags), capsys)

    assert code == 2
    assert out == ""
    assert "AWS refused" in err
    assert "UnauthorizedOperation" in err


def test_leftovers_are_waited_for_then_reported(ec2: Any, tags: dict[str, str]) -> None:
    volume_id = create_volume(ec2, tags)
    retries: list[list[Leftover]] = []

    leftovers = check(tags, REGION, timeout=1.5, on_retry=lambda found, _: retries.append(found))

    assert [item.id for item in leftovers] == [volume_id]
    assert retries, "the check gave up without retrying"


def test_a_leftover_that_goes_away_while_waiting_is_not_reported(
    ec2: Any, tags: dict[str, str]
) -> None:
    volume_id = create_volume(ec2, tags)

    def delete_on_first_retry(found: list[Leftover], _: float) -> None:
        ec2.delete_volume(VolumeId=volume_id)

    assert check(tags, REGION, timeout=10, on_retry=delete_on_first_retry) == []


def test_an_empty_tag_filter_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one tag"):
        Inventory({}, REGION)


def test_a_malformed_tag_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--tag", "no-equals-sign"])

    assert exited.value.code == 2
    assert "Key=Value" in capsys.readouterr().err


def test_the_script_runs_from_the_repository_root(aws_env: str, tags: dict[str, str]) -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), *tag_args(tags), "--region", REGION, "--timeout", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert "nothing is tagged" in completed.stdout


def test_a_failure_to_check_prints_one_line_and_no_traceback(
    aws_env: str, tags: dict[str, str]
) -> None:
    env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}

    completed = subprocess.run(
        [sys.executable, str(SCRIPT), *tag_args(tags), "--region", REGION, "--timeout", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert completed.stderr.strip().splitlines()[-1].startswith("verify_teardown: could not check")


def test_help_documents_the_exit_codes() -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0
    for text in ("--tag", "--region", "--json", "--timeout", "exit codes", "0 ", "1 ", "2 "):
        assert text in completed.stdout
