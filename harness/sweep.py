"""The sweep: delete what carries the project's tags, straight from AWS's own answers, with no
Terraform state — for a run whose state is lost (a cancelled CI job, an orphan instance the
state never recorded) and, as a janitor, for whatever old runs left behind.

Two ways to choose:

- one run: everything tagged ``Project`` (:data:`harness.labels.PROJECT`) and ``RunId``;
- a janitor: everything tagged ``Project`` whose run is older than an age, each resource
  judged by its run (:mod:`harness.sweep_search` says how a run without dates is judged).

Whatever the choice, nothing is deleted unless the resource itself, described afresh just
before its delete, still carries ``Project`` and the same ``RunId``: a resource of another
project, even with the same run id, is left alone.

The order is the one AWS requires: instances are terminated and waited for (an instance's
interface holds its security group, its root volume stays attached until it is gone), then
elastic addresses and leftover interfaces (a detached interface holds its group as an
instance does), then security-group rules and groups, then volumes. "Already gone" is
success. Throttling is retried by botocore's standard retry mode, with backoff; a
``DependencyViolation`` while AWS finishes letting go of a resource is retried, bounded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from tenacity import (
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_delay,
    wait_exponential,
)

from harness.aws_inventory import Inventory, asking_aws
from harness.labels import PROJECT, PROJECT_KEY, RUN_ID_KEY
from harness.runs import Progress
from harness.sweep_search import ORDER, already_gone, old_runs, search, tags_of
from harness.sweep_search import Found as Found
from harness.sweep_search import parse_duration as parse_duration

logger = logging.getLogger(__name__)

#: Throttling (RequestLimitExceeded, Throttling) is retried by botocore's standard mode, with
#: exponential backoff and jitter; ten attempts ride out a burst of a minute or so.
SWEEP_CONFIG = Config(
    retries={"max_attempts": 10, "mode": "standard"}, connect_timeout=5, read_timeout=60
)
#: How long terminated instances may take to reach ``terminated`` (AWS: usually under two
#: minutes), and how long a resource may answer DependencyViolation while AWS lets go of it.
INSTANCE_TIMEOUT = 240.0
DEPENDENCY_TIMEOUT = 120.0
#: Errors that mean something else still holds the resource, for a while.
BUSY_CODES = frozenset(
    {
        "DependencyViolation",
        "VolumeInUse",
        "InvalidIPAddress.InUse",
        "InvalidNetworkInterface.InUse",
    }
)
#: Every AWS action the sweep calls, its final teardown check included: what the CI role's
#: policy must allow it (tests/test_sweep.py checks the list against the calls made).
IAM_ACTIONS = frozenset(
    {
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteSecurityGroup",
        "ec2:DeleteVolume",
        "ec2:DescribeAddresses",
        "ec2:DescribeInstances",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroupRules",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeVolumes",
        "ec2:DisassociateAddress",
        "ec2:ReleaseAddress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:TerminateInstances",
        "tag:GetResources",
    }
)


class SweepError(RuntimeError):
    """The sweep could not run (bad age, no credentials...)."""


@dataclass
class Outcome:
    """What the sweep found, deleted, and left (each with why)."""

    found: list[Found] = field(default_factory=list)
    deleted: list[Found] = field(default_factory=list)
    left: list[tuple[Found, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"deleted\t{item.describe()}" for item in self.deleted] + [
            f"left\t{item.describe()}\t{why}" for item, why in self.left
        ]


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _gone(exc: BaseException) -> bool:
    """Whether AWS says the resource does not exist (any ``...NotFound``)."""
    return isinstance(exc, ClientError) and (
        _code(exc).endswith("NotFound") or _code(exc) == "InvalidPermission.NotFound"
    )


def _refused(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"AWS refused {exc.operation_name}: {error.get('Code', 'error')}: " + str(
        error.get("Message", "")
    )


def _busy(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and _code(exc) in BUSY_CODES


class Sweeper:
    """Deletes found resources, each checked afresh, in AWS's order, through one session."""

    def __init__(
        self,
        *,
        region: str | None = None,
        session: boto3.session.Session | None = None,
        endpoint_url: str | None = None,
        progress: Progress | None = None,
        instance_timeout: float = INSTANCE_TIMEOUT,
        dependency_timeout: float = DEPENDENCY_TIMEOUT,
    ) -> None:
        self._session = session or boto3.session.Session(region_name=region)
        self._region = region
        self._endpoint_url = endpoint_url
        self.ec2: Any = self._session.client(
            "ec2", config=SWEEP_CONFIG, endpoint_url=endpoint_url, region_name=region
        )
        self.progress = progress or (lambda line: logger.info("%s", line))
        self.instance_timeout = instance_timeout
        self.dependency_timeout = dependency_timeout

    def inventory(self, tags: dict[str, str]) -> Inventory:
        return Inventory(
            tags,
            self._region,
            session=self._session,
            endpoint_url=self._endpoint_url,
            config=SWEEP_CONFIG,
        )

    # -- choosing --------------------------------------------------------------------------

    def find_run(self, run_id: str) -> list[Found]:
        with asking_aws():
            return search(self.inventory({PROJECT_KEY: PROJECT, RUN_ID_KEY: run_id}))

    def find_older_than(self, older_than: timedelta, now: datetime | None = None) -> list[Found]:
        with asking_aws():
            everything = search(self.inventory({PROJECT_KEY: PROJECT}))
        runs = old_runs(everything, older_than, now or datetime.now(UTC))
        return [item for item in everything if item.run_id in runs]

    # -- deleting --------------------------------------------------------------------------

    def sweep(
        self, found: list[Found], *, dry_run: bool = False, recheck_undated: bool = False
    ) -> Outcome:
        """Delete ``found`` (unless ``dry_run``); what was deleted, and what was left.

        ``recheck_undated`` (the janitor): first look again whether a run found with nothing
        dated has an instance by now, and leave such a run whole."""
        outcome = Outcome(found=[item for item in found if not already_gone(item)])
        if not outcome.found:
            self.progress("sweep: nothing to delete")
            return outcome
        self.progress(f"sweep: {'would delete' if dry_run else 'will delete'}:")
        for item in sorted(outcome.found, key=lambda item: ORDER.index(item.type)):
            self.progress(f"  {item.describe()}")
        if dry_run:
            return outcome
        with asking_aws():
            undated = self._undated_runs_now_alive(outcome) if recheck_undated else set()
            for kind in ORDER:
                batch = [i for i in outcome.found if i.type == kind and i.run_id not in undated]
                if batch:
                    self._delete_all(kind, batch, outcome)
        for item in outcome.deleted:
            self.progress(f"sweep: deleted {item.type} {item.id}")
        for item, why in outcome.left:
            self.progress(f"sweep: left {item.type} {item.id}: {why}")
        return outcome

    def _undated_runs_now_alive(self, outcome: Outcome) -> set[str]:
        """Runs found with nothing dated that have an instance by now: left whole."""
        dated = {item.run_id for item in outcome.found if item.created is not None}
        alive: set[str] = set()
        for run_id in {item.run_id for item in outcome.found} - dated:
            if not run_id:
                continue
            run = self.inventory({PROJECT_KEY: PROJECT, RUN_ID_KEY: run_id})
            reservations = run.ec2_tagged("describe_instances", "Reservations")
            if any(reservation.get("Instances") for reservation in reservations):
                alive.add(run_id)
        for item in outcome.found:
            if item.run_id in alive:
                outcome.left.append((item, "its run has an instance now: left whole"))
        return alive

    def _delete_all(self, kind: str, batch: list[Found], outcome: Outcome) -> None:
        if kind == "ec2:instance":
            self._terminate(batch, outcome)
            return
        for item in batch:
            try:
                why = self._delete_one(item)
            except ClientError as exc:  # refused (a policy, a protection): say so, go on
                why = _refused(exc)
            if why is None:
                outcome.deleted.append(item)
            else:
                outcome.left.append((item, why))

    def _still_ours(self, item: Found) -> tuple[dict[str, Any] | None, str | None]:
        """The resource as EC2 describes it now, and why it must be left (None: delete it).
        (None, None): it is gone already."""
        try:
            described = self._describe(item)
        except ClientError as exc:
            if _gone(exc):
                return None, None
            raise
        if described is None:
            return None, None
        tags = tags_of(described)
        if tags.get(PROJECT_KEY) != PROJECT or tags.get(RUN_ID_KEY, "") != item.run_id:
            return described, (
                f"it no longer carries {PROJECT_KEY}={PROJECT} and {RUN_ID_KEY}="
                f"{item.run_id or '(none)'} (now: {tags.get(PROJECT_KEY)!r}, "
                f"{tags.get(RUN_ID_KEY)!r})"
            )
        return described, None

    def _describe(self, item: Found) -> dict[str, Any] | None:
        ec2 = self.ec2
        if item.type == "ec2:instance":
            answer = ec2.describe_instances(InstanceIds=[item.id])
            instances = [i for r in answer.get("Reservations", []) for i in r.get("Instances", [])]
            return instances[0] if instances else None
        if item.type == "ec2:elastic-ip":
            key = "AllocationIds" if item.id.startswith("eipalloc-") else "PublicIps"
            addresses = ec2.describe_addresses(**{key: [item.id]}).get("Addresses", [])
            return addresses[0] if addresses else None
        if item.type == "ec2:network-interface":
            interfaces = ec2.describe_network_interfaces(NetworkInterfaceIds=[item.id])
            return next(iter(interfaces.get("NetworkInterfaces", [])), None)
        if item.type == "ec2:security-group-rule":
            rules = ec2.describe_security_group_rules(SecurityGroupRuleIds=[item.id])
            return next(iter(rules.get("SecurityGroupRules", [])), None)
        if item.type == "ec2:security-group":
            groups = ec2.describe_security_groups(GroupIds=[item.id])
            return next(iter(groups.get("SecurityGroups", [])), None)
        if item.type == "ec2:volume":
            volumes = ec2.describe_volumes(VolumeIds=[item.id])
            return next(iter(volumes.get("Volumes", [])), None)
        raise ValueError(f"the sweep cannot delete a {item.type}")

    def _terminate(self, batch: list[Found], outcome: Outcome) -> None:
        ours: list[Found] = []
        for item in batch:
            try:
                described, why = self._still_ours(item)
            except ClientError as exc:
                outcome.left.append((item, _refused(exc)))
                continue
            state = (described or {}).get("State", {}).get("Name", "terminated")
            if why is not None:
                outcome.left.append((item, why))
            elif described is None or state == "terminated":
                outcome.deleted.append(item)  # gone already
            else:
                ours.append(item)
        if not ours:
            return
        ids = [item.id for item in ours]
        try:
            self.ec2.terminate_instances(InstanceIds=ids)
        except ClientError as exc:
            if not _gone(exc):
                outcome.left.extend((item, _refused(exc)) for item in ours)
                return
        self.progress(f"sweep: terminating {', '.join(ids)}; waiting for them to end")
        remaining = self._wait_terminated(ids)
        for item in ours:
            if item.id in remaining:
                outcome.left.append((item, f"not terminated after {self.instance_timeout:.0f}s"))
            else:
                outcome.deleted.append(item)

    def _wait_terminated(self, ids: list[str]) -> set[str]:
        def not_yet() -> set[str]:
            answer = self.ec2.describe_instances(InstanceIds=ids)
            return {
                instance["InstanceId"]
                for reservation in answer.get("Reservations", [])
                for instance in reservation.get("Instances", [])
                if instance.get("State", {}).get("Name") != "terminated"
            }

        retrying = Retrying(
            stop=stop_after_delay(self.instance_timeout),
            wait=wait_exponential(multiplier=1, min=1, max=10),
            retry=retry_if_result(bool),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else set(),
        )
        remaining: set[str] = retrying(not_yet)
        return remaining

    def _delete_one(self, item: Found) -> str | None:
        """Delete one resource after checking it afresh; None when it is gone, else why not."""
        described, why = self._still_ours(item)
        if why is not None:
            return why
        if described is None:
            return None
        retrying = Retrying(
            stop=stop_after_delay(self.dependency_timeout),
            wait=wait_exponential(multiplier=1, min=1, max=15),
            retry=retry_if_exception(_busy),
            reraise=True,
        )
        try:
            retrying(self._delete_call, item, described)
        except ClientError as exc:
            if _gone(exc):
                return None
            if _busy(exc):
                return f"still in use after {self.dependency_timeout:.0f}s ({_code(exc)})"
            raise
        return None

    def _delete_call(self, item: Found, described: dict[str, Any]) -> None:
        ec2 = self.ec2
        if item.type == "ec2:elastic-ip":
            if described.get("AssociationId"):
                ec2.disassociate_address(AssociationId=described["AssociationId"])
            if described.get("AllocationId"):
                ec2.release_address(AllocationId=described["AllocationId"])
            else:
                ec2.release_address(PublicIp=described["PublicIp"])
        elif item.type == "ec2:network-interface":
            ec2.delete_network_interface(NetworkInterfaceId=item.id)
        elif item.type == "ec2:security-group-rule":
            revoke = (
                ec2.revoke_security_group_egress
                if described.get("IsEgress")
                else ec2.revoke_security_group_ingress
            )
            revoke(GroupId=described["GroupId"], SecurityGroupRuleIds=[item.id])
        elif item.type == "ec2:security-group":
            ec2.delete_security_group(GroupId=item.id)
        elif item.type == "ec2:volume":
            ec2.delete_volume(VolumeId=item.id)
        else:
            raise ValueError(f"the sweep cannot delete a {item.type}")


def sweep_run(
    run_id: str,
    *,
    region: str | None = None,
    session: boto3.session.Session | None = None,
    endpoint_url: str | None = None,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> Outcome:
    """Find and delete everything tagged with the project and ``run_id`` (the harness's call
    after a destroy that left something). Raises CheckError when AWS cannot be asked."""
    sweeper = Sweeper(region=region, session=session, endpoint_url=endpoint_url, progress=progress)
    return sweeper.sweep(sweeper.find_run(run_id), dry_run=dry_run)
