"""An HTTP front for the AWS emulator: it records every AWS call, answers as AWS would where
the emulator does not, and lets a test refuse a call.

Terraform's AWS provider, boto3 and the teardown check all reach the emulator through this
front (``AWS_ENDPOINT_URL`` points here), so that:

- every call is recorded as the IAM action it needs (``ec2:RunInstances``, ``tag:GetResources``),
  which is how the least-privilege policy of the CI role is checked;
- a call can be refused before it reaches the emulator (an :data:`Interceptor`, given by the
  tests that rehearse a fault half-way through an apply or a destroy), and is refused when
  the account's policy would refuse it (an :data:`Authorizer`: the CI role's policy);
- where moto answers differently from AWS in a way that changes what Terraform plans, the
  answer is corrected here, each correction named and explained (see :func:`_fidelity`);
- where moto allows what AWS refuses, the front refuses as AWS would (see
  :func:`group_in_use`);
- an observer is told of each call the emulator carried out (the rehearsal ends a
  terminated instance's sandbox that way).

It listens on 127.0.0.1 only and forwards to an emulator on 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import xml.etree.ElementTree as ET  # nosec B405 - parses the emulator's answers, not input
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3  # type: ignore[import-untyped]

from harness.ports import is_loopback
from harness.rehearsal.principals import FRONT_KEY

logger = logging.getLogger(__name__)

#: The signing name of a service (in the Authorization header) → its prefix in IAM actions.
IAM_PREFIX = {"tagging": "tag"}
#: Headers that belong to one hop of HTTP and are not forwarded.
HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}
)
_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Call:
    """One AWS API call as the front saw it, and who signed it (the access key id)."""

    service: str
    action: str
    region: str
    principal: str = ""

    @property
    def iam_action(self) -> str:
        """The IAM action this call needs, e.g. ``ec2:RunInstances``."""
        return f"{IAM_PREFIX.get(self.service, self.service)}:{self.action}"


@dataclass(frozen=True)
class Refusal:
    """An answer given instead of the emulator's: AWS's error shape for the protocol."""

    status: int
    code: str
    message: str


#: Decides, for each call, whether to refuse it (a Refusal) or let it through (None).
Interceptor = Callable[[Call], Refusal | None]
#: Told of each call the emulator answered with success, with the request's body (the
#: rehearsal's instances react to some: see harness/rehearsal/lifecycle.py).
Observer = Callable[[Call, bytes], None]
#: Instance states in which an instance's interface still holds its security groups.
HOLDING_STATES = ("pending", "running", "shutting-down", "stopping", "stopped")
#: The same, from the call and its body: what an account's policy decides (see
#: :mod:`harness.rehearsal.authorize`).
Authorizer = Callable[[Call, bytes], Refusal | None]


def identify(headers: dict[str, str], body: bytes) -> Call:
    """The service, action and region of a signed AWS request (query or JSON protocol)."""
    scope = _CREDENTIAL_SCOPE.search(headers.get("authorization", ""))
    principal, region, service = scope.groups() if scope else ("", "", "unknown")
    target = headers.get("x-amz-target", "")
    if target:
        action = target.rpartition(".")[2]
    else:
        form = parse_qs(body.decode("utf-8", errors="replace"))
        action = (form.get("Action") or ["unknown"])[0]
    return Call(service, action, region, principal)


def refusal_body(call: Call, refusal: Refusal) -> tuple[str, bytes]:
    """The content type and body AWS uses for an error of ``call``'s protocol."""
    if call.service == "ec2":
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{refusal.code}</Code><Message>{refusal.message}</Message>"
            "</Error></Errors><RequestID>rehearsal-refusal</RequestID></Response>"
        )
        return "text/xml", xml.encode()
    document = {"__type": refusal.code, "message": refusal.message}
    return "application/x-amz-json-1.1", json.dumps(document).encode()


def group_in_use(call: Call, body: bytes, upstream: tuple[str, int]) -> Refusal | None:
    """AWS refuses DeleteSecurityGroup with DependencyViolation while a network interface
    uses the group (an instance's, until the instance is terminated); moto deletes it.

    Played here so that a sweep or a destroy that deletes in the wrong order fails as it
    would on AWS. An interface counts while it is detached, or attached to an instance that
    is not terminated yet.
    """
    if call.service != "ec2" or call.action != "DeleteSecurityGroup":
        return None
    group = (parse_qs(body.decode("utf-8", errors="replace")).get("GroupId") or [""])[0]
    if not group:
        return None
    try:
        return _interface_holding(group, call.region, upstream)
    except Exception:  # the emulator's own answer will tell, as it did before this rule
        logger.warning("front: could not tell whether %s is in use", group, exc_info=True)
        return None


def _interface_holding(group: str, region: str, upstream: tuple[str, int]) -> Refusal | None:
    ec2 = boto3.client(
        "ec2",
        endpoint_url=f"http://{upstream[0]}:{upstream[1]}",
        region_name=region or "us-east-1",
        aws_access_key_id=FRONT_KEY,
        aws_secret_access_key=FRONT_KEY,
    )
    holding = {
        instance["InstanceId"]
        for reservation in ec2.describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": list(HOLDING_STATES)}]
        )["Reservations"]
        for instance in reservation["Instances"]
    }
    interfaces = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [group]}])[
        "NetworkInterfaces"
    ]
    for interface in interfaces:
        owner = interface.get("Attachment", {}).get("InstanceId")
        if owner is None or owner in holding:
            return Refusal(
                400,
                "DependencyViolation",
                f"resource {group} has a dependent object ({interface['NetworkInterfaceId']})",
            )
    return None


def _fidelity(call: Call, body: bytes) -> bytes:
    """Correct the emulator's answer where it differs from AWS in what Terraform reads.

    moto leaves an instance's own ``groupSet`` empty when it was launched with a network
    interface specification (as the provider does when ``associate_public_ip_address`` is
    set); AWS reports the primary interface's groups there. Without the correction every
    second plan would want to "add" the security group to the instance.
    """
    if call.service != "ec2" or call.action not in ("DescribeInstances", "RunInstances"):
        return body
    try:
        root = ET.fromstring(body)  # nosec B314 - the emulator's answer, on loopback
    except ET.ParseError:
        return body
    namespace = root.tag.partition("}")[0] + "}" if root.tag.startswith("{") else ""
    changed = False
    for instance in root.iter(f"{namespace}instancesSet"):
        for item in instance.findall(f"{namespace}item"):
            changed |= _copy_primary_interface_groups(item, namespace)
    if not changed:
        return body
    if namespace:
        ET.register_namespace("", namespace[1:-1])  # written back as the default, as AWS does
    corrected: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return corrected


def _copy_primary_interface_groups(instance: ET.Element, ns: str) -> bool:
    own = instance.find(f"{ns}groupSet")
    if own is None or len(own):
        return False
    for interface in instance.findall(f"{ns}networkInterfaceSet/{ns}item"):
        if interface.findtext(f"{ns}attachment/{ns}deviceIndex") != "0":
            continue
        groups = interface.find(f"{ns}groupSet")
        if groups is None or not len(groups):
            return False
        for group in groups:
            own.append(group)
        return True
    return False


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gives up on a call (Terraform cancelling on an interrupt) is normal
        # here: no traceback on the terminal.
        logger.debug("front: a client went away: %s", client_address, exc_info=True)


class Front:
    """The front, serving on a free 127.0.0.1 port in a thread of this process."""

    def __init__(
        self,
        upstream: str,
        *,
        interceptor: Interceptor | None = None,
        authorizer: Authorizer | None = None,
        log_path: Path | None = None,
        observer: Observer | None = None,
    ) -> None:
        parts = urlsplit(upstream)
        if not is_loopback(upstream) or parts.port is None:
            raise ValueError(f"the emulator must be on loopback with a port, not {upstream}")
        self.upstream = (str(parts.hostname), parts.port)  # a loopback name, checked above
        self.interceptor = interceptor
        self.observer = observer
        self.authorizer = authorizer
        self.log_path = log_path
        self._calls: list[Call] = []
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="emulator-front", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Front:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def calls(self) -> list[Call]:
        """Every call seen so far, in order."""
        with self._lock:
            return list(self._calls)

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)
            if self.log_path is not None:
                with self.log_path.open("a") as log:
                    log.write(json.dumps({**call.__dict__, "iam_action": call.iam_action}) + "\n")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # An answer goes out in two writes (head, then body): without TCP_NODELAY the
            # second waits for the client's delayed ACK of the first, 40 ms a call on Linux,
            # and a rehearsed apply or destroy makes hundreds of calls.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                logger.debug("front: " + format, *args)

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {key.lower(): value for key, value in self.headers.items()}
                call = identify(headers, body)
                front._record(call)
                refusal = front.interceptor(call) if front.interceptor else None
                if refusal is None and front.authorizer is not None:
                    refusal = front.authorizer(call, body)
                refusal = refusal or group_in_use(call, body, front.upstream)
                if refusal is not None:
                    content_type, answer = refusal_body(call, refusal)
                    self._answer(refusal.status, {"Content-Type": content_type}, answer)
                    return
                connection = http.client.HTTPConnection(*front.upstream, timeout=120)
                try:
                    forwarded = {k: v for k, v in headers.items() if k not in HOP_HEADERS}
                    forwarded["host"] = f"{front.upstream[0]}:{front.upstream[1]}"
                    connection.request(self.command, self.path, body=body, headers=forwarded)
                    response = connection.getresponse()
                    answer = response.read()
                    status = response.status
                    answer_headers = {
                        key: value
                        for key, value in response.getheaders()
                        if key.lower() not in HOP_HEADERS | {"content-length"}
                    }
                finally:
                    connection.close()
                if status == 200:
                    answer = _fidelity(call, answer)
                    if front.observer is not None:
                        front.observer(call, body)
                self._answer(status, answer_headers, answer)

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _relay

        return Handler
