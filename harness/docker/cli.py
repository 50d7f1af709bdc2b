"""The ``docker`` command line, driven with subprocess (no SDK): every call is bounded by a
timeout, so a missing or hung engine fails fast instead of hanging a test run. The client may
be newer than the engine (a Docker 28 client beside Debian's 20.10 engine): it negotiates the
API version by itself."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import TargetError
from harness.labels import RUN_ID_KEY
from harness.leftovers import Leftover

logger = logging.getLogger(__name__)

QUICK = 10.0
"""Seconds for a call that should answer at once (inspect, ls, rm)."""
BUILD_TIMEOUT = 900.0
PULL_TIMEOUT = 120.0
ENGINE_TIMEOUT = 5.0


class DockerError(TargetError):
    """A docker command failed; the message says which and why."""


class EngineUnavailable(DockerError):
    """No Docker engine answers (or no docker client is installed)."""


HOW_TO_START_AN_ENGINE = (
    "start one with 'sudo scripts/ensure_docker.sh', or run the scenarios without a "
    "container with --target=process"
)


class Docker:
    """The ``docker`` command line, every call bounded by a timeout."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable or shutil.which("docker") or "docker"
        # The classic builder: what Debian's 20.10 engine offers without the buildx plugin,
        # and what a client without buildx falls back to anyway. Set explicitly so that a
        # client that defaults to BuildKit does not fail for want of buildx.
        self.env = {**os.environ, "DOCKER_BUILDKIT": "0"}

    def run(
        self,
        *args: str,
        timeout: float = QUICK,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        command = [self.executable, *args]
        logger.debug("running %s", " ".join(command))
        try:
            completed = subprocess.run(  # nosec B603 - a fixed executable, no shell
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                env={**self.env, **(env or {})},
                check=False,
            )
        except FileNotFoundError as exc:
            raise EngineUnavailable(
                f"no docker client ({self.executable}): {HOW_TO_START_AN_ENGINE}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise DockerError(
                f"'docker {' '.join(args[:2])}' took more than {timeout:.0f}s"
            ) from exc
        if check and completed.returncode != 0:
            raise DockerError(
                f"'docker {' '.join(args[:2])}' failed ({completed.returncode}): "
                f"{completed.stderr.strip()[-2000:]}"
            )
        return completed

    # -- the engine -------------------------------------------------------------------------

    def engine_problem(self, timeout: float = ENGINE_TIMEOUT) -> str | None:
        """Why no engine answers, or None when one does. Never waits more than ``timeout``."""
        try:
            completed = self.run(
                "version", "--format", "{{.Server.Version}}", timeout=timeout, check=False
            )
        except EngineUnavailable:
            return f"no docker client is installed ({self.executable})"
        except DockerError:
            return f"the Docker engine did not answer within {timeout:.0f}s"
        if completed.returncode != 0 or not completed.stdout.strip():
            last_line = (completed.stderr.strip().splitlines() or ["no answer"])[-1]
            return f"no Docker engine answers ({last_line})"
        return None

    def require_engine(self) -> None:
        """EngineUnavailable, with one line saying what to do, unless an engine answers."""
        problem = self.engine_problem()
        if problem is not None:
            raise EngineUnavailable(f"{problem}: {HOW_TO_START_AN_ENGINE}")

    # -- images -----------------------------------------------------------------------------

    def image_exists(self, reference: str) -> bool:
        return self.run("image", "inspect", reference, check=False).returncode == 0

    def pull(self, reference: str, timeout: float = PULL_TIMEOUT) -> bool:
        """Pull ``reference``; False (logged) when it cannot be pulled in time."""
        try:
            completed = self.run("pull", "--quiet", reference, timeout=timeout, check=False)
        except DockerError as exc:
            logger.info("could not pull %s: %s", reference, exc)
            return False
        if completed.returncode != 0:
            logger.info("could not pull %s: %s", reference, completed.stderr.strip())
            return False
        return True

    def build(
        self,
        context: Path,
        tag: str,
        *,
        build_args: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        timeout: float = BUILD_TIMEOUT,
    ) -> None:
        args = ["build", "--quiet", "--tag", tag]
        for key, value in (build_args or {}).items():
            args += ["--build-arg", f"{key}={value}"]
        for key, value in (labels or {}).items():
            args += ["--label", f"{key}={value}"]
        self.run(*args, str(context), timeout=timeout)

    def prune_images(self, repository: str, *, keep: int) -> None:
        """Remove all but the ``keep`` newest tags of ``repository``; one that a container
        still uses stays (the engine refuses, which is fine)."""
        listed = self.run("image", "ls", repository, "--format", "{{.Repository}}:{{.Tag}}")
        for reference in self._listed(listed.stdout)[keep:]:
            completed = self.run("image", "rm", reference, timeout=60.0, check=False)
            if completed.returncode == 0:
                logger.info("removed the old image %s", reference)

    def image_size(self, reference: str) -> int:
        return int(self.run("image", "inspect", reference, "--format", "{{.Size}}").stdout)

    # -- containers, volumes, networks ------------------------------------------------------

    def create_volume(self, name: str, labels: Mapping[str, str]) -> str:
        args = ["volume", "create"]
        for key, value in labels.items():
            args += ["--label", f"{key}={value}"]
        return self.run(*args, name).stdout.strip()

    def create_network(self, name: str, labels: Mapping[str, str]) -> str:
        args = ["network", "create", "--driver", "bridge"]
        for key, value in labels.items():
            args += ["--label", f"{key}={value}"]
        self.run(*args, name)
        return name

    def run_container(
        self,
        image: str,
        *,
        name: str,
        labels: Mapping[str, str],
        publish: tuple[str, int, int] | None = None,
        env: Mapping[str, str] | None = None,
        volumes: Mapping[str, str] | None = None,
        network: str | None = None,
        read_only: bool = True,
    ) -> str:
        """Start a detached container; returns its id. ``publish`` is (host ip, host port,
        container port)."""
        args = ["run", "--detach", "--name", name]
        for key, value in labels.items():
            args += ["--label", f"{key}={value}"]
        if publish is not None:
            host, host_port, container_port = publish
            args += ["--publish", f"{host}:{host_port}:{container_port}"]
        for key in env or {}:
            # The value goes through the environment of the docker client, not its argv, so
            # that a key never shows in `ps`.
            args += ["--env", key]
        for source, target in (volumes or {}).items():
            args += ["--volume", f"{source}:{target}"]
        if network is not None:
            args += ["--network", network]
        if read_only:
            args += ["--read-only", "--tmpfs", "/tmp"]  # nosec B108 - the container's own tmpfs
        args.append(image)
        return self.run(*args, timeout=60.0, env=env).stdout.strip()

    def logs(self, container: str, tail: int = 200) -> str:
        completed = self.run("logs", "--tail", str(tail), container, check=False)
        return (completed.stdout + completed.stderr).strip()

    def restart(self, container: str, stop_timeout: int = 10) -> None:
        self.run("restart", "--time", str(stop_timeout), container, timeout=stop_timeout + 30)

    def running(self, container: str) -> bool:
        completed = self.run(
            "container", "inspect", "--format", "{{.State.Running}}", container, check=False
        )
        return completed.returncode == 0 and completed.stdout.strip() == "true"

    def inspect(self, container: str) -> dict[str, Any]:
        """``docker container inspect``, as a dict."""
        data = json.loads(self.run("container", "inspect", container).stdout)
        result: dict[str, Any] = data[0]
        return result

    def remove_container(self, container: str, stop_timeout: int = 10) -> None:
        """Stop (SIGTERM, then SIGKILL after ``stop_timeout``; 0: SIGKILL at once) and remove;
        gone is fine."""
        if stop_timeout > 0:
            completed = self.run(
                "stop",
                "--time",
                str(stop_timeout),
                container,
                timeout=stop_timeout + 30,
                check=False,
            )
            if completed.returncode != 0 and not _is_gone(completed.stderr):
                logger.warning("could not stop %s: %s", container, completed.stderr.strip())
        completed = self.run("rm", "--force", "--volumes", container, timeout=60.0, check=False)
        if completed.returncode != 0 and not _is_gone(completed.stderr):
            raise DockerError(f"removing container {container}: {completed.stderr.strip()}")

    def remove_volume(self, name: str) -> None:
        completed = self.run("volume", "rm", "--force", name, timeout=30.0, check=False)
        if completed.returncode != 0 and not _is_gone(completed.stderr):
            raise DockerError(f"removing volume {name}: {completed.stderr.strip()}")

    def remove_network(self, name: str) -> None:
        completed = self.run("network", "rm", name, timeout=30.0, check=False)
        if completed.returncode != 0 and not _is_gone(completed.stderr):
            raise DockerError(f"removing network {name}: {completed.stderr.strip()}")

    def containers(self, labels: Mapping[str, str], *, running_only: bool = False) -> list[str]:
        """Names of the containers carrying all ``labels``, newest first."""
        args = ["ps", "--format", "{{.Names}}"]
        if not running_only:
            args.append("--all")
        return self._listed(self.run(*args, *_label_filters(labels)).stdout)

    def volumes(self, labels: Mapping[str, str]) -> list[str]:
        args = ["volume", "ls", "--format", "{{.Name}}", *_label_filters(labels)]
        return self._listed(self.run(*args).stdout)

    def networks(self, labels: Mapping[str, str]) -> list[str]:
        args = ["network", "ls", "--format", "{{.Name}}", *_label_filters(labels)]
        return self._listed(self.run(*args).stdout)

    def label(self, kind: str, name: str, key: str) -> str:
        """The value of label ``key`` of the container, volume or network ``name`` ("" when
        it has none)."""
        labels = ".Config.Labels" if kind == "container" else ".Labels"
        template = f'{{{{index {labels} "{key}"}}}}'
        return self.run(kind, "inspect", "--format", template, name).stdout.strip()

    def leftovers(self, labels: Mapping[str, str]) -> list[Leftover]:
        """Every container, volume and network carrying all ``labels``."""
        return (
            [Leftover("docker:container", name) for name in self.containers(labels)]
            + [Leftover("docker:volume", name) for name in self.volumes(labels)]
            + [Leftover("docker:network", name) for name in self.networks(labels)]
        )

    def remove_run(
        self,
        run_id: str,
        *,
        containers: Sequence[str] = (),
        volumes: Sequence[str] = (),
        networks: Sequence[str] = (),
        stop_timeout: int = 10,
    ) -> None:
        """Remove the named resources and anything else labelled with ``run_id``, containers
        first (a volume or a network in use cannot go). Already gone is fine."""
        labels = {RUN_ID_KEY: run_id}
        for container in dict.fromkeys([*containers, *self.containers(labels)]):
            self.remove_container(container, stop_timeout=stop_timeout)
        for volume in dict.fromkeys([*volumes, *self.volumes(labels)]):
            self.remove_volume(volume)
        for network in dict.fromkeys([*networks, *self.networks(labels)]):
            self.remove_network(network)

    @staticmethod
    def _listed(output: str) -> list[str]:
        return [line.strip() for line in output.splitlines() if line.strip()]


def _label_filters(labels: Mapping[str, str]) -> list[str]:
    filters: list[str] = []
    for key, value in labels.items():
        filters += ["--filter", f"label={key}={value}"]
    return filters


def _is_gone(stderr: str) -> bool:
    text = stderr.lower()
    # "already in progress": a container started with --rm is being removed by the engine.
    return "no such" in text or "not found" in text or "already in progress" in text
