"""The `aws` target: a fresh EC2 instance per run, created by Terraform and always destroyed.

The destroy is armed before the apply starts: whatever happens after the run is created (a
failed apply, a failed scenario, Ctrl-C, SIGTERM or SIGHUP turned into an interrupt),
``stop()`` destroys and then proves with the teardown check that nothing tagged with the
run's id remains — unless ``--keep``, which records the run for a later ``--reuse``.

With ``--rehearse`` the same code runs offline: real Terraform against an AWS emulator, the
instance's first boot played by its user data in a sandbox container (:mod:`harness.rehearsal`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from harness.cloud import Cloud, RealAws
from harness.deploy import (
    HEALTH_TIMEOUT,
    TEARDOWN_TIMEOUT,
    RunRecord,
    TerraformRun,
    latest_run_dir,
    region_from,
    runner_cidrs,
)
from harness.leftovers import Leftover
from harness.paths import RUNS_DIR
from harness.targets.base import (
    TEARDOWN,
    Endpoint,
    Target,
    TargetOptions,
    TargetUnavailable,
    new_api_key,
    print_progress,
)
from harness.targets.url import existing_deployment

if TYPE_CHECKING:
    from harness.rehearsal.emulator import Emulator

logger = logging.getLogger(__name__)


class AwsTarget(Target):
    """Applies terraform/ in the run's own directory, tests the instance, destroys it."""

    name = "aws"
    lacks: ClassVar[dict[str, str]] = {
        TEARDOWN: (
            "the aws target's own session ends with the teardown check of its run; a second "
            "instance per run for this scenario would cost minutes and money"
        ),
    }

    def __init__(self, options: TargetOptions) -> None:
        super().__init__(options)
        self.run: TerraformRun | None = None
        #: The last run started, for leftovers() once it is destroyed.
        self._last_run: TerraformRun | None = None
        #: The emulator this session started for a rehearsal (None: AWS, or one given).
        self._emulator: Emulator | None = None
        report = options.progress or print_progress

        def say(line: str) -> None:
            report(f"[aws] {line}")

        self.say = say

    def _start(self) -> Endpoint:
        options = self.options
        if options.base_url:
            # An existing deployment: tested as the url target tests one, nothing touched.
            if options.rehearse:
                from harness.rehearsal import require_loopback

                require_loopback(options.base_url, "--base-url in a rehearsal")
            endpoint = existing_deployment(options)
            self.say(
                f"testing the existing deployment at {endpoint.base_url}; nothing will be destroyed"
            )
            return endpoint
        runs_dir = options.runs_dir or RUNS_DIR
        health_timeout = options.health_timeout or HEALTH_TIMEOUT
        if options.reuse:
            run = TerraformRun.load(latest_run_dir(runs_dir), progress=self.say)
            if (run.cloud.kind != RealAws.kind) != options.rehearse:
                # Real and rehearsed runs share .runs/latest: never test, then destroy, a
                # real deployment from a rehearsal, nor the other way round.
                hint = "drop --rehearse" if options.rehearse else "add --rehearse"
                raise TargetUnavailable(
                    f"--reuse: the latest run, {run.record.run_id}, was deployed to "
                    f"{run.cloud.kind}: {hint} to reuse it, or deploy a new one"
                )
            self.run = self._last_run = run
            self.say(f"reusing run {run.record.run_id} ({run.workdir}, {run.cloud.kind})")
            return Endpoint(run.reuse(health_timeout=health_timeout), run.api_key())
        cloud = self._cloud()
        record = RunRecord(
            run_id=options.run_id,
            region=options.region or region_from(),
            allowed_cidrs=runner_cidrs(options.allowed_cidrs, cloud),
        )
        api_key = options.api_key or new_api_key()
        self.run = self._last_run = TerraformRun.create(
            record, api_key, cloud=cloud, runs_dir=runs_dir, progress=self.say
        )  # from here on, _stop() destroys
        self.say(f"run {record.run_id}: applying in {self.run.workdir} ({cloud.kind})")
        return Endpoint(self.run.deploy(health_timeout=health_timeout), api_key)

    def _cloud(self) -> Cloud:
        if not self.options.rehearse:
            return RealAws()
        from harness.rehearsal import Rehearsal
        from harness.rehearsal.emulator import Emulator

        url = self.options.emulator_url
        if url is None:
            if self.options.keep:
                raise TargetUnavailable(
                    "--keep with --rehearse needs --emulator-url: the emulator this session "
                    "starts ends with it (start one with: python -m harness.rehearsal.emulator)"
                )
            emulator = Emulator().start()
            self._emulator = emulator
            url = emulator.url
            self.say(f"AWS emulator for this session at {url}")
        return Rehearsal(url)

    def leftovers(self) -> list[Leftover]:
        """The teardown inventory of the last run: what carries its tags, in AWS or beyond."""
        if self._last_run is None:
            return []
        return self._last_run.check_teardown(timeout=0)

    def _stop(self) -> None:
        run, self.run = self.run, None
        try:
            if run is None:
                return
            if self.options.keep:
                runs_dir = f" --runs-dir={run.runs_dir}" if self.options.runs_dir else ""
                url = self._endpoint.base_url if self._endpoint else "(it never answered)"
                self.say(
                    f"kept run {run.record.run_id}: {url}\n"
                    f"  test it again:  pytest features/ --target=aws --reuse{runs_dir}\n"
                    f"  destroy it:     {run.finish_command()}"
                )
                return
            self.say(f"destroying run {run.record.run_id}")
            run.destroy_and_verify(
                teardown_timeout=self.options.teardown_timeout or TEARDOWN_TIMEOUT
            )
        finally:
            self._stop_emulator()

    def _stop_emulator(self) -> None:
        """The session's own emulator ends with it, and everything it emulated with it: the
        sandboxes of the run's instances go too, as a terminated instance would."""
        emulator, self._emulator = self._emulator, None
        if emulator is None:
            return
        from harness.rehearsal.instances import InstanceHost

        for container in InstanceHost(self.options.run_id).reap(alive=()):
            self.say(f"the emulator ends: removed the sandbox {container}")
        emulator.stop()
