"""The emulator's front: which AWS call a request is, what a refusal looks like, the one
correction of moto's answers, and the relaying itself, against a real HTTP server on
loopback that stands in for moto (a test double: it echoes what it receives)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from harness.rehearsal.front import Call, Front, Refusal, _fidelity, identify, refusal_body
from tests.live import serving

SIGNED = (
    "AWS4-HMAC-SHA256 Credential=rehearsal/20261127/eu-west-1/{service}/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0"
)


def test_a_query_protocol_call_is_named_by_its_action() -> None:
    call = identify(
        {"authorization": SIGNED.format(service="ec2")},
        b"Action=RunInstances&Version=2016-11-15&MinCount=1",
    )

    assert call == Call("ec2", "RunInstances", "eu-west-1", "rehearsal")
    assert call.iam_action == "ec2:RunInstances"


def test_a_json_protocol_call_is_named_by_its_target() -> None:
    ssm = identify(
        {"authorization": SIGNED.format(service="ssm"), "x-amz-target": "AmazonSSM.GetParameter"},
        b'{"Name": "/aws/service/x"}',
    )
    tagging = identify(
        {
            "authorization": SIGNED.format(service="tagging"),
            "x-amz-target": "ResourceGroupsTaggingAPI_20170126.GetResources",
        },
        b"{}",
    )

    assert ssm.iam_action == "ssm:GetParameter"
    # The tagging API signs as "tagging" but its IAM actions are "tag:...".
    assert tagging.iam_action == "tag:GetResources"


def test_an_unsigned_request_is_unknown_rather_than_guessed() -> None:
    assert identify({}, b"") == Call("unknown", "unknown", "")


def test_refusals_take_the_shape_of_each_protocol() -> None:
    refusal = Refusal(403, "UnauthorizedOperation", "not allowed")

    ec2_type, ec2_body = refusal_body(Call("ec2", "RunInstances", "r"), refusal)
    json_type, json_body = refusal_body(Call("ssm", "GetParameter", "r"), refusal)

    assert ec2_type == "text/xml"
    assert ET.fromstring(ec2_body).findtext("Errors/Error/Code") == "UnauthorizedOperation"
    assert json_type == "application/x-amz-json-1.1"
    assert json.loads(json_body) == {"__type": "UnauthorizedOperation", "message": "not allowed"}


NS = "http://ec2.amazonaws.com/doc/2016-11-15/"


def _instances(own_groups: str, interface_groups: str, device_index: str = "0") -> bytes:
    return (
        f'<DescribeInstancesResponse xmlns="{NS}"><reservationSet><item><instancesSet><item>'
        f"<instanceId>i-1</instanceId><groupSet>{own_groups}</groupSet>"
        "<networkInterfaceSet><item>"
        f"<attachment><deviceIndex>{device_index}</deviceIndex></attachment>"
        f"<groupSet>{interface_groups}</groupSet>"
        "</item></networkInterfaceSet></item></instancesSet></item></reservationSet>"
        "</DescribeInstancesResponse>"
    ).encode()


GROUP = "<item><groupId>sg-1</groupId><groupName>api</groupName></item>"
DESCRIBE = Call("ec2", "DescribeInstances", "eu-west-1", "rehearsal")


def _own_group_ids(body: bytes) -> list[str]:
    root = ET.fromstring(body)
    own = root.find(f".//{{{NS}}}instancesSet/{{{NS}}}item/{{{NS}}}groupSet")
    assert own is not None
    return [item.findtext(f"{{{NS}}}groupId") or "" for item in own]


def test_an_instance_without_groups_gets_its_primary_interfaces_groups() -> None:
    corrected = _fidelity(DESCRIBE, _instances("", GROUP))

    assert _own_group_ids(corrected) == ["sg-1"]
    assert ET.fromstring(corrected).tag == f"{{{NS}}}DescribeInstancesResponse"


@pytest.mark.parametrize(
    ("call", "body"),
    [
        (DESCRIBE, _instances(GROUP, GROUP)),  # AWS's own answer: nothing to correct
        (DESCRIBE, _instances("", GROUP, device_index="1")),  # not the primary interface
        (Call("ec2", "DescribeVolumes", "r"), _instances("", GROUP)),
        (Call("ssm", "DescribeInstances", "r"), _instances("", GROUP)),
        (DESCRIBE, b"not xml at all"),
    ],
)
def test_other_answers_pass_unchanged(call: Call, body: bytes) -> None:
    assert _fidelity(call, body) == body


class EchoDouble(BaseHTTPRequestHandler):
    """A test double of moto: answers 200 with what it received, as JSON."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer = json.dumps(
            {"path": self.path, "body": body.decode(), "target": self.headers.get("X-Amz-Target")}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def upstream() -> Iterator[str]:
    with serving(EchoDouble) as url:
        yield url


def test_the_front_relays_records_and_refuses(upstream: str) -> None:
    refused = {"DeleteSecurityGroup"}
    front = Front(
        upstream,
        interceptor=lambda call: (
            Refusal(403, "UnauthorizedOperation", "no") if call.action in refused else None
        ),
    ).start()
    try:
        headers = {"Authorization": SIGNED.format(service="ec2")}
        relayed = requests.post(
            f"{front.url}/some/path", data="Action=RunInstances", headers=headers, timeout=10
        )
        refusal = requests.post(
            front.url, data="Action=DeleteSecurityGroup", headers=headers, timeout=10
        )
    finally:
        front.stop()

    assert relayed.status_code == 200
    assert relayed.json() == {"path": "/some/path", "body": "Action=RunInstances", "target": None}
    assert refusal.status_code == 403
    assert b"<Code>UnauthorizedOperation</Code>" in refusal.content
    assert [call.iam_action for call in front.calls()] == [
        "ec2:RunInstances",
        "ec2:DeleteSecurityGroup",
    ]


@pytest.mark.parametrize("upstream_url", ["http://203.0.113.7:4566", "http://127.0.0.1"])
def test_the_front_forwards_only_to_a_loopback_port(upstream_url: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        Front(upstream_url)
