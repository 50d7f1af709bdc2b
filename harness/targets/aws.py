"""The `aws` target: a fresh EC2 instance per run, created by Terraform and always destroyed.

The destroy is armed before the apply starts: whatever happens after ``prepare()`` (a failed
apply, a failed scenario, Ctrl-C, SIGTERM or SIGHUP turned into an interrupt), ``stop()``
destroys and then proves with the teardown check that nothing tagged with the run's id
remains — unless ``--keep``, which records the run for a later ``--reuse``.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from harness.deploy import (
    RUNS_DIR,
    RunRecord,
    TerraformRun,
    latest_run_dir,
    region_from,
    runner_cidrs,
)
from harness.readiness import wait_for_health
from harness.targets.base import Endpoint, Target, TargetOptions, new_api_key, print_progress

logger = logging.getLogger(__name__)

#: A first boot installs Docker and builds the image: minutes, not seconds.
HEALTH_TIMEOUT = 15 * 60.0
#: AWS takes a while to finish terminating: how long the teardown check waits for it.
TEARDOWN_TIMEOUT = 180.0


class AwsTarget(Target):
    """Applies terraform/ in the run's own directory, tests the instance, destroys it."""

    name = "aws"
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: TargetOptions) -> None:
        super().__init__(options)
        self.run: TerraformRun | None = None
        report = options.progress or print_progress

        def say(line: str) -> None:
            report(f"[aws] {line}")

        self.say = say

    def start(self) -> Endpoint:
        if self.options.base_url:
            # An existing deployment: test it, touch nothing (no apply, no destroy).
            base_url = self.options.base_url.rstrip("/")
            wait_for_health(base_url, timeout=30.0, progress=self.say)
            self.say(f"testing the existing deployment at {base_url}; nothing will be destroyed")
            return Endpoint(base_url, self.options.api_key)
        runs_dir = self.options.runs_dir or RUNS_DIR
        if self.options.reuse:
            self.run = TerraformRun.load(latest_run_dir(runs_dir), progress=self.say)
            self.say(f"reusing run {self.run.record.run_id} ({self.run.workdir})")
            outputs = self.run.record.outputs
            api_key = self.run.api_key()
        else:
            record = RunRecord(
                run_id=self.options.run_id,
                region=self.options.region or region_from(),
                allowed_cidrs=runner_cidrs(self.options.allowed_cidrs),
            )
            api_key = self.options.api_key or new_api_key()
            run = TerraformRun(record, runs_dir=runs_dir, progress=self.say)
            run.prepare(api_key)
            self.run = run  # from here on, stop() destroys
            self.say(f"run {record.run_id}: applying in {run.workdir}")
            run.init()
            run.apply()
            outputs = run.read_outputs()
        base_url = str(outputs["api_url"]).rstrip("/")
        self.say(
            f"waiting for {base_url}/health (a first boot installs Docker and builds the image)"
        )
        wait_for_health(
            base_url,
            timeout=self.options.health_timeout or HEALTH_TIMEOUT,
            initial_wait=1.0,
            max_wait=20.0,
            progress=self.say,
        )
        self.say(f"healthy: {base_url}")
        return Endpoint(base_url, api_key)

    def stop(self) -> None:
        run, self.run = self.run, None
        if run is None:
            return
        if self.options.keep:
            runs_dir = f" --runs-dir={run.runs_dir}" if self.options.runs_dir else ""
            self.say(
                f"kept run {run.record.run_id}: {run.record.outputs.get('api_url', '(no URL)')}\n"
                f"  test it again:  pytest features/ --target=aws --reuse{runs_dir}\n"
                f"  destroy it:     {run.finish_command()}"
            )
            return
        self.say(f"destroying run {run.record.run_id}")
        run.destroy_and_verify(teardown_timeout=self.options.teardown_timeout or TEARDOWN_TIMEOUT)
