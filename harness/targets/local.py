"""The `local` target: the service's image, built from this tree, run as one container.

Everything it creates (a network, a volume for /data, the container) carries the project's and
the run's labels, and is removed at stop, unless --keep.
"""

from __future__ import annotations

import logging
from typing import ClassVar, NoReturn

from harness import timeline as phases
from harness.docker import CONTAINER_PORT, Docker, DockerError, EngineUnavailable, ensure_image
from harness.labels import INSTANCE_LABEL, PROJECT, RUN_ID_KEY, harness_selector, run_labels
from harness.leftovers import Leftover, describe
from harness.ports import free_port
from harness.readiness import wait_for_health
from harness.targets.base import (
    RESTART,
    TEARDOWN,
    Endpoint,
    Target,
    TargetOptions,
    TargetUnavailable,
    print_progress,
)

logger = logging.getLogger(__name__)

#: Seconds a container gets to become healthy (a first start of a cold image included).
HEALTH_TIMEOUT = 60.0
#: Seconds between SIGTERM and SIGKILL when the container is stopped.
STOP_TIMEOUT = 10


class LocalTarget(Target):
    """A container of the image built from this tree, on a free 127.0.0.1 port."""

    name = "local"
    capabilities: ClassVar[frozenset[str]] = frozenset({RESTART, TEARDOWN})

    def __init__(self, options: TargetOptions) -> None:
        super().__init__(options)
        self.docker = Docker()
        self.labels = run_labels(self.options.run_id)
        prefix = f"{PROJECT}-{self.options.run_id}"
        self.container = prefix
        self.volume = f"{prefix}-data"
        self.network = prefix
        self._created = False
        self._started = False
        self._reused = False
        #: The image the container runs, once started.
        self.image: str | None = None

    def _start(self) -> Endpoint:
        try:
            self.docker.require_engine()
        except EngineUnavailable as exc:
            raise_unavailable(exc)
        if self.options.reuse:
            return self._reuse()
        with self.timeline.phase(phases.BUILD):
            image = self.image = ensure_image(self.docker, progress=self.options.progress)
        api_key = self.run_key()
        port = self.options.host_port or free_port()
        # Marked before anything exists: _stop() removes whatever got created, even after an
        # interrupt half-way through.
        self._created = True
        with self.timeline.phase(phases.START):
            self.docker.create_network(self.network, self.labels)
            self.docker.create_volume(self.volume, self.labels)
            self.docker.run_container(
                image,
                name=self.container,
                labels=self.labels,
                publish=("127.0.0.1", port, CONTAINER_PORT),
                env={"API_KEY": api_key},
                volumes={self.volume: "/data"},
                network=self.network,
            )
            endpoint = Endpoint(f"http://127.0.0.1:{port}", api_key)
            self._wait_healthy(endpoint.base_url)
        self._started = True
        logger.info(
            "local target: %s (container %s, image %s)", endpoint.base_url, self.container, image
        )
        return endpoint

    def _wait_healthy(self, base_url: str) -> None:
        wait_for_health(
            base_url,
            timeout=HEALTH_TIMEOUT,
            still_alive=lambda: self.docker.running(self.container),
            context=lambda: (
                f"logs of container {self.container}:\n" + self.docker.logs(self.container, tail=60)
            ),
        )

    def _reuse(self) -> Endpoint:
        """The newest running container a previous --keep left."""
        kept = [
            name
            for name in self.docker.containers(harness_selector(), running_only=True)
            # A rehearsal's sandbox plays an EC2 instance: not a local deployment.
            if INSTANCE_LABEL not in (self.docker.inspect(name)["Config"]["Labels"] or {})
        ]
        if not kept:
            raise_unavailable("--reuse: no running container of a previous --keep run")
        details = self.docker.inspect(kept[0])
        env = dict(item.split("=", 1) for item in details["Config"]["Env"])
        self.mask(env.get("API_KEY"))
        binding = details["NetworkSettings"]["Ports"][f"{CONTAINER_PORT}/tcp"][0]
        endpoint = Endpoint(f"http://{binding['HostIp']}:{binding['HostPort']}", env.get("API_KEY"))
        self.container = kept[0]
        self.image = details["Config"]["Image"]
        self._reused = True
        self._wait_healthy(endpoint.base_url)
        logger.info("local target: reusing %s at %s", self.container, endpoint.base_url)
        return endpoint

    def facts(self) -> dict[str, str]:
        return {**super().facts(), **({"image": self.image} if self.image else {})}

    def restart(self) -> None:
        with self.timeline.phase(phases.RESTART):
            self.docker.restart(self.container, stop_timeout=STOP_TIMEOUT)
            self._wait_healthy(self.endpoint.base_url)

    def _stop(self) -> None:
        if self._reused or not self._created:
            return
        if self.options.keep and self._started:
            say = self.options.progress or print_progress
            say(
                f"kept container {self.container} at {self.endpoint.base_url}; test it again "
                f"with --reuse, remove it with: "
                f"python -m harness.docker clean --run-id {self.options.run_id}"
            )
            return
        with self.timeline.phase(phases.STOP):
            self.docker.remove_run(
                self.options.run_id,
                containers=[self.container],
                volumes=[self.volume],
                networks=[self.network],
                stop_timeout=STOP_TIMEOUT,
            )
        self._created = self._started = False
        with self.timeline.phase(phases.TEARDOWN_CHECK):
            remaining = self.leftovers()
        self.timeline.note(phases.TEARDOWN_VERDICT, _verdict(self.options.run_id, remaining))
        if remaining:
            raise DockerError(f"still there after stopping the local target: {describe(remaining)}")

    def leftovers(self) -> list[Leftover]:
        """What still carries this run's id on the engine."""
        return self.docker.leftovers({RUN_ID_KEY: self.options.run_id})


def _verdict(run_id: str, remaining: list[Leftover]) -> str:
    head = (
        f"FAILED: {len(remaining)} resource(s) still carry the run's label"
        if remaining
        else "PASSED: nothing carries the run's label any more"
    )
    lines = [
        f"teardown check of run {run_id}: {head}",
        "",
        "looked at:",
        f"  Docker containers, volumes and networks labelled {RUN_ID_KEY}={run_id}",
    ]
    if remaining:
        lines += ["", "still there:", *(f"  {line}" for line in describe(remaining))]
    return "\n".join(lines) + "\n"


def raise_unavailable(reason: object) -> NoReturn:
    raise TargetUnavailable(f"--target=local: {reason}")
