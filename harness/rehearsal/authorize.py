"""The CI role's policy, enforced at the emulator's front on every call the harness signs.

For each call signed with the deployment's key
(:data:`harness.rehearsal.principals.CREDENTIALS`, the key that stands for the role),
:class:`RoleEnforcer` works out what AWS would authorize —
the action on each resource the call touches (by ARN), with the request's tags
(``TagSpecification.N`` / ``Tag.N``), the resource's current tags (asked of the emulator
directly, as another principal), the region, the instance type, and the implicit
``ec2:CreateTags`` (with ``ec2:CreateAction``) of a call that tags what it creates — and
evaluates the role's policy (:mod:`harness.ci_role`, the document Terraform attaches) with
:mod:`harness.rehearsal.iam`. A refused call is answered as AWS answers it:
``UnauthorizedOperation`` (HTTP 403, EC2's XML), ``AccessDeniedException`` for JSON protocols.

Calls signed with any other key (the rehearsal's own look at its instances, a test's "someone
else in the account") are not the role's and pass unchecked.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

import boto3  # type: ignore[import-untyped]

from harness.rehearsal.front import Call, Refusal
from harness.rehearsal.iam import Outcome, Request, evaluate, evaluate_all
from harness.rehearsal.principals import FRONT_KEY

logger = logging.getLogger(__name__)

#: Actions every principal may call whatever its policies say (AWS documents that
#: GetCallerIdentity needs no permission).
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})
#: The account moto answers as (its default).
ACCOUNT = "123456789012"
#: An EC2 id's prefix → its resource type in ARNs.
RESOURCE_TYPES = {
    "i": "instance",
    "vol": "volume",
    "sg": "security-group",
    "sgr": "security-group-rule",
    "eni": "network-interface",
    "eipalloc": "elastic-ip",
    "ami": "image",
    "subnet": "subnet",
    "vpc": "vpc",
}
#: The resource type each action names by parameter (``None``: by the id's prefix).
_BY_PARAMETER: dict[str, tuple[str, str | None]] = {
    "TerminateInstances": ("InstanceId", "instance"),
    "RebootInstances": ("InstanceId", "instance"),
    "DescribeInstanceAttribute": ("InstanceId", "instance"),
    "ModifyInstanceAttribute": ("InstanceId", "instance"),
    "DeleteSecurityGroup": ("GroupId", "security-group"),
    "RevokeSecurityGroupIngress": ("GroupId", "security-group"),
    "RevokeSecurityGroupEgress": ("GroupId", "security-group"),
    "AuthorizeSecurityGroupIngress": ("GroupId", "security-group"),
    "AuthorizeSecurityGroupEgress": ("GroupId", "security-group"),
    "DeleteVolume": ("VolumeId", "volume"),
    "DeleteNetworkInterface": ("NetworkInterfaceId", "network-interface"),
    "ReleaseAddress": ("AllocationId", "elastic-ip"),
    "CreateTags": ("ResourceId", None),
    "DeleteTags": ("ResourceId", None),
}
#: What a call that creates something, tagged with TagSpecifications, creates.
_CREATES = {
    "RunInstances": ("instance", "volume", "network-interface"),
    "CreateSecurityGroup": ("security-group",),
    "AuthorizeSecurityGroupIngress": ("security-group-rule",),
    "AuthorizeSecurityGroupEgress": ("security-group-rule",),
}
#: EC2's default when RunInstances names no type, which AWS authorizes as ec2:InstanceType.
DEFAULT_INSTANCE_TYPE = "m1.small"


def arn(region: str, resource_type: str, resource_id: str) -> str:
    account = "" if resource_type == "image" else ACCOUNT
    return f"arn:aws:ec2:{region}:{account}:{resource_type}/{resource_id}"


def resource_type_of(resource_id: str) -> str:
    prefix = resource_id.rpartition("-")[0]
    return RESOURCE_TYPES.get(prefix, "unknown")


def _numbered(form: Mapping[str, list[str]], name: str) -> list[str]:
    """``Name.1``, ``Name.2``… (or a lone ``Name``) in the order given."""
    found = {
        int(key.rpartition(".")[2]): values[0]
        for key, values in form.items()
        if re.fullmatch(rf"{re.escape(name)}\.\d+", key)
    }
    single = form.get(name)
    return ([single[0]] if single else []) + [found[index] for index in sorted(found)]


def _tags(form: Mapping[str, list[str]], prefix: str) -> dict[str, str]:
    """``{prefix}Tag.N.Key``/``Value`` as a mapping (a key without a value maps to "")."""
    tags: dict[str, str] = {}
    pattern = re.compile(rf"{re.escape(prefix)}Tag\.(\d+)\.Key")
    for key, values in form.items():
        matched = pattern.fullmatch(key)
        if matched:
            value = form.get(f"{prefix}Tag.{matched.group(1)}.Value", [""])[0]
            tags[values[0]] = value
    return tags


def tag_specifications(form: Mapping[str, list[str]]) -> dict[str, dict[str, str]]:
    """The request's tags by the resource type they are for."""
    specs: dict[str, dict[str, str]] = {}
    for key, values in form.items():
        matched = re.fullmatch(r"TagSpecification\.(\d+)\.ResourceType", key)
        if matched:
            tags = _tags(form, f"TagSpecification.{matched.group(1)}.")
            specs.setdefault(values[0], {}).update(tags)
    return specs


def _request_tag_context(tags: Mapping[str, str]) -> dict[str, list[str]]:
    context = {f"aws:RequestTag/{key}": [value] for key, value in tags.items()}
    if tags:
        context["aws:TagKeys"] = list(tags)
    return context


def _resource_tag_context(tags: Mapping[str, str]) -> dict[str, list[str]]:
    context: dict[str, list[str]] = {}
    for key, value in tags.items():
        context[f"aws:ResourceTag/{key}"] = [value]
        context[f"ec2:ResourceTag/{key}"] = [value]
    return context


class RoleEnforcer:
    """Evaluates the role's ``policy`` on each call signed by ``role_key_id``."""

    def __init__(self, policy: Mapping[str, Any], emulator_url: str, role_key_id: str) -> None:
        self.policy = policy
        self.emulator_url = emulator_url
        self.role_key_id = role_key_id
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._decided: list[tuple[Request, Outcome]] = []

    def decided(self) -> list[tuple[Request, Outcome]]:
        """Every authorization evaluated so far and its outcome (which statement decided)."""
        with self._lock:
            return list(self._decided)

    def __call__(self, call: Call, body: bytes) -> Refusal | None:
        if call.principal != self.role_key_id or call.iam_action in ALWAYS_ALLOWED:
            return None
        try:
            requests = self.requests(call, body)
            decided = [(request, evaluate(self.policy, request)) for request in requests]
            request, outcome = evaluate_all(self.policy, requests)
        except Exception as exc:
            # A call the rehearsal cannot judge fails loudly, as an AWS error the client
            # shows, rather than passing unchecked or dropping the connection.
            logger.exception("front: cannot evaluate the CI role's policy on %s", call.iam_action)
            return Refusal(500, "InternalFailure", f"the rehearsal cannot judge this call: {exc}")
        with self._lock:
            self._decided.extend(decided)
        if outcome.allowed:
            return None
        logger.warning(
            "front: the CI role's policy refuses %s on %s (%s%s)",
            request.action,
            request.resource,
            outcome.decision.value,
            f": {outcome.statement}" if outcome.statement else "",
        )
        message = (
            f"You are not authorized to perform this operation. The CI role may not "
            f"{request.action} on {request.resource} ({outcome.decision.value}"
            f"{': ' + outcome.statement if outcome.statement else ''}; rehearsed policy)"
        )
        if call.service == "ec2":
            return Refusal(403, "UnauthorizedOperation", message)
        return Refusal(400, "AccessDeniedException", message)

    # -- what a call needs authorized ------------------------------------------------------

    def requests(self, call: Call, body: bytes) -> list[Request]:
        base = {"aws:RequestedRegion": [call.region]}
        if call.service != "ec2":
            return [Request(call.iam_action, self._json_resource(call, body), base)]
        form = parse_qs(body.decode("utf-8", errors="replace"))
        existing = self._existing(call, form)
        tags = self.current_tags(call.region, [resource_id for _, resource_id in existing])
        requests: list[Request] = []
        tagging = _tags(form, "") if call.action in ("CreateTags", "DeleteTags") else {}
        for resource_type, resource_id in existing:
            context: dict[str, Sequence[str]] = {
                **base,
                **_resource_tag_context(tags.get(resource_id, {})),
            }
            if call.action == "CreateTags":
                context.update(_request_tag_context(tagging))
            elif tagging:  # DeleteTags names keys to remove: aws:TagKeys, no request tags
                context["aws:TagKeys"] = list(tagging)
            requests.append(
                Request(call.iam_action, arn(call.region, resource_type, resource_id), context)
            )
        requests.extend(self._created(call, form, base))
        if not requests:
            requests.append(Request(call.iam_action, "*", base))
        return requests

    def _existing(self, call: Call, form: Mapping[str, list[str]]) -> list[tuple[str, str]]:
        """The resources, already there, that the call acts on or uses: (type, id)."""
        if call.action in _BY_PARAMETER:
            parameter, resource_type = _BY_PARAMETER[call.action]
            return [(resource_type or resource_type_of(i), i) for i in _numbered(form, parameter)]
        if call.action == "RunInstances":
            used: list[tuple[str, str]] = []
            used += [("image", i) for i in _numbered(form, "ImageId")]
            used += [("subnet", i) for i in _numbered(form, "SubnetId")]
            used += [("security-group", i) for i in _numbered(form, "SecurityGroupId")]
            for key, values in sorted(form.items()):
                if re.fullmatch(r"NetworkInterface\.\d+\.SubnetId", key):
                    used.append(("subnet", values[0]))
                if re.fullmatch(r"NetworkInterface\.\d+\.SecurityGroupId\.\d+", key):
                    used.append(("security-group", values[0]))
            return used
        if call.action == "CreateSecurityGroup":
            return [("vpc", i) for i in _numbered(form, "VpcId")]
        return []

    def _created(
        self, call: Call, form: Mapping[str, list[str]], base: Mapping[str, Sequence[str]]
    ) -> list[Request]:
        """What a creating call makes, with its tags, and the implicit CreateTags of each."""
        created = _CREATES.get(call.action, ())
        specs = tag_specifications(form)
        requests: list[Request] = []
        for resource_type in created:
            if resource_type == "security-group-rule" and resource_type not in specs:
                continue  # without tags, AWS authorizes no rule resource (the group only)
            tags = specs.get(resource_type, {})
            context: dict[str, Sequence[str]] = {**base, **_request_tag_context(tags)}
            if resource_type == "instance":
                instance_type = form.get("InstanceType", [DEFAULT_INSTANCE_TYPE])[0]
                context["ec2:InstanceType"] = [instance_type]
            new = arn(call.region, resource_type, "*")
            requests.append(Request(call.iam_action, new, context))
            if tags:
                tagging = {**base, **_request_tag_context(tags)}
                tagging["ec2:CreateAction"] = [call.action]
                requests.append(Request("ec2:CreateTags", new, tagging))
        return requests

    @staticmethod
    def _json_resource(call: Call, body: bytes) -> str:
        if call.iam_action == "ssm:GetParameter":
            name = re.search(rb'"Name"\s*:\s*"([^"]+)"', body)
            if name:
                path = name.group(1).decode().lstrip("/")
                return f"arn:aws:ssm:{call.region}::parameter/{path}"
        return "*"

    # -- the resources' current tags, from the emulator itself -----------------------------

    def _ec2(self, region: str) -> Any:
        with self._lock:
            if region not in self._clients:
                session = boto3.session.Session(
                    aws_access_key_id=FRONT_KEY,
                    aws_secret_access_key=FRONT_KEY,
                    region_name=region,
                )
                self._clients[region] = session.client("ec2", endpoint_url=self.emulator_url)
            return self._clients[region]

    def current_tags(self, region: str, resource_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Each resource's tags now, as the emulator holds them (none for an unknown id)."""
        if not resource_ids:
            return {}
        answer = self._ec2(region).describe_tags(
            Filters=[{"Name": "resource-id", "Values": list(resource_ids)}]
        )
        tags: dict[str, dict[str, str]] = {}
        for tag in answer.get("Tags", []):
            tags.setdefault(tag["ResourceId"], {})[tag["Key"]] = tag.get("Value", "")
        return tags
