"""What a sweep finds (:mod:`harness.sweep`): every EC2 resource that carries a set of tags,
as AWS describes it now, with the run it belongs to and, where EC2 says, when it was made; and
which runs are older than an age, for the janitor.

Security groups, their rules, network interfaces and elastic addresses carry no creation
time, so each resource is judged by its run (its ``RunId`` tag): a run's age is that of its
youngest instance (in any state EC2 still lists) or volume. A run younger than the age is
left whole, so nothing of a run that still has a young instance is ever deleted. A run with
no instance and no volume at all cannot be dated: nothing of it runs, so it counts as old,
and the sweep takes a last look that no instance of it has appeared since before deleting
(an apply makes its security group seconds before its instance).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from harness.aws_inventory import Inventory
from harness.labels import RUN_ID_KEY

#: The order of the deletes (what AWS requires: see :mod:`harness.sweep`).
ORDER = (
    "ec2:instance",
    "ec2:elastic-ip",
    "ec2:network-interface",
    "ec2:security-group-rule",
    "ec2:security-group",
    "ec2:volume",
)

_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """``"150m"``, ``"3h"``, ``"1d12h"`` → a timedelta; ValueError on anything else or zero."""
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise ValueError(f"{text!r} is not a duration such as 150m, 3h or 1d12h")
    age = sum((timedelta(**{_UNITS[unit]: int(n)}) for n, unit in parts), timedelta())
    if age <= timedelta():
        raise ValueError(f"{text!r} is no age at all")
    return age


@dataclass(frozen=True)
class Found:
    """One resource the search found: its type and id, the run it belongs to, its state, when
    it was made (None: EC2 does not say), and what its delete needs (``extra``)."""

    type: str
    id: str
    run_id: str
    state: str
    created: datetime | None = None
    extra: tuple[tuple[str, str], ...] = ()

    def get(self, key: str) -> str:
        return dict(self.extra).get(key, "")

    def describe(self) -> str:
        return f"{self.type}\t{self.id}\tRunId={self.run_id or '(none)'}\t{self.state}"


def tags_of(item: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in item.get("Tags", item.get("TagSet", []))}


def search(inventory: Inventory) -> list[Found]:
    """Every EC2 resource carrying the inventory's tags that still exists, in delete order."""
    found: list[Found] = []
    for reservation in inventory.ec2_tagged("describe_instances", "Reservations"):
        for instance in reservation.get("Instances", []):
            found.append(
                Found(
                    "ec2:instance",
                    instance["InstanceId"],
                    tags_of(instance).get(RUN_ID_KEY, ""),
                    instance.get("State", {}).get("Name", "unknown"),
                    instance.get("LaunchTime"),
                )
            )
    for address in inventory.tagged_addresses():
        found.append(
            Found(
                "ec2:elastic-ip",
                address.get("AllocationId") or address.get("PublicIp", ""),
                tags_of(address).get(RUN_ID_KEY, ""),
                "associated" if address.get("AssociationId") else "unassociated",
            )
        )
    for interface in inventory.ec2_tagged("describe_network_interfaces", "NetworkInterfaces"):
        found.append(
            Found(
                "ec2:network-interface",
                interface["NetworkInterfaceId"],
                tags_of(interface).get(RUN_ID_KEY, ""),
                interface.get("Status", "unknown"),
            )
        )
    for rule in inventory.ec2_tagged("describe_security_group_rules", "SecurityGroupRules"):
        found.append(
            Found(
                "ec2:security-group-rule",
                rule["SecurityGroupRuleId"],
                tags_of(rule).get(RUN_ID_KEY, ""),
                "egress" if rule.get("IsEgress") else "ingress",
                extra=(("group", rule.get("GroupId", "")),),
            )
        )
    for group in inventory.ec2_tagged("describe_security_groups", "SecurityGroups"):
        found.append(
            Found(
                "ec2:security-group",
                group["GroupId"],
                tags_of(group).get(RUN_ID_KEY, ""),
                "exists",
            )
        )
    for volume in inventory.ec2_tagged("describe_volumes", "Volumes"):
        found.append(
            Found(
                "ec2:volume",
                volume["VolumeId"],
                tags_of(volume).get(RUN_ID_KEY, ""),
                volume.get("State", "unknown"),
                volume.get("CreateTime"),
            )
        )
    return found


def old_runs(found: Iterable[Found], older_than: timedelta, now: datetime) -> set[str]:
    """The run ids (as found) whose youngest dated resource is older than ``older_than``, and
    those with nothing dated (see the module's docstring)."""
    youngest: dict[str, datetime | None] = {}
    for item in found:
        previous = youngest.get(item.run_id)
        if item.created is None:
            youngest.setdefault(item.run_id, None)
        elif previous is None or item.created > previous:
            youngest[item.run_id] = item.created
    return {run for run, when in youngest.items() if when is None or now - when > older_than}


def already_gone(item: Found) -> bool:
    """Whether the search found ``item`` in a state that is gone already (nothing to delete)."""
    return item.state in ("terminated", "deleted")
