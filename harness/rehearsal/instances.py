"""The rehearsal's instances: each EC2 instance the emulator runs is played by a sandbox
container that boots the instance's own user data, as cloud-init would.

The sandbox (``sandbox/``) carries its own Docker engine, so the user data's fixed names (the
``api`` container, the ``api-data`` volume) and its ``--publish 5000:5000`` stay inside it,
and runs side by side never meet. Only the sandbox's port 5000 is published, on a free port
of 127.0.0.1: the harness reaches the instance there, never at the public address the
emulator hands out.

Every sandbox carries the run's labels (Project, RunId, ManagedBy) and the instance's id, so
the teardown check finds one that outlived its instance, and :meth:`InstanceHost.reap` ends
each one whose instance is gone, as EC2 ends a terminated instance. :func:`reboot` restarts
the sandbox of an instance EC2 was asked to reboot: its disk (the container's layer, the
engine's volume) is kept, its processes end, and its boot script tells the reboot from the
first boot (``sandbox/lib/boot.sh``).

A sandbox is not started with ``--rm``: Docker 20.10 (Debian's, the one here) may remove a
``--rm`` container that ``docker restart`` is restarting, when its exit handling runs late
(moby#43751, fixed in 23.0), and removes one whose restart fails to start. The reboot then
lost the instance and left its engine's volume behind. A sandbox that powers off itself
(the shutdown stand-in) stays, stopped, until its instance is terminated or the run reaped.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tenacity import Retrying, retry_if_exception, retry_if_result, stop_after_delay, wait_fixed

from harness.docker import Docker, DockerError, choose_base_image
from harness.labels import INSTANCE_LABEL, PROJECT, PROJECT_KEY, RUN_ID_KEY, run_labels
from harness.paths import REPO_ROOT
from harness.ports import SERVICE_PORT as API_PORT
from harness.ports import stable_port
from harness.runs import Progress

logger = logging.getLogger(__name__)

SANDBOX_DIR = Path(__file__).resolve().parent / "sandbox"
#: The repository of the sandbox image; its tag is a hash of what goes into it.
SANDBOX_REPOSITORY = f"{PROJECT}-rehearsal-instance"
#: Where the sandbox's boot script reads the user data, and what it leaves behind.
USER_DATA_PATH = "/var/lib/cloud/instance/user-data.txt"
EXIT_PATH = "/var/lib/rehearsal/user-data.exit"
CALLS_PATH = "/var/log/rehearsal/calls.log"
USER_DATA_LOG = "/var/log/user-data.log"
#: What the engine inside the sandbox needs of the kernel: mounts (overlay, cgroups) and
#: networking (bridges, iptables). Named one by one, not --privileged: some engines, this
#: machine's among them, may not grant every capability.
SANDBOX_PRIVILEGES = (
    "--cap-add=SYS_ADMIN",
    "--cap-add=NET_ADMIN",
    "--security-opt=seccomp=unconfined",
    "--security-opt=apparmor=unconfined",
    "--security-opt=systempaths=unconfined",
)
BUILD_TIMEOUT = 900.0
#: How long a sandbox's engine volume may stay in use while another removal of its container
#: finishes.
VOLUME_RELEASE_TIMEOUT = 60.0
#: What the builder stage of the service's image is built from (the build cache's context).
WARM_INPUTS = ("Dockerfile", "requirements.txt")
#: The label of the build-cache volumes (they carry no run id: every run shares them).
CACHE_LABEL = f"{PROJECT}.rehearsal-cache"
#: Seconds a rebooting sandbox gets to stop its engine cleanly (systemd gives docker.service
#: 90 s; the engine gives each container 10 s) before it is killed, as EC2's hard reboot.
REBOOT_GRACE = 60


def builder_stage(root: Path = REPO_ROOT) -> str:
    """The Dockerfile's lines up to its second FROM: all that the build cache depends on,
    with requirements.txt (a change to the runtime stage keeps the cache)."""
    lines: list[str] = []
    for line in (root / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM ") and any(seen.startswith("FROM ") for seen in lines):
            break
        lines.append(line)
    return "\n".join(lines)


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox: the instance it plays, and where its API port is published."""

    instance_id: str
    container: str
    base_url: str


class InstanceHost:
    """Boots, finds and ends the sandboxes of one run."""

    def __init__(self, run_id: str, docker: Docker | None = None) -> None:
        self.run_id = run_id
        self.docker = docker or Docker()
        self.labels = run_labels(run_id)

    # -- the sandbox image ------------------------------------------------------------------

    def ensure_image(self, image_aliases: Iterable[str], progress: Progress | None = None) -> str:
        """The sandbox image, built when missing: the scripts of ``sandbox/`` on the service's
        base image, which it also carries to load under each of ``image_aliases`` (the base
        images the user data builds from, which no registry serves here)."""
        base = choose_base_image(self.docker, progress=progress)
        base_id = self.docker.run("image", "inspect", "--format", "{{.Id}}", base).stdout.strip()
        aliases = sorted(set(image_aliases))
        digest = hashlib.sha256()
        for path in sorted(p for p in SANDBOX_DIR.rglob("*") if p.is_file()):
            digest.update(path.relative_to(SANDBOX_DIR).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        digest.update(f"{base_id}\0{' '.join(aliases)}".encode())
        tag = f"{SANDBOX_REPOSITORY}:{digest.hexdigest()[:16]}"
        if self.docker.image_exists(tag):
            return tag
        if progress is not None:
            progress(f"building the rehearsal's instance image {tag} (once; about a minute)")
        with tempfile.TemporaryDirectory(prefix="rehearsal-instance-") as directory:
            context = Path(directory)
            shutil.copytree(SANDBOX_DIR, context, dirs_exist_ok=True)
            images = context / "images"
            images.mkdir()
            self.docker.run("save", "--output", str(images / "base.tar"), base, timeout=300.0)
            (images / "aliases").write_text("".join(f"{base} {alias}\n" for alias in aliases))
            self.docker.build(
                context,
                tag,
                build_args={"BASE_IMAGE": base},
                labels={PROJECT_KEY: PROJECT},
                timeout=BUILD_TIMEOUT,
            )
        return tag

    # -- the engine's build cache ---------------------------------------------------------

    def build_cache(
        self, image: str, root: Path = REPO_ROOT, progress: Progress | None = None
    ) -> str | None:
        """A volume holding an engine state in which the builder stage of the service's image
        (its pip install) is built already, for ``image``'s sandboxes; made when missing.

        A sandbox starting from a copy of it builds, from its user data, only what the tree
        changed since. None when it cannot be had now (another run is making it): the
        sandbox then starts with an empty engine, as a real instance does.
        """
        digest = hashlib.sha256(image.encode())
        digest.update(b"\0" + builder_stage(root).encode())
        digest.update(b"\0" + (root / "requirements.txt").read_bytes())
        volume = f"{SANDBOX_REPOSITORY}-cache-{digest.hexdigest()[:16]}"
        if self._cache_ready(image, volume):
            return volume
        warmer = f"{volume}-warming"  # its name is the lock: one warm-up per cache at a time
        self.docker.create_volume(volume, {PROJECT_KEY: PROJECT, CACHE_LABEL: "1"})
        created = self.docker.run(
            "create",
            "--init",
            "--name",
            warmer,
            "--label",
            f"{PROJECT_KEY}={PROJECT}",
            *SANDBOX_PRIVILEGES,
            "--volume",
            f"{volume}:/var/lib/docker",
            image,
            check=False,
        )
        if created.returncode != 0:
            logger.info(
                "the build cache %s is being made by another run: %s", volume, created.stderr
            )
            return None
        if progress is not None:
            progress(f"warming the rehearsal's build cache {volume} (once per requirements.txt)")
        try:
            with tempfile.TemporaryDirectory(prefix="warm-") as directory:
                context = Path(directory) / "warm"
                context.mkdir()
                for name in WARM_INPUTS:
                    shutil.copy2(root / name, context / name)
                self.docker.run("cp", str(context), f"{warmer}:/var/lib/rehearsal/", timeout=60.0)
                self.docker.run(
                    "cp", str(SANDBOX_DIR / "lib" / "warm.sh"), f"{warmer}:{USER_DATA_PATH}"
                )
            self.docker.run("start", warmer, timeout=60.0)
            code = self._wait_for_boot(warmer, BUILD_TIMEOUT)
            if code != 0:
                logger.warning(
                    "warming %s failed (%s): %s",
                    volume,
                    code,
                    self.read(warmer, "/var/log/cloud-init-output.log", tail=20),
                )
        finally:
            self.docker.remove_container(warmer, stop_timeout=0)
        return volume if self._cache_ready(image, volume) else None

    def _cache_ready(self, image: str, volume: str) -> bool:
        if volume not in self.docker.volumes({CACHE_LABEL: "1"}):
            return False
        probe = self.docker.run(
            "run",
            "--rm",
            "--entrypoint",
            "test",
            "--volume",
            f"{volume}:/cache:ro",
            image,
            "-f",
            "/cache/.rehearsal-warm",
            timeout=60.0,
            check=False,
        )
        return probe.returncode == 0

    def _wait_for_boot(self, container: str, timeout: float) -> int | None:
        """The exit code of the sandbox's user data, once it has one (None: not in time)."""
        retrying = Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_fixed(1.0),
            retry=retry_if_result(lambda code: code is None),
            retry_error_callback=lambda state: None,
        )
        code: int | None = retrying(self.boot_exit, container)
        return code

    # -- sandboxes --------------------------------------------------------------------------

    def boot(
        self, image: str, instance_id: str, user_data: bytes, cache: str | None = None
    ) -> Sandbox:
        """Start a sandbox that boots ``user_data`` as the first boot of ``instance_id``; its
        engine starts from a copy of the ``cache`` volume, or empty."""
        name = f"{PROJECT}-{self.run_id}-{instance_id}"
        labels = {**self.labels, INSTANCE_LABEL: instance_id}
        engine_state = "/var/lib/docker"
        try:
            if cache is not None:
                engine_state = f"{name}-docker:/var/lib/docker"
                self.docker.create_volume(f"{name}-docker", labels)
                self.docker.run(
                    "run",
                    "--rm",
                    *SANDBOX_PRIVILEGES,
                    "--entrypoint",
                    "cp",
                    "--volume",
                    f"{cache}:/from:ro",
                    "--volume",
                    f"{name}-docker:/to",
                    image,
                    "-a",
                    "/from/.",
                    "/to/",
                    timeout=300.0,
                )
            # No --rm: see the module's doc (a restart must never remove the sandbox).
            args = ["create", "--init", "--name", name, "--hostname", instance_id]
            for key, value in labels.items():
                args += ["--label", f"{key}={value}"]
            args += [*SANDBOX_PRIVILEGES, "--volume", engine_state]
            # A fixed port, not one Docker picks: it picks anew at each start, and an instance
            # keeps its address across a reboot. Below the ephemeral range, so that no
            # outgoing connection takes it while the sandbox reboots.
            args += ["--publish", f"127.0.0.1:{stable_port()}:{API_PORT}", image]
            self.docker.run(*args, timeout=60.0)
            with tempfile.TemporaryDirectory(prefix="user-data-") as directory:
                path = Path(directory) / "user-data.txt"
                path.write_bytes(user_data)
                path.chmod(0o600)
                self.docker.run("cp", str(path), f"{name}:{USER_DATA_PATH}", timeout=60.0)
            self.docker.run("start", name, timeout=60.0)
            return Sandbox(instance_id, name, self._published_url(name))
        except BaseException:
            self._end(name)
            raise

    def _end(self, container: str) -> None:
        """Remove a sandbox and its engine's state, as EC2 ends an instance and its disk."""
        end_sandbox(self.docker, container)

    def sandboxes(self, *, running_only: bool = True) -> dict[str, str]:
        """The sandboxes of the run (the running ones only, or those powered off too):
        instance id → container name."""
        found: dict[str, str] = {}
        for name in self.docker.containers({RUN_ID_KEY: self.run_id}, running_only=running_only):
            instance = self.docker.label("container", name, INSTANCE_LABEL)
            if instance:
                found[instance] = name
        return found

    def find(self, instance_id: str) -> Sandbox | None:
        container = self.sandboxes().get(instance_id)
        if container is None:
            return None
        return Sandbox(instance_id, container, self._published_url(container))

    def _published_url(self, container: str) -> str:
        binding = self.docker.run("port", container, f"{API_PORT}/tcp").stdout.split()[0]
        host, _, port = binding.rpartition(":")
        if host != "127.0.0.1":
            raise DockerError(f"{container} publishes {API_PORT} on {host}, not on 127.0.0.1")
        return f"http://127.0.0.1:{port}"

    def boot_exit(self, container: str) -> int | None:
        """How the user data ended (its exit code), or None while it still runs."""
        completed = self.docker.run("exec", container, "cat", EXIT_PATH, check=False)
        text = completed.stdout.strip()
        return int(text) if completed.returncode == 0 and text.lstrip("-").isdigit() else None

    def read(self, container: str, path: str, tail: int | None = None) -> str:
        """A file of the sandbox (the last ``tail`` lines), or "" when it does not exist."""
        command = ["tail", "-n", str(tail), path] if tail else ["cat", path]
        completed = self.docker.run("exec", container, *command, check=False)
        return completed.stdout if completed.returncode == 0 else ""

    def reap(self, alive: Iterable[str]) -> list[str]:
        """End every sandbox whose instance is not among ``alive``, running or powered off;
        returns their names."""
        keep = set(alive)
        ended: list[str] = []
        for instance, container in self.sandboxes(running_only=False).items():
            if instance in keep:
                continue
            self._end(container)
            ended.append(container)
        return ended


def reboot(instance_ids: Iterable[str], docker: Docker | None = None) -> list[str]:
    """Reboot the sandbox of each instance in ``instance_ids`` (of any run), as EC2 reboots
    an instance: its processes are asked to stop, then it starts again over the same disk.
    Returns the sandboxes rebooted; an instance with no running sandbox is left alone, as
    EC2 ignores a reboot of a terminated instance."""
    docker = docker or Docker()
    rebooted: list[str] = []
    for instance_id in instance_ids:
        for container in docker.containers({INSTANCE_LABEL: instance_id}, running_only=True):
            logger.info("rebooting instance %s: restarting its sandbox %s", instance_id, container)
            docker.restart(container, stop_timeout=REBOOT_GRACE)
            rebooted.append(container)
    return rebooted


def end_instances(instance_ids: Iterable[str], docker: Docker | None = None) -> list[str]:
    """End the sandbox of each of ``instance_ids``, whatever its run (a terminated instance's
    disk and processes go with it); returns the containers removed."""
    docker = docker or Docker()
    ended: list[str] = []
    for instance_id in instance_ids:
        for container in docker.containers({INSTANCE_LABEL: instance_id}):
            end_sandbox(docker, container)
            ended.append(container)
    return ended


def end_sandbox(docker: Docker, container: str) -> None:
    """Remove a sandbox and its engine's state, as EC2 ends an instance and its disk."""
    docker.remove_container(container, stop_timeout=0)
    # Two may end the same sandbox at once (the emulator's reaper on TerminateInstances, the
    # rehearsal after a destroy cut short): the volume is in use until the other's removal
    # of the container is through.
    Retrying(
        stop=stop_after_delay(VOLUME_RELEASE_TIMEOUT),
        wait=wait_fixed(1.0),
        retry=retry_if_exception(lambda exc: "in use" in str(exc)),
        reraise=True,
    )(docker.remove_volume, f"{container}-docker")
