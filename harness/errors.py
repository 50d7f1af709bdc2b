"""The error every target raises when a deployment step fails: pytest reports its message
without a traceback, because the message already says what failed and what to do."""

from __future__ import annotations


class TargetError(Exception):
    """A deployment step failed; the message says what, and what to do about it."""


class TargetUnavailable(TargetError):
    """The target cannot run on this machine; the message says what to do instead."""


class DeploymentError(TargetError):
    """A step of an aws deployment failed; the message says what, and what to do."""
