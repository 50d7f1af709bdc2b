"""What a target can say about the resources a deployment leaves behind once stopped."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class ChecksLeftovers(Protocol):
    """A target that can list what still carries its run's id (labels, tags) on this machine
    or account. A target without it (``url``) has nothing of its own to tear down."""

    def leftovers(self) -> list[str]:
        """Every resource still carrying this deployment's run id, one line each; empty when
        nothing remains."""
        ...
