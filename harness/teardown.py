"""The end of an aws run: ``terraform destroy``, then the teardown check, which proves that
nothing tagged with the run's id remains, in AWS or beyond (the cloud's own leftovers, such
as a rehearsal's sandboxes). The run's directory, and so its state, goes only then; if
anything remains, the state is kept and the one command that finishes the job is printed.
"""

from __future__ import annotations

from harness import aws_inventory
from harness import timeline as phases
from harness.deploy import TerraformRun
from harness.errors import DeploymentError
from harness.leftovers import Leftover, describe

#: AWS takes a while to finish terminating: how long the teardown check waits for it.
TEARDOWN_TIMEOUT = 180.0


def check(run: TerraformRun, timeout: float = TEARDOWN_TIMEOUT) -> list[Leftover]:
    """What still carries ``run``'s tags, in AWS or beyond (after waiting up to ``timeout``
    for AWS to finish deleting)."""
    session, endpoint = run.cloud.aws_session(run.record.region)
    with run.timeline.phase(phases.TEARDOWN_CHECK):
        try:
            found = aws_inventory.check(
                run.tags,
                region=run.record.region,
                timeout=timeout,
                on_retry=lambda left, elapsed: run.progress(
                    f"{len(left)} resource(s) still tagged with {run.record.run_id} "
                    f"after {elapsed:.0f}s; checking again"
                ),
                session=session,
                endpoint_url=endpoint,
            )
        except aws_inventory.CheckError as exc:
            run.timeline.note(phases.TEARDOWN_VERDICT, verdict(run, None, problem=str(exc)))
            raise
        found += run.cloud.other_leftovers(run)
    run.timeline.note(phases.TEARDOWN_VERDICT, verdict(run, found))
    return found


def verdict(run: TerraformRun, found: list[Leftover] | None, problem: str = "") -> str:
    """The teardown check's verdict as a reader wants it: what it looked at, and what it
    found there (None: it could not look, for ``problem``)."""
    tags = ", ".join(f"{key}={value}" for key, value in run.tags.items())
    if found is None:
        head = f"NOT CHECKED: the check could not be made ({problem})"
    elif found:
        head = f"FAILED: {len(found)} resource(s) still carry the run's tags"
    else:
        head = "PASSED: nothing carries the run's tags any more"
    lines = [
        f"teardown check of run {run.record.run_id}: {head}",
        f"tags looked for: {tags}; region {run.record.region} ({run.cloud.kind})",
        "",
        "looked at:",
    ]
    places = [*aws_inventory.LOOKED_AT, *(("elsewhere", p) for p in run.cloud.other_places)]
    for kind, how in places:
        count = "" if found is None else f" — {_count(found, kind)} found"
        lines.append(f"  {kind:<24} {how}{count}")
    if found:
        lines += ["", "still there:", *(f"  {line}" for line in describe(found))]
    return "\n".join(lines) + "\n"


def _count(found: list[Leftover], kind: str) -> int:
    """How many of ``found`` are of ``kind`` (the tagging API's own: those of no EC2 kind;
    elsewhere: Docker's)."""
    ec2_kinds = {looked for looked, _ in aws_inventory.LOOKED_AT}
    if kind == "any service":
        return sum(1 for item in found if item.type not in ec2_kinds and "docker" not in item.type)
    if kind == "elsewhere":
        return sum(1 for item in found if item.type.startswith("docker:"))
    return sum(1 for item in found if item.type == kind)


def destroy_and_verify(run: TerraformRun, teardown_timeout: float = TEARDOWN_TIMEOUT) -> None:
    """Destroy, then prove nothing tagged remains; the run's directory goes only then.

    Raises DeploymentError naming what is left and the command that finishes the job.
    """
    try:
        run.destroy()
    except DeploymentError as exc:
        raise DeploymentError(
            f"{exc}\nthe state is kept in {run.workdir}; finish the cleanup with:\n"
            f"  {run.finish_command()}"
        ) from None
    try:
        leftovers = check(run, teardown_timeout)
    except aws_inventory.CheckError as exc:
        raise DeploymentError(
            f"destroyed, but could not check what remains: {exc}\n"
            f"the state is kept in {run.workdir}; check again with:\n"
            f"  {run.finish_command()}"
        ) from None
    if leftovers:
        lines = "\n".join(f"  {line}" for line in describe(leftovers))
        raise DeploymentError(
            f"terraform destroy left {len(leftovers)} resource(s) tagged "
            f"RunId={run.record.run_id}:\n{lines}\n"
            f"the state is kept in {run.workdir}; finish the cleanup with:\n"
            f"  {run.finish_command()}"
        )
    run.progress(f"teardown verified: nothing tagged RunId={run.record.run_id} remains")
    run.forget()
