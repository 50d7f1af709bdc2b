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
from typing import ClassVar

from harness import cloud_choice, teardown, terraform
from harness import timeline as phases
from harness.cloud import Cloud, RealAws, runner_cidrs
from harness.deploy import HEALTH_TIMEOUT, TerraformRun
from harness.leftovers import Leftover
from harness.paths import RUNS_DIR
from harness.reboot import reboot
from harness.redact import safe_url
from harness.runs import RunRecord, latest_run_dir, region_from
from harness.targets.base import (
    RESTART,
    TEARDOWN,
    Endpoint,
    Target,
    TargetOptions,
    TargetUnavailable,
    print_progress,
)
from harness.targets.url import existing_deployment

logger = logging.getLogger(__name__)


class AwsTarget(Target):
    """Applies terraform/ in the run's own directory, tests the instance, destroys it."""

    name = "aws"
    capabilities: ClassVar[frozenset[str]] = frozenset({RESTART})
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
        #: The cloud of the run this session created (None: none yet, or --reuse).
        self._cloud: Cloud | None = None
        report = options.progress or print_progress

        def say(line: str) -> None:
            report(f"[aws] {line}")

        self.say = say

    def _start(self) -> Endpoint:
        options = self.options
        if options.base_url:
            # An existing deployment: tested as the url target tests one, nothing touched.
            cloud_choice.check_existing_deployment(options.base_url, rehearse=options.rehearse)
            endpoint = existing_deployment(options)
            self.say(
                f"testing the existing deployment at {safe_url(endpoint.base_url)}; nothing "
                "will be destroyed"
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
            run.timeline = self.timeline
            self.run = self._last_run = run
            self.say(f"reusing run {run.record.run_id} ({run.workdir}, {run.cloud.kind})")
            api_key = run.api_key()
            self.mask(api_key)
            return Endpoint(run.reuse(health_timeout=health_timeout), api_key)
        self._cloud = cloud = cloud_choice.choose(
            rehearse=options.rehearse,
            emulator_url=options.emulator_url,
            progress=self.say,
            outlives_the_command="--keep with --rehearse" if options.keep else None,
            region=options.region or region_from(),
        )
        record = RunRecord(
            run_id=options.run_id,
            region=options.region or region_from(),
            allowed_cidrs=runner_cidrs(options.allowed_cidrs, cloud),
            ttl_minutes=options.ttl_minutes,
        )
        api_key = self.run_key()
        self.run = self._last_run = TerraformRun.create(
            record, api_key, cloud=cloud, runs_dir=runs_dir, progress=self.say
        )  # from here on, _stop() destroys
        self.run.timeline = self.timeline
        self.say(f"run {record.run_id}: applying in {self.run.workdir} ({cloud.kind})")
        return Endpoint(self.run.deploy(health_timeout=health_timeout), api_key)

    def restart(self) -> None:
        """Reboot the instance through EC2 (RebootInstances) and wait until the service
        answers again at the same address; the first boot's user data does not run again."""
        if self.run is None:
            raise TargetUnavailable(
                "the aws target restarts only an instance it deployed or reuses (not one "
                "given by --base-url)"
            )
        with self.timeline.phase(phases.REBOOT):
            reboot(
                self.run,
                self.endpoint.base_url,
                self.say,
                timeout=self.options.reboot_timeout or self.run.cloud.reboot_timeout,
            )

    def leftovers(self) -> list[Leftover]:
        """The teardown inventory of the last run: what carries its tags, in AWS or beyond."""
        if self._last_run is None:
            return []
        return teardown.check(self._last_run, timeout=0)

    def _note_what_was_made(self, run: TerraformRun) -> None:
        """Keep, for the report, what only the live deployment can tell: the first boot's log
        and what Terraform created. Anything that fails here is noted, never in the way of
        the destroy that follows."""
        try:
            created = terraform.created_resources(run.tf_dir)
        except (OSError, ValueError, KeyError) as exc:
            self.timeline.note(phases.CREATED, f"the state could not be read: {exc}\n")
        else:
            lines = [f"{address}\t{ident}" for address, ident in created]
            outputs = [f"{name} = {value}" for name, value in run.record.outputs.items()]
            head = f"run {run.record.run_id}: {len(created)} resource(s) in the state (address, id)"
            body = "\n".join([head, *lines, "", "outputs:", *outputs])
            self.timeline.note(phases.CREATED, body + "\n")
        if "instance_id" not in run.record.outputs:
            return
        try:
            where, text = run.cloud.first_boot_log(run)
        except Exception as exc:  # a report's extra: never in the way of the destroy
            self.timeline.note(phases.FIRST_BOOT_LOG, f"could not be read: {exc}\n")
        else:
            self.timeline.note(phases.FIRST_BOOT_LOG, f"{where}:\n\n{text}")

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
            self._note_what_was_made(run)
            self.say(f"destroying run {run.record.run_id}")
            teardown.destroy_and_verify(
                run, teardown_timeout=self.options.teardown_timeout or teardown.TEARDOWN_TIMEOUT
            )
        finally:
            cloud, self._cloud = self._cloud, None
            if cloud is not None:
                cloud.close(self.options.run_id, self.say)
