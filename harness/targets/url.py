"""The `url` target: a deployment that already runs somewhere; nothing is started or stopped."""

from __future__ import annotations

from typing import ClassVar

from harness.readiness import wait_for_health
from harness.targets.base import TEARDOWN, Endpoint, Target, TargetOptions, TargetUnavailable


class UrlTarget(Target):
    """Tests whatever answers at --base-url, with --api-key if it needs one."""

    name = "url"
    lacks: ClassVar[dict[str, str]] = {
        TEARDOWN: "the url target tears nothing down: the deployment is not ours",
    }

    def _start(self) -> Endpoint:
        return existing_deployment(self.options)

    def _stop(self) -> None:
        """Nothing to stop: the deployment is not ours."""

    def facts(self) -> dict[str, str]:
        """None: the deployment is not ours, and no run id marks it."""
        return {}


def existing_deployment(options: TargetOptions) -> Endpoint:
    """The deployment at ``--base-url``, once it answers /health: started by nobody here, and
    stopped by nobody here (the aws target tests one this way too)."""
    if not options.base_url:
        raise TargetUnavailable("--target=url needs --base-url=http://HOST:PORT")
    base_url = options.base_url.rstrip("/")
    wait_for_health(base_url, timeout=10.0)
    return Endpoint(base_url, options.api_key)
