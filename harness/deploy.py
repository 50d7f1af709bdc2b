"""One deployment to AWS with Terraform: its own working copy and state, apply, outputs,
destroy, and the teardown check — the same code for real AWS and for the offline rehearsal.

Each run works in ``.runs/RUN_ID/`` (a copy of ``terraform/`` with its own state), so two runs
never collide; ``run.json`` there records what a later ``--reuse`` or ``scripts/destroy.py``
needs. The API key is kept beside it in a file only its owner can read, and reaches Terraform
through the environment (``TF_VAR_api_key``), never a command line, an output or a log.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from harness import teardown
from harness.errors import TargetError
from harness.naming import PROJECT
from harness.terraform import TerraformNotFound, terraform_command

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
TERRAFORM_DIR = REPO_ROOT / "terraform"
RUNS_DIR = REPO_ROOT / ".runs"
LATEST = "latest"
#: What the instance needs to build the image: the Dockerfile and what it copies.
BUNDLE_FILES = ("Dockerfile", ".dockerignore", "requirements.txt", "app")
#: Where the runner's public address is asked for when none is given.
PUBLIC_IP_URL = "https://checkip.amazonaws.com"
#: How long Terraform gets to stop after an interrupt before it is killed.
INTERRUPT_GRACE = 120.0

Progress = Callable[[str], None]


class DeploymentError(TargetError):
    """A step of the deployment failed; the message says what, and what to do."""


def app_bundle(root: Path = REPO_ROOT) -> str:
    """The application as a base64 gzip'd tar, the same bytes for the same files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9) as tar:
        for name in BUNDLE_FILES:
            path = root / name
            if not path.exists():
                continue
            paths = [path] if path.is_file() else sorted(path.rglob("*"))
            for item in paths:
                if not item.is_file() or "__pycache__" in item.parts or item.suffix == ".pyc":
                    continue
                info = tar.gettarinfo(str(item), arcname=str(item.relative_to(root)))
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                info.mode = 0o644
                with item.open("rb") as handle:
                    tar.addfile(info, handle)
    return base64.b64encode(buffer.getvalue()).decode()


def detect_public_ip(url: str = PUBLIC_IP_URL, timeout: float = 10.0) -> str:
    """This machine's public IPv4 address, as the internet sees it."""
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise DeploymentError(
            f"could not detect this machine's public IP from {url} ({type(exc).__name__}): "
            "give the allowed CIDR yourself, e.g. --allowed-cidr=203.0.113.7/32"
        ) from None
    address = response.text.strip()
    parts = address.split(".")
    if len(parts) != 4 or not all(part.isdigit() and int(part) < 256 for part in parts):
        raise DeploymentError(f"{url} answered {address[:40]!r}, not an IPv4 address")
    return address


@dataclass
class RunRecord:
    """What is known about one run, kept in ``run.json`` (never the key)."""

    run_id: str
    region: str
    allowed_cidrs: list[str]
    instance_type: str | None = None
    ttl_minutes: int | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)


class TerraformRun:
    """One run's working directory, and the Terraform commands over it."""

    def __init__(
        self,
        record: RunRecord,
        *,
        runs_dir: Path = RUNS_DIR,
        progress: Progress | None = None,
    ) -> None:
        self.record = record
        self.runs_dir = runs_dir
        self.workdir = runs_dir / record.run_id
        self.progress = progress or (lambda line: logger.info("%s", line))

    # -- the run's files ---------------------------------------------------------------

    @property
    def tf_dir(self) -> Path:
        return self.workdir / "terraform"

    @property
    def key_file(self) -> Path:
        return self.workdir / "api_key"

    @property
    def tags(self) -> dict[str, str]:
        return {"Project": PROJECT, "RunId": self.record.run_id}

    def prepare(self, api_key: str) -> None:
        """A fresh copy of terraform/, the record, and the key (owner-only)."""
        if self.workdir.exists():
            raise DeploymentError(
                f"{self.workdir} exists already: is run {self.record.run_id} still deployed?"
            )
        self.workdir.mkdir(parents=True, mode=0o700)
        shutil.copytree(
            TERRAFORM_DIR,
            self.tf_dir,
            ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfvars"),
        )
        descriptor = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(api_key)
        self.save()
        self._point_latest()

    def save(self) -> None:
        (self.workdir / "run.json").write_text(json.dumps(asdict(self.record), indent=2) + "\n")

    def _point_latest(self) -> None:
        latest = self.runs_dir / LATEST
        latest.unlink(missing_ok=True)
        latest.symlink_to(self.record.run_id)

    @classmethod
    def load(cls, workdir: Path, *, progress: Progress | None = None) -> TerraformRun:
        """The run recorded in ``workdir`` (or in the run ``.runs/latest`` points to)."""
        workdir = workdir.resolve()
        try:
            data = json.loads((workdir / "run.json").read_text())
        except FileNotFoundError:
            raise DeploymentError(f"no run recorded in {workdir} (run.json is missing)") from None
        return cls(RunRecord(**data), runs_dir=workdir.parent, progress=progress)

    def api_key(self) -> str:
        return self.key_file.read_text()

    def forget(self) -> None:
        """Delete the working directory once everything it describes is gone."""
        latest = self.runs_dir / LATEST
        if latest.is_symlink() and os.readlink(latest) == self.record.run_id:
            latest.unlink()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- Terraform ---------------------------------------------------------------------

    def variables(self) -> dict[str, str]:
        """TF_VAR_* for this run: Terraform reads them from its environment only."""
        values: dict[str, Any] = {
            "allowed_cidrs": self.record.allowed_cidrs,
            "api_key": self.api_key(),
            "app_bundle": app_bundle(),
            "project": PROJECT,
            "region": self.record.region,
            "run_id": self.record.run_id,
        }
        if self.record.instance_type:
            values["instance_type"] = self.record.instance_type
        if self.record.ttl_minutes:
            values["ttl_minutes"] = self.record.ttl_minutes
        return {
            f"TF_VAR_{name}": value if isinstance(value, str) else json.dumps(value)
            for name, value in values.items()
        }

    def terraform(self, *args: str, capture: bool = False) -> str:
        """Run one Terraform command in the run's directory; its output goes to the progress
        callback (and to terraform.log), or is returned when ``capture``. Ctrl-C or SIGTERM
        reach Terraform as an interrupt, so that it can stop cleanly and save its state."""
        env = {
            **os.environ,
            **self.variables(),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }
        try:
            command = [*terraform_command(), *args]
        except TerraformNotFound as exc:
            raise DeploymentError(str(exc)) from None
        self.progress(f"terraform {' '.join(args)}  (in {self.tf_dir})")
        with (self.workdir / "terraform.log").open("a") as log:
            process = subprocess.Popen(  # nosec B603 - argv from terraform_command, no shell
                command,
                cwd=self.tf_dir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # our signal handler decides when Terraform stops
            )
            captured: list[str] = []
            try:
                assert process.stdout is not None
                for line in process.stdout:
                    log.write(line)
                    if capture:
                        captured.append(line)
                    else:
                        self.progress(line.rstrip())
                code = process.wait()
            except BaseException:
                _interrupt(process)
                raise
        if code != 0:
            tail = "".join(captured[-20:]) if capture else ""
            raise DeploymentError(
                f"terraform {args[0]} failed with exit code {code} "
                f"(full output in {self.workdir / 'terraform.log'}){tail and ': ' + tail}"
            )
        return "".join(captured)

    def init(self) -> None:
        self.terraform("init", "-input=false", "-no-color")

    def apply(self) -> None:
        self.terraform("apply", "-auto-approve", "-input=false", "-no-color")

    def read_outputs(self) -> dict[str, Any]:
        """Terraform's outputs, as plain values; recorded for a later --reuse."""
        raw = json.loads(self.terraform("output", "-json", "-no-color", capture=True) or "{}")
        self.record.outputs = {name: item["value"] for name, item in raw.items()}
        self.save()
        return self.record.outputs

    def destroy(self) -> None:
        self.terraform("destroy", "-auto-approve", "-input=false", "-no-color")

    def finish_command(self) -> str:
        """The one command that finishes the cleanup of this run by hand: this Python (the
        one with boto3), the script by its full path, so that it runs from anywhere."""
        script = REPO_ROOT / "scripts" / "destroy.py"
        return shlex.join([sys.executable, str(script), "--run-dir", str(self.workdir)])

    def check_teardown(self, timeout: float = 120.0) -> list[teardown.Leftover]:
        """What still carries this run's tags (after waiting up to ``timeout`` for it)."""
        return teardown.check(
            self.tags,
            region=self.record.region,
            timeout=timeout,
            on_retry=lambda left, elapsed: self.progress(
                f"{len(left)} resource(s) still tagged with {self.record.run_id} "
                f"after {elapsed:.0f}s; checking again"
            ),
        )

    def destroy_and_verify(self, teardown_timeout: float = 120.0) -> None:
        """Destroy, then prove nothing tagged remains; the directory goes only then.

        Raises DeploymentError naming what is left and the command that finishes the job.
        """
        try:
            self.destroy()
        except DeploymentError as exc:
            raise DeploymentError(
                f"{exc}\nthe state is kept in {self.workdir}; finish the cleanup with:\n"
                f"  {self.finish_command()}"
            ) from None
        try:
            leftovers = self.check_teardown(teardown_timeout)
        except teardown.CheckError as exc:
            raise DeploymentError(
                f"destroyed, but could not check what remains: {exc}\n"
                f"check again with: scripts/verify_teardown.py "
                f"--region {self.record.region} "
                + " ".join(f"--tag {k}={v}" for k, v in self.tags.items())
            ) from None
        if leftovers:
            lines = "\n".join(f"  {line}" for line in teardown.format_leftovers(leftovers))
            raise DeploymentError(
                f"terraform destroy left {len(leftovers)} resource(s) tagged "
                f"RunId={self.record.run_id}:\n{lines}\n"
                f"the state is kept in {self.workdir}; finish the cleanup with:\n"
                f"  {self.finish_command()}"
            )
        self.progress(f"teardown verified: nothing tagged RunId={self.record.run_id} remains")
        self.forget()


def _interrupt(process: subprocess.Popen[str]) -> None:
    """Ask Terraform to stop as Ctrl-C would, and wait for it to save its state."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=INTERRUPT_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def latest_run_dir(runs_dir: Path = RUNS_DIR) -> Path:
    """The working directory of the most recent run still recorded."""
    latest = runs_dir / LATEST
    if not latest.exists():
        raise DeploymentError(
            f"no recorded run in {runs_dir}: deploy with --keep first (or give --run-dir)"
        )
    return latest.resolve()


def region_from(environ: Mapping[str, str] | None = None, default: str = "eu-west-1") -> str:
    environ = os.environ if environ is None else environ
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or default


def runner_cidrs(given: Sequence[str]) -> list[str]:
    """The CIDRs given, or this machine's public address as a /32."""
    return list(given) if given else [f"{detect_public_ip()}/32"]
