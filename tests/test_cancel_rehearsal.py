"""GitHub's cancel of the acceptance job, rehearsed, then the workflow's cleanup job.

The step runs as the workflow runs it: ``bash -e -c 'exec .venv/bin/pytest features/
--target=aws --rehearse --run-id X ...'`` (the ``exec`` makes the harness the step's entry
process, so that it gets the signal). The cancel is GitHub's documented sequence: SIGINT to
the entry process, SIGTERM 7.5 s later, then SIGKILL 2.5 s after that to every process of the
job — found, as the runner finds them, by the ``RUNNER_TRACKING_ID`` in their environment,
Terraform in its own session included. Docker's containers are not processes of the job: the
sandboxes stay, as instances would.

Then the cleanup job's command, exactly: ``state-api-sweep --run-id "$RUN_ID" --region
"$AWS_REGION"``, with the emulator's endpoint and dummy credentials. It must end within five
minutes with nothing tagged with the run's id in the emulator and no sandbox or labelled
container left. Cancelled at three moments: while the instance is being created, during the
scenarios, during the destroy.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tenacity import (
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from harness import aws_inventory
from harness.docker import Docker, DockerError
from harness.labels import RUN_ID_KEY, run_selector
from harness.leftovers import describe
from harness.rehearsal import CREDENTIALS, Rehearsal
from harness.rehearsal.emulator import Emulator
from harness.rehearsal.front import Call, Refusal

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REGION = "us-east-1"
#: GitHub's cancel: SIGINT, SIGTERM 7.5 s later, SIGKILL to the job 2.5 s after that.
SIGTERM_AFTER = 7.5
SIGKILL_AFTER = 2.5
#: A cancelled job's cleanup gets about five minutes.
CLEANUP_BUDGET = 300.0
#: How long a step may take to reach the moment a case cancels at.
REACH_TIMEOUT = 900.0

pytestmark = [pytest.mark.slow, pytest.mark.rehearsal, pytest.mark.usefixtures("rehearsal_tools")]


@dataclass
class CallWatch:
    """Lets every call through, and tells when one of the awaited actions goes by (an
    interceptor that never refuses: a test double of a watching AWS)."""

    awaited: frozenset[str] = frozenset()
    seen: threading.Event = field(default_factory=threading.Event)

    def __call__(self, call: Call) -> Refusal | None:
        if call.action in self.awaited:
            self.seen.set()
        return None

    def await_(self, *actions: str) -> threading.Event:
        self.seen = threading.Event()
        self.awaited = frozenset(actions)
        return self.seen


@pytest.fixture(scope="module")
def watch() -> CallWatch:
    return CallWatch()


@pytest.fixture(scope="module")
def emulator(watch: CallWatch) -> Iterator[Emulator]:
    with Emulator(interceptor=watch, role_regions=[REGION]) as running:
        yield running


def job_env(tracking_id: str) -> dict[str, str]:
    """The job's environment: no real account, and the runner's tracking marker."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "TF_LOG", "PYTEST_"))
    }
    return {**clean, "PYTHONDONTWRITEBYTECODE": "1", "RUNNER_TRACKING_ID": tracking_id}


def start_step(
    emulator: Emulator, run_id: str, runs_dir: Path, log: Path, tracking_id: str, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    """The workflow's test step: bash -e, which execs pytest."""
    pytest_args = [
        "features/",
        "--target=aws",
        "--rehearse",
        f"--run-id={run_id}",
        f"--emulator-url={emulator.url}",
        f"--region={REGION}",
        f"--runs-dir={runs_dir}",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    script = f"exec {shlex.quote(str(BIN / 'pytest'))} {shlex.join(pytest_args)}"
    with log.open("wb") as output:
        return subprocess.Popen(  # the runner starts each step in a process group of its own
            ["bash", "-e", "-c", script],
            cwd=cwd,
            env=job_env(tracking_id),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def job_processes(tracking_id: str) -> list[int]:
    """Every process whose environment carries the job's tracking id, as the runner finds
    them (whatever their session or parent)."""
    marker = f"RUNNER_TRACKING_ID={tracking_id}".encode()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def cancel(step: subprocess.Popen[bytes], tracking_id: str) -> list[int]:
    """GitHub's cancel sequence; returns the processes the final SIGKILL found."""
    step.send_signal(signal.SIGINT)
    _wait(step, SIGTERM_AFTER)
    if step.poll() is None:
        step.send_signal(signal.SIGTERM)
    _wait(step, SIGKILL_AFTER)
    killed: list[int] = []
    for _ in range(20):  # until none is left: a dying parent may have just started one
        pids = job_processes(tracking_id)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.append(pid)
        time.sleep(0.2)
    step.wait(timeout=30)
    return killed


def _wait(step: subprocess.Popen[bytes], seconds: float) -> None:
    try:
        step.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return


class NotYet(Exception):
    """The moment to cancel has not come yet."""


def wait_until(condition: Callable[[], bool], step: subprocess.Popen[bytes], log: Path) -> None:
    """Until ``condition`` holds; fails at once, with the step's output, if the step ends
    first (only "not yet" is waited out)."""
    for attempt in Retrying(
        stop=stop_after_delay(REACH_TIMEOUT),
        wait=wait_fixed(0.05),
        retry=retry_if_exception_type(NotYet),
        reraise=True,
    ):
        with attempt:
            assert step.poll() is None, log.read_text(errors="replace")
            if not condition():
                raise NotYet(f"the step has not reached the moment yet ({log})")


def cleanup_job(emulator: Emulator, run_id: str) -> subprocess.CompletedProcess[str]:
    """The workflow's cleanup job's command, from the venv's bin, against the emulator."""
    env = {
        **job_env(f"cleanup-{run_id}"),
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": emulator.url,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return subprocess.run(
        [str(BIN / "state-api-sweep"), "--run-id", run_id, "--region", REGION],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLEANUP_BUDGET,
        check=False,
    )


def leftovers(emulator: Emulator, run_id: str) -> list[str]:
    """What carries the run's id in the emulator, at once."""
    session, endpoint = Rehearsal(emulator.url).aws_session(REGION)
    return describe(
        aws_inventory.check(run_selector(run_id), session=session, endpoint_url=endpoint)
    )


def sandboxes_left(run_id: str) -> list[str]:
    """What carries the run's id in Docker (the instances' sandboxes and their volumes), once
    the emulator's reaper is through: it ends a terminated instance's sandbox in the front's
    own thread, as EC2 takes a terminated instance through shutting-down in its own time, and
    a Docker engine shared with every test on this machine may take a while to remove it. A
    slow answer is asked again; a sandbox still there after two minutes is a leftover."""
    left: list[str] = Retrying(
        stop=stop_after_delay(120),
        wait=wait_fixed(2),
        retry=retry_if_exception_type(DockerError) | retry_if_result(bool),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else [],
    )(lambda: describe(Docker().leftovers({RUN_ID_KEY: run_id})))
    return left


def _healthy(log: Path) -> bool:
    return "[aws] healthy: http://127.0.0.1:" in log.read_text(errors="replace")


@pytest.mark.parametrize(
    "moment",
    ["creating-the-instance", "during-the-scenarios", "during-the-destroy"],
)
def test_a_cancelled_job_leaves_nothing_once_the_cleanup_job_has_swept(
    emulator: Emulator, watch: CallWatch, tmp_path: Path, moment: str
) -> None:
    run_id = f"gh-{uuid.uuid4().int % 10**11}-1"
    tracking_id = uuid.uuid4().hex
    log = tmp_path / "step.log"
    if moment == "creating-the-instance":
        reached = watch.await_("RunInstances")
    elif moment == "during-the-destroy":
        reached = watch.await_("TerminateInstances", "DeleteSecurityGroup")
    else:
        reached = watch.await_()
    started = time.monotonic()
    step = start_step(emulator, run_id, tmp_path / "runs", log, tracking_id)
    try:
        if moment == "during-the-scenarios":
            wait_until(lambda: _healthy(log), step, log)
        else:
            wait_until(reached.is_set, step, log)
        cancelled_at = time.monotonic() - started
        killed = cancel(step, tracking_id)
    finally:
        for pid in job_processes(tracking_id):  # the test failed half-way: end the job
            os.kill(pid, signal.SIGKILL)
    assert job_processes(tracking_id) == []

    swept_from = time.monotonic()
    cleanup = cleanup_job(emulator, run_id)
    sweep_took = time.monotonic() - swept_from

    output = cleanup.stdout + cleanup.stderr
    step_tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:])
    print(
        f"\n[{moment}] cancelled {cancelled_at:.0f}s after the start; {len(killed)} process(es) "
        f"of the job were still there for the SIGKILL. The step's last lines:\n{step_tail}\n"
        f"The cleanup job took {sweep_took:.0f}s:\n{output}"
    )
    assert cleanup.returncode == 0, output
    assert sweep_took < CLEANUP_BUDGET
    assert leftovers(emulator, run_id) == []
    assert sandboxes_left(run_id) == []
    assert "Traceback" not in output
