"""One deployment to AWS with Terraform: its variables and environment, init, apply, outputs,
the application sent to the instance, the wait for /health — the same code for real AWS and
for the offline rehearsal (the run's :class:`~harness.cloud.Cloud` says where AWS is and
where the instance boots).

The sequence is written once: :meth:`TerraformRun.create` (the run's files, see
:mod:`harness.runs`), then :meth:`TerraformRun.deploy` (init, apply, outputs, delivery,
wait). Callers arm the teardown between the two, as Terratest defers its destroy before the
apply: whatever happens after ``create``, they call
:func:`harness.teardown.destroy_and_verify` on the way out (unless told to keep the run).
The API key reaches Terraform through the environment (``TF_VAR_api_key``), never a command
line, an output or a log.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import terraform
from harness import timeline as phases
from harness.bundle import app_bundle, sha256
from harness.cloud import BootWatch, Cloud, wait_until_healthy
from harness.cloud_choice import from_record
from harness.delivery import send, wait_until_asked
from harness.errors import DeploymentError
from harness.labels import MANAGED_BY, PROJECT, run_selector
from harness.paths import RUNS_DIR
from harness.provider import keep_lock, reuse_lock
from harness.runs import Progress, RunFiles, RunRecord, read_record
from harness.timeline import Timeline

logger = logging.getLogger(__name__)

#: A first boot installs Docker and builds the image: minutes, not seconds.
HEALTH_TIMEOUT = 15 * 60.0
#: A destroy started while an orphaned apply still runs (its harness was killed) waits for
#: the apply to finish and release the state, instead of failing at once.
LOCK_WAIT = "-lock-timeout=15m"


class TerraformRun(RunFiles):
    """One run's files, its cloud, and the Terraform commands over its directory."""

    def __init__(
        self,
        record: RunRecord,
        *,
        cloud: Cloud | None = None,
        runs_dir: Path = RUNS_DIR,
        progress: Progress | None = None,
    ) -> None:
        super().__init__(record, runs_dir=runs_dir)
        self.cloud = cloud or from_record(record.cloud)
        record.cloud = self.cloud.record()
        self.progress = progress or (lambda line: logger.info("%s", line))
        #: What the run went through, and when (the aws target gives its own).
        self.timeline = Timeline()

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

    @classmethod
    def load(cls, workdir: Path, *, progress: Progress | None = None) -> TerraformRun:
        """The run recorded in ``workdir`` (or in the run ``.runs/latest`` points to)."""
        workdir = workdir.resolve()
        return cls(read_record(workdir), runs_dir=workdir.parent, progress=progress)

    @property
    def tags(self) -> dict[str, str]:
        """The tags that pick out this run's resources."""
        return run_selector(self.record.run_id)

    @functools.cached_property
    def bundle(self) -> bytes:
        """The application this run deploys: made once, so that the hash the user data pins
        and the bytes sent to the instance are the same."""
        return app_bundle()

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
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }

    def terraform(self, *args: str, capture: bool = False, ok: Sequence[int] = (0,)) -> str:
        """One Terraform command in the run's directory (:func:`harness.terraform.run_logged`);
        returns what it printed when ``capture``."""
        return self._terraform(args, capture=capture, ok=ok)[1]

    def _terraform(
        self, args: Sequence[str], *, capture: bool, ok: Sequence[int]
    ) -> tuple[int, str]:
        return terraform.run_logged(
            args,
            cwd=self.tf_dir,
            env=self.environment(),
            log_dir=self.workdir,
            progress=self.progress,
            capture=capture,
            ok=ok,
        )

    def init(self) -> None:
        saved_version = reuse_lock(self.saved_lock_file, self.tf_dir)
        self.cloud.before_init(self)
        with self.timeline.phase(phases.INIT):
            self.terraform("init", "-input=false", "-no-color")
        keep_lock(self.saved_lock_file, self.tf_dir, saved_version)

    def apply(self) -> None:
        with self.timeline.phase(phases.APPLY):
            self.terraform("apply", "-auto-approve", "-input=false", "-no-color", LOCK_WAIT)
        with self.timeline.phase(phases.INSTANCE):
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
        with self.timeline.phase(phases.DESTROY):
            try:
                self.terraform("destroy", "-auto-approve", "-input=false", "-no-color", LOCK_WAIT)
            finally:
                self.cloud.after_destroy(self, self.progress)

    # -- the sequence ------------------------------------------------------------------

    def wait_healthy(self, base_url: str, watch: BootWatch | None, timeout: float) -> str:
        """Wait until the API at ``base_url`` answers /health; returns ``base_url``."""
        return wait_until_healthy(
            base_url,
            watch,
            timeout=timeout,
            max_wait=self.cloud.boot_poll_max_wait,
            progress=self.progress,
        )

    def deploy(self, *, wait: bool = True, health_timeout: float = HEALTH_TIMEOUT) -> str:
        """init, apply, outputs, the application sent to the instance, and (unless ``wait``
        is false) the wait for /health; returns where the API answers. Raises on the first
        failure: the caller destroys."""
        self.init()
        self.apply()
        with self.timeline.phase(phases.FIRST_BOOT):
            self.read_outputs()
            base_url = self.cloud.base_url(self)
            watch = self.cloud.boot_watch(self)
            asked = wait_until_asked(
                base_url,
                self.bundle,
                timeout=health_timeout,
                progress=self.progress,
                failed=watch.failed if watch else lambda: None,
                max_wait=self.cloud.boot_poll_max_wait,
            )
        if asked:
            with self.timeline.phase(phases.DELIVERY):
                send(base_url, self.bundle, progress=self.progress)
        if not wait:
            return base_url
        with self.timeline.phase(phases.IMAGE_BUILD):
            return self.wait_healthy(base_url, watch, health_timeout)

    def reuse(self, *, health_timeout: float = HEALTH_TIMEOUT) -> str:
        """The kept deployment again: a plan that says whether this tree would change it,
        then the same wait. Nothing is applied."""
        self.cloud.before_init(self)
        with self.timeline.phase(phases.PLAN):
            changes = self.plan_changes()
        if changes:
            self.progress(
                "terraform plan: this tree would change the kept deployment (not applied; "
                f"see {self.workdir / 'terraform.log'}); testing it as it is"
            )
        else:
            self.progress(
                "terraform plan: no changes, the kept deployment is what this tree deploys"
            )
        with self.timeline.phase(phases.HEALTHY):
            return self.wait_healthy(
                self.cloud.base_url(self), self.cloud.boot_watch(self), health_timeout
            )
