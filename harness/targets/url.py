"""The `url` target: a deployment that already runs somewhere; nothing is started or stopped."""

from __future__ import annotations

from harness.readiness import wait_for_health
from harness.targets.base import Endpoint, Target, TargetUnavailable


class UrlTarget(Target):
    """Tests whatever answers at --base-url, with --api-key if it needs one."""

    name = "url"

    def start(self) -> Endpoint:
        if not self.options.base_url:
            raise TargetUnavailable("--target=url needs --base-url=http://HOST:PORT")
        base_url = self.options.base_url.rstrip("/")
        wait_for_health(base_url, timeout=10.0)
        return Endpoint(base_url, self.options.api_key)

    def stop(self) -> None:
        """Nothing to stop: the deployment is not ours."""

    def facts(self) -> dict[str, str]:
        """None: the deployment is not ours, and no run id marks it."""
        return {}
