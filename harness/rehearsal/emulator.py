"""The AWS emulator of the rehearsal: moto's server on a free loopback port, behind a Front.

moto's server emulates EC2, SSM, STS and the Resource Groups Tagging API over real HTTP, one
port for every service; the AWS provider and boto3 reach it through ``AWS_ENDPOINT_URL``.
When the emulator terminates or reboots an instance, so does its sandbox
(:mod:`harness.rehearsal.lifecycle`).
Like AWS, its tagging API keeps listing an instance after it is terminated. Unlike AWS, it
hands out real public addresses as instances' public IPs: nothing may ever be sent there.

Run as a module, this file keeps an emulator up until Ctrl-C, for ``scripts/deploy.py
--emulator-url`` and friends::

    python -m harness.rehearsal.emulator
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from harness import ci_role, processes
from harness.errors import TargetError
from harness.ports import free_port
from harness.rehearsal import lifecycle
from harness.rehearsal.authorize import RoleEnforcer
from harness.rehearsal.front import Call, Front, Interceptor
from harness.rehearsal.iam import Outcome, Request
from harness.rehearsal.principals import CREDENTIALS

logger = logging.getLogger(__name__)

#: How long moto's server may take to answer after it starts.
START_TIMEOUT = 30.0


class EmulatorError(TargetError):
    """The emulator could not be started."""


def moto_server_command() -> list[str]:
    """moto's server from this Python's environment."""
    script = Path(sys.executable).parent / "moto_server"
    return [str(script)] if script.exists() else [sys.executable, "-m", "moto.server"]


class Emulator:
    """moto's server and its Front, both on 127.0.0.1; ``url`` is what AWS clients use.

    Every call signed with the deployment's key is held to the CI role's policy, rendered
    with ``role_regions`` as its allowed regions (the module's default when None).
    """

    def __init__(
        self,
        *,
        interceptor: Interceptor | None = None,
        log_path: Path | None = None,
        role_regions: Sequence[str] | None = None,
    ) -> None:
        self._interceptor = interceptor
        self._log_path = log_path
        settings = ci_role.default_settings()
        if role_regions:
            settings = settings.with_regions(role_regions)
        self.role_policy: Mapping[str, Any] = ci_role.policy(settings)
        self._process: subprocess.Popen[bytes] | None = None
        self._front: Front | None = None
        self._enforcer: RoleEnforcer | None = None
        self.moto_url = ""

    @property
    def url(self) -> str:
        if self._front is None:
            raise EmulatorError("the emulator is not started")
        return self._front.url

    def calls(self) -> list[Call]:
        """Every AWS call made through the front so far."""
        return self._front.calls() if self._front is not None else []

    def authorizations(self) -> list[tuple[Request, Outcome]]:
        """Every authorization the role's policy decided so far, with the deciding statement."""
        return self._enforcer.decided() if self._enforcer is not None else []

    def start(self) -> Emulator:
        port = free_port()
        self.moto_url = f"http://127.0.0.1:{port}"
        self._process = subprocess.Popen(  # nosec B603 - moto's server from our venv, no shell
            [*moto_server_command(), "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Out of the terminal's process group: a Ctrl-C meant for the harness must not end
            # the emulator before the destroy that the Ctrl-C sets off has used it.
            start_new_session=True,
        )
        try:
            for attempt in Retrying(
                stop=stop_after_delay(START_TIMEOUT),
                wait=wait_fixed(0.05),  # moto answers within a few seconds; poll closely
                retry=retry_if_exception_type(requests.RequestException),
                reraise=True,
            ):
                with attempt:
                    if self._process.poll() is not None:
                        raise EmulatorError(f"moto_server exited with {self._process.returncode}")
                    requests.get(f"{self.moto_url}/moto-api/", timeout=2).raise_for_status()
        except requests.RequestException as exc:
            self.stop()
            raise EmulatorError(f"moto_server did not answer within {START_TIMEOUT:.0f}s") from exc
        except BaseException:
            self.stop()
            raise
        self._enforcer = RoleEnforcer(
            self.role_policy, self.moto_url, CREDENTIALS["AWS_ACCESS_KEY_ID"]
        )
        self._front = Front(
            self.moto_url,
            interceptor=self._interceptor,
            authorizer=self._enforcer,
            log_path=self._log_path,
            observer=lifecycle.react,
        ).start()
        logger.info("AWS emulator at %s (moto at %s)", self._front.url, self.moto_url)
        return self

    def stop(self) -> None:
        if self._front is not None:
            self._front.stop()
        process, self._process = self._process, None
        if process is not None:
            processes.stop(process)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run an emulator until interrupted; print the URL to give as --emulator-url."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.rehearsal.emulator",
        description="Run the rehearsal's AWS emulator (moto behind its front) until Ctrl-C.",
    )
    parser.add_argument(
        "--log", type=Path, help="append every AWS call, as JSON lines, to this file"
    )
    parser.add_argument(
        "--region",
        action="append",
        default=[],
        help="a region the CI role's policy allows (repeat it; the role's default if none)",
    )
    args = parser.parse_args(argv)
    with Emulator(log_path=args.log, role_regions=args.region) as emulator:
        print(f"AWS emulator: {emulator.url}  (Ctrl-C stops it, and forgets everything)")
        print(f"  e.g. python scripts/deploy.py --rehearse --emulator-url {emulator.url}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
