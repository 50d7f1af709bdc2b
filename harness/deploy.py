"""One deployment to AWS with Terraform: its own working copy and state, apply, outputs,
destroy, and the teardown check — the same code for real AWS and for the offline rehearsal
(the run's :class:`~harness.cloud.Cloud` says where AWS is and where the instance boots).

Each run works in ``.runs/RUN_ID/`` (a copy of ``terraform/`` with its own state), so two runs
never collide; ``run.json`` there records what a later ``--reuse`` or ``scripts/destroy.py``
needs. The API key is kept beside it in a file only its owner can read, and reaches Terraform
through the environment (``TF_VAR_api_key``), never a command line, an output or a log.

The sequence is written once: :meth:`TerraformRun.create` (record, key, working copy), then
:meth:`TerraformRun.deploy` (init, apply, outputs, wait). Callers arm the destroy between the
two, as Terratest defers its destroy before the apply: whatever happens after ``create``, they
call :meth:`TerraformRun.destroy_and_verify` on the way out (unless told to keep the run).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness import aws_inventory, processes, terraform
from harness.bundle import app_bundle, sha256
from harness.cloud import BootWatch, Cloud, cloud_from_record
from harness.delivery import deliver
from harness.errors import TargetError
from harness.labels import MANAGED_BY, PROJECT, run_selector
from harness.leftovers import Leftover, describe
from harness.paths import REPO_ROOT, RUNS_DIR, TERRAFORM_DIR
from harness.provider import PROVIDER, pinned_version
from harness.readiness import wait_for_health

logger = logging.getLogger(__name__)

LATEST = "latest"
#: How long Terraform gets to stop after an interrupt before it is killed.
INTERRUPT_GRACE = 120.0
#: A first boot installs Docker and builds the image: minutes, not seconds.
HEALTH_TIMEOUT = 15 * 60.0
#: AWS takes a while to finish terminating: how long the teardown check waits for it.
TEARDOWN_TIMEOUT = 180.0
#: The lock file of the first init, kept beside the runs so that later runs install the same
#: provider package from the plugin cache instead of downloading it again.
LOCK_FILE = ".terraform.lock.hcl"
#: How many lines of what Terraform printed on stderr an error message shows.
STDERR_TAIL = 20
#: A destroy started while an orphaned apply still runs (its harness was killed) waits for
#: the apply to finish and release the state, instead of failing at once.
LOCK_WAIT = "-lock-timeout=15m"

Progress = Callable[[str], None]


class DeploymentError(TargetError):
    """A step of the deployment failed; the message says what, and what to do."""


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
    #: Where the run's AWS is (:meth:`harness.cloud.Cloud.record`).
    cloud: dict[str, Any] = field(default_factory=dict)


class TerraformRun:
    """One run's working directory, and the Terraform commands over it."""

    def __init__(
        self,
        record: RunRecord,
        *,
        cloud: Cloud | None = None,
        runs_dir: Path = RUNS_DIR,
        progress: Progress | None = None,
    ) -> None:
        self.record = record
        self.cloud = cloud or cloud_from_record(record.cloud)
        record.cloud = self.cloud.record()
        self.runs_dir = runs_dir
        self.workdir = runs_dir / record.run_id
        self.progress = progress or (lambda line: logger.info("%s", line))

    @classmethod
    def create(
        cls,
        record: RunRecord,
        api_key: str,
        *,
        cloud: Cloud,
        runs_dir: Path = RUNS_DIR,
        progress: Progress | None = None,
    ) -> TerraformRun:
        """A new run: its record, its key and its own copy of terraform/, nothing applied."""
        run = cls(record, cloud=cloud, runs_dir=runs_dir, progress=progress)
        run.prepare(api_key)
        return run

    # -- the run's files ---------------------------------------------------------------

    @property
    def tf_dir(self) -> Path:
        return self.workdir / "terraform"

    @property
    def key_file(self) -> Path:
        return self.workdir / "api_key"

    @property
    def tags(self) -> dict[str, str]:
        """The tags that pick out this run's resources."""
        return run_selector(self.record.run_id)

    def plugin_cache_dir(self) -> Path:
        """Where every run's providers are kept once (Terraform links them into each run)."""
        return self.runs_dir / ".terraform-plugins"

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
            ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfvars", LOCK_FILE),
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

    @functools.cached_property
    def bundle(self) -> bytes:
        """The application this run deploys: made once, so that the hash the user data pins
        and the bytes sent to the instance are the same."""
        return app_bundle()

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
            "app_bundle_sha256": sha256(self.bundle),
            "managed_by": MANAGED_BY,
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

    def environment(self) -> dict[str, str]:
        """Terraform's environment: this cloud's settings and the run's variables."""
        return {
            **self.cloud.environment(os.environ, self),
            **self.variables(),
            **terraform.QUIET,
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }

    def terraform(
        self, *args: str, capture: bool = False, ok: Sequence[int] = (0,), finish: bool = False
    ) -> str:
        """Run one Terraform command in the run's directory; returns what it printed.

        stdout goes to the progress callback (and to terraform.log), or is returned when
        ``capture``; stderr (warnings, errors, TF_LOG) goes to terraform.stderr.log and is
        never mixed into stdout, which may be JSON.

        Ctrl-C, SIGTERM or SIGHUP (a KeyboardInterrupt here) reach Terraform as an interrupt,
        so that it stops and saves its state — unless ``finish``: then Terraform is left to
        end on its own first. An interrupted apply cancels the AWS calls in flight, and an
        instance whose RunInstances was cancelled after AWS had started it is in no state
        file: no destroy would ever find it.
        """
        return self._terraform(args, capture=capture, ok=ok, finish=finish)[1]

    def _terraform(
        self, args: Sequence[str], *, capture: bool, ok: Sequence[int], finish: bool = False
    ) -> tuple[int, str]:
        try:
            command = [*terraform.terraform_command(), *args]
        except terraform.TerraformNotFound as exc:
            raise DeploymentError(str(exc)) from None
        self.progress(f"terraform {' '.join(args)}  (in {self.tf_dir})")
        stderr_path = self.workdir / "terraform.stderr.log"
        with (
            (self.workdir / "terraform.log").open("a") as log,
            stderr_path.open("a+") as stderr,
        ):
            start = stderr.tell()
            process = subprocess.Popen(  # nosec B603 - argv from terraform_command, no shell
                command,
                cwd=self.tf_dir,
                env=self.environment(),
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                start_new_session=True,  # our signal handler decides when Terraform stops
            )
            captured: list[str] = []

            def relay() -> int:
                assert process.stdout is not None
                for line in process.stdout:
                    log.write(line)
                    if capture:
                        captured.append(line)
                    else:
                        self.progress(line.rstrip())
                return process.wait()

            try:
                code = relay()
            except BaseException:
                if finish and process.poll() is None:
                    self.progress(
                        f"interrupted: letting terraform {args[0]} finish, so that its state "
                        "records everything it made; the destroy follows"
                    )
                    relay()
                else:
                    _interrupt(process)
                raise
            stderr.seek(start)
            printed = [line.rstrip() for line in stderr.read().splitlines() if line.strip()]
        if code not in ok:
            tail = "\n".join(printed[-STDERR_TAIL:])
            raise DeploymentError(
                f"terraform {args[0]} failed with exit code {code} "
                f"(full output in {self.workdir / 'terraform.log'} and {stderr_path.name})"
                + (f":\n{tail}" if tail else "")
            )
        if printed:
            self.progress(
                f"terraform {args[0]} printed {len(printed)} line(s) on stderr ({stderr_path})"
            )
        return code, "".join(captured)

    def init(self) -> None:
        saved = self.runs_dir / LOCK_FILE
        own = self.tf_dir / LOCK_FILE
        saved_version = _locked_version(saved)
        if saved_version and saved_version == pinned_version(self.tf_dir):
            shutil.copy2(saved, own)
        self.cloud.before_init(self)
        self.terraform("init", "-input=false", "-no-color")
        if own.exists() and _locked_version(own) != saved_version:
            shutil.copy2(own, saved)

    def apply(self) -> None:
        self.terraform(
            "apply", "-auto-approve", "-input=false", "-no-color", LOCK_WAIT, finish=True
        )
        self.cloud.after_apply(self, self.progress)

    def plan_changes(self) -> bool:
        """Whether ``terraform plan`` wants to change anything (its detailed exit code)."""
        code, _ = self._terraform(
            ("plan", "-detailed-exitcode", "-input=false", "-no-color", "-lock=false"),
            capture=False,
            ok=(0, 2),
        )
        return code == 2

    def read_outputs(self) -> dict[str, Any]:
        """Terraform's outputs, as plain values; recorded for a later --reuse."""
        text = self.terraform("output", "-json", "-no-color", capture=True)
        try:
            raw = json.loads(text or "{}")
            self.record.outputs = {name: item["value"] for name, item in raw.items()}
        except (json.JSONDecodeError, TypeError, KeyError, AttributeError) as exc:
            raise DeploymentError(
                f"terraform output -json printed something that is not its outputs ({exc}): "
                f"{text[:200]!r}"
            ) from None
        self.save()
        return self.record.outputs

    def destroy(self) -> None:
        try:
            self.terraform("destroy", "-auto-approve", "-input=false", "-no-color", LOCK_WAIT)
        finally:
            self.cloud.after_destroy(self, self.progress)

    # -- the sequence ------------------------------------------------------------------

    def wait_healthy(self, base_url: str, watch: BootWatch | None, timeout: float) -> str:
        """Wait until the API at ``base_url`` answers /health (``watch`` tells of a failed
        boot); returns ``base_url``."""
        self.progress(
            f"waiting for {base_url}/health (a first boot installs Docker, builds the image)"
        )
        wait_for_health(
            base_url,
            timeout=timeout,
            initial_wait=1.0,
            max_wait=self.cloud.boot_poll_max_wait,
            still_alive=(lambda: watch.failed() is None) if watch else None,
            context=(lambda: f"{watch.failed() or ''}\n{watch.details()}".strip())
            if watch
            else None,
            progress=self.progress,
        )
        self.progress(f"healthy: {base_url}")
        return base_url

    def deploy(self, *, wait: bool = True, health_timeout: float = HEALTH_TIMEOUT) -> str:
        """init, apply, outputs, the application sent to the instance, and (unless ``wait``
        is false) the wait for /health; returns where the API answers. Raises on the first
        failure: the caller destroys."""
        self.init()
        self.apply()
        self.read_outputs()
        base_url = self.cloud.base_url(self)
        watch = self.cloud.boot_watch(self)
        deliver(
            base_url,
            self.bundle,
            timeout=health_timeout,
            progress=self.progress,
            failed=watch.failed if watch else lambda: None,
            max_wait=self.cloud.boot_poll_max_wait,
        )
        if not wait:
            return base_url
        return self.wait_healthy(base_url, watch, health_timeout)

    def reuse(self, *, health_timeout: float = HEALTH_TIMEOUT) -> str:
        """The kept deployment again: a plan that says whether this tree would change it,
        then the same wait. Nothing is applied."""
        self.cloud.before_init(self)
        if self.plan_changes():
            self.progress(
                "terraform plan: this tree would change the kept deployment (not applied; "
                f"see {self.workdir / 'terraform.log'}); testing it as it is"
            )
        else:
            self.progress(
                "terraform plan: no changes, the kept deployment is what this tree deploys"
            )
        return self.wait_healthy(
            self.cloud.base_url(self), self.cloud.boot_watch(self), health_timeout
        )

    # -- teardown ----------------------------------------------------------------------

    def finish_command(self) -> str:
        """The one command that finishes the cleanup of this run by hand: this Python (the
        one with boto3), the script by its full path, so that it runs from anywhere."""
        script = REPO_ROOT / "scripts" / "destroy.py"
        return shlex.join([sys.executable, str(script), "--run-dir", str(self.workdir)])

    def check_teardown(self, timeout: float = TEARDOWN_TIMEOUT) -> list[Leftover]:
        """What still carries this run's tags, in AWS or beyond (after waiting up to
        ``timeout`` for AWS to finish deleting)."""
        session, endpoint = self.cloud.aws_session(self.record.region)
        found = aws_inventory.check(
            self.tags,
            region=self.record.region,
            timeout=timeout,
            on_retry=lambda left, elapsed: self.progress(
                f"{len(left)} resource(s) still tagged with {self.record.run_id} "
                f"after {elapsed:.0f}s; checking again"
            ),
            session=session,
            endpoint_url=endpoint,
        )
        return found + self.cloud.other_leftovers(self)

    def destroy_and_verify(self, teardown_timeout: float = TEARDOWN_TIMEOUT) -> None:
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
        except aws_inventory.CheckError as exc:
            raise DeploymentError(
                f"destroyed, but could not check what remains: {exc}\n"
                f"the state is kept in {self.workdir}; check again with:\n"
                f"  {self.finish_command()}"
            ) from None
        if leftovers:
            lines = "\n".join(f"  {line}" for line in describe(leftovers))
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
    processes.stop(process, ask=signal.SIGINT, timeout=INTERRUPT_GRACE)


def _locked_version(lock: Path) -> str | None:
    """The AWS provider version a lock file records, or None."""
    if not lock.is_file():
        return None
    found = re.search(
        rf'provider "{re.escape(PROVIDER)}" \{{\s*version\s*=\s*"([^"]+)"',
        lock.read_text(),
    )
    return found.group(1) if found else None


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


def runner_cidrs(given: Sequence[str], cloud: Cloud) -> list[str]:
    """The CIDRs given, or the ones the cloud says the harness reaches the instance from."""
    return list(given) if given else cloud.runner_cidrs()
