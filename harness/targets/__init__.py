"""The targets the scenarios run against, by name."""

from __future__ import annotations

from harness.targets.aws import AwsTarget
from harness.targets.base import (
    RESTART,
    TEARDOWN,
    Endpoint,
    StartFailed,
    StopFailed,
    Target,
    TargetOptions,
    TargetUnavailable,
)
from harness.targets.local import LocalTarget
from harness.targets.process import ProcessTarget
from harness.targets.url import UrlTarget

#: Every target, by the name --target takes.
TARGETS: dict[str, type[Target]] = {
    "local": LocalTarget,
    "process": ProcessTarget,
    "url": UrlTarget,
    "aws": AwsTarget,
}


def make_target(name: str, options: TargetOptions) -> Target:
    """The target called ``name``; TargetUnavailable when it cannot run here."""
    if name not in TARGETS:
        raise TargetUnavailable(f"unknown target {name!r}: choose one of {', '.join(TARGETS)}")
    return TARGETS[name](options)


__all__ = [
    "RESTART",
    "TARGETS",
    "TEARDOWN",
    "Endpoint",
    "StartFailed",
    "StopFailed",
    "Target",
    "TargetOptions",
    "TargetUnavailable",
    "make_target",
]
