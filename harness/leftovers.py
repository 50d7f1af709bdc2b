"""What a deployment leaves behind: one type for every kind of resource, wherever it is (an
AWS resource, a Docker container or volume, a process, a directory)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Leftover:
    """One resource that still carries a run's id: its type (``ec2:instance``,
    ``docker:volume``, ``process``...), its id, its state and, for AWS, its ARN."""

    type: str
    id: str
    state: str = "exists"
    arn: str | None = None

    def describe(self) -> str:
        return f"{self.type}\t{self.arn or self.id}\t{self.state}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe(leftovers: Iterable[Leftover]) -> list[str]:
    """One line per leftover: type, ARN or id, state (tab-separated)."""
    return [item.describe() for item in leftovers]
