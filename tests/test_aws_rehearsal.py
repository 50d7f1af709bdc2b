"""The `aws` target rehearsed offline, on real Terraform and the real AWS provider.

Every case runs the product as a user runs it — a nested ``pytest --target=aws --rehearse``
session, or ``scripts/deploy.py`` and ``scripts/destroy.py`` — against one AWS emulator
(moto's server behind the rehearsal's front) that this module starts. The front lets a case
refuse an AWS call, as an account's policy or a failing API would. Each instance's first boot
is its own user data, run in a sandbox container.

After each case nothing tagged with the run's id may remain: not in the emulator, not in
Docker. Nothing here sends a request anywhere but 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from harness import aws_inventory
from harness.docker import Docker
from harness.gherkin_lint import pickles
from harness.labels import PROJECT, RUN_ID_KEY, run_selector
from harness.leftovers import describe
from harness.rehearsal import Rehearsal
from harness.rehearsal.emulator import Emulator
from harness.rehearsal.front import Call, Refusal
from harness.rehearsal.instances import CALLS_PATH, InstanceHost
from harness.report.plugin import nested_args
from tests.account_doubles import someone_else

ROOT = Path(__file__).resolve().parents[1]
REHEARSAL = ROOT / "tests" / "rehearsal"
REGION = "us-east-1"
RUN_ID = re.compile(r"\brun (run-[0-9a-f]{12})\b")
#: What the harness prints once the teardown check has found nothing.
VERIFIED = "teardown verified: nothing tagged RunId="
#: The waits of the cases whose service never answers, which they wait out in full: each case
#: sets its own, a few times what a rehearsed first boot (11-17 s from delivery to healthy)
#: or reboot (4-8 s) takes on this machine (bench/RESULTS.md), not the target's defaults
#: (900 s and 90 s), which are for services that do answer.
CASE_HEALTH_TIMEOUT = 40.0
CASE_REBOOT_TIMEOUT = 30.0


pytestmark = [pytest.mark.slow, pytest.mark.rehearsal, pytest.mark.usefixtures("rehearsal_tools")]


@dataclass
class Faults:
    """The AWS calls the front refuses, by action: a test double of a failing AWS."""

    refused: dict[str, Refusal] = field(default_factory=dict)

    def __call__(self, call: Call) -> Refusal | None:
        return self.refused.get(call.action)

    def refuse(self, action: str) -> None:
        # As an organisation's policy refuses it: the provider does not retry this.
        self.refused[action] = Refusal(
            403, "UnauthorizedOperation", f"You are not authorized to perform: {action} (rehearsed)"
        )


@pytest.fixture(scope="module")
def faults() -> Faults:
    return Faults()


@pytest.fixture(scope="module")
def emulator(faults: Faults) -> Iterator[Emulator]:
    with Emulator(interceptor=faults, role_regions=[REGION]) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults_left(faults: Faults) -> Iterator[None]:
    faults.refused.clear()
    yield
    faults.refused.clear()


@pytest.fixture
def env() -> dict[str, str]:
    """The nested commands' environment: nothing of a real account, no bytecode in the tree."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "TF_LOG", "PYTEST_"))
    }
    return {**clean, "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass
class Finished:
    """What a nested command did."""

    returncode: int
    output: str
    runs_dir: Path

    @property
    def run_id(self) -> str:
        found = RUN_ID.search(self.output)
        assert found, f"no run started:\n{self.output}"
        return found.group(1)

    @property
    def run_dir(self) -> Path:
        return self.runs_dir / self.run_id


def leftovers(emulator: Emulator, run_id: str) -> list[str]:
    """Everything that still carries the run's id: in the emulator, and in Docker."""
    session, endpoint = Rehearsal(emulator.url).aws_session(REGION)
    tagged = aws_inventory.check(run_selector(run_id), session=session, endpoint_url=endpoint)
    return describe([*tagged, *Docker().leftovers({RUN_ID_KEY: run_id})])


def session_args(emulator: Emulator, runs_dir: Path, *args: str) -> list[str]:
    """A nested `pytest --target=aws --rehearse` session against this module's emulator."""
    return [
        "-m",
        "pytest",
        *args,
        "--target=aws",
        "--rehearse",
        f"--emulator-url={emulator.url}",
        f"--region={REGION}",
        f"--runs-dir={runs_dir}",
        "--teardown-timeout=10",
        "-p",
        "no:cacheprovider",
        "-q",
    ]


def scenarios_in_the_spec() -> int:
    """Every scenario in features/, each row of an Examples table one."""
    return sum(len(pickles(path)) for path in (ROOT / "features").glob("*.feature"))


def run_python(
    env: dict[str, str], *argv: str, cwd: Path = ROOT, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_session(
    emulator: Emulator, env: dict[str, str], tmp_path: Path, *args: str, cwd: Path = ROOT
) -> Finished:
    runs_dir = tmp_path / "runs"
    done = run_python(env, *session_args(emulator, runs_dir, *args), cwd=cwd)
    return Finished(done.returncode, done.stdout + done.stderr, runs_dir)


def deploy_script(emulator: Emulator, env: dict[str, str], tmp_path: Path, *args: str) -> Finished:
    runs_dir = tmp_path / "runs"
    done = run_python(
        env,
        "scripts/deploy.py",
        "--rehearse",
        f"--emulator-url={emulator.url}",
        f"--region={REGION}",
        f"--runs-dir={runs_dir}",
        *args,
    )
    return Finished(done.returncode, done.stdout + done.stderr, runs_dir)


def test_a_green_run_tests_the_instance_then_destroys_it(
    emulator: Emulator, env: dict[str, str], tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    # Its results join this session's report, as the "aws (rehearsed)" target.
    session = run_session(emulator, env, tmp_path, "features/", *nested_args(pytestconfig))

    assert session.returncode == 0, session.output
    # Every scenario but the one the aws target cannot run, skipped with its reason: a
    # second, throw-away deployment to tear down. The restart reboots the instance.
    ran = scenarios_in_the_spec() - 1
    assert re.search(rf"\b{ran} passed, 1 skipped\b", session.output), session.output
    assert "failed" not in session.output
    assert f"{VERIFIED}{session.run_id} remains" in session.output
    assert "first boot of its user data" in session.output
    rebooted = r"instance i-\w+ rebooted: http://127\.0\.0\.1:\d+ answers again"
    assert re.search(rebooted, session.output), session.output
    assert leftovers(emulator, session.run_id) == []
    assert not session.run_dir.exists()


def test_a_failing_scenario_still_destroys(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    session = run_session(emulator, env, tmp_path, str(REHEARSAL / "failing_scenario.py"))

    assert session.returncode == 1, session.output
    assert "1 failed" in session.output
    assert f"{VERIFIED}{session.run_id} remains" in session.output
    assert leftovers(emulator, session.run_id) == []


def test_warnings_on_stderr_do_not_break_the_outputs(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    """TF_LOG=WARN makes every Terraform command write to stderr; the outputs, which are
    JSON on stdout, must still be read (they were not, when the two were merged)."""
    deployed = deploy_script(emulator, {**env, "TF_LOG": "WARN"}, tmp_path, "--no-wait")

    assert deployed.returncode == 0, deployed.output
    assert re.search(r"printed \d+ line\(s\) on stderr", deployed.output)
    assert re.search(r"deployed run run-\w+: http://127\.0\.0\.1:\d+", deployed.output)
    record = json.loads((deployed.run_dir / "run.json").read_text())
    assert record["outputs"]["instance_id"].startswith("i-")

    destroyed = run_python(
        {**env, "TF_LOG": "WARN"}, "scripts/destroy.py", "--run-dir", str(deployed.run_dir)
    )
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert leftovers(emulator, deployed.run_id) == []
    assert not deployed.run_dir.exists()


def test_the_first_boot_arms_the_dead_mans_switch_before_anything_else(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    deployed = deploy_script(emulator, env, tmp_path, "--no-wait", "--ttl-minutes=45")
    assert deployed.returncode == 0, deployed.output
    try:
        record = json.loads((deployed.run_dir / "run.json").read_text())
        sandbox = InstanceHost(deployed.run_id).find(record["outputs"]["instance_id"])
        assert sandbox is not None, "the instance's sandbox is not running"
        calls = _wait_for_calls(sandbox.container, "dnf install")
    finally:
        destroyed = run_python(env, "scripts/destroy.py", "--run-dir", str(deployed.run_dir))
    commands = [line.split(" ", 1)[1] for line in calls]
    assert commands[0] == "boot: user data starts"
    # The switch first, with the run's own time to live; only then what can fail.
    assert commands[1].startswith("shutdown -h +45 "), commands
    install = next(i for i, command in enumerate(commands) if command.startswith("dnf install"))
    assert install > 1
    assert commands[install].split()[3:] == ["docker", "tar", "gzip"], commands[install]
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert leftovers(emulator, deployed.run_id) == []


def _wait_for_calls(container: str, needle: str, timeout: float = 60) -> list[str]:
    """The sandbox's recorded calls, once one of them holds ``needle`` (or at the timeout)."""
    host = InstanceHost("any")
    lines: list[str] = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(0.5),
        retry=retry_if_result(lambda found: not any(needle in line for line in found)),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else [],
    )(lambda: host.read(container, CALLS_PATH).splitlines())
    return lines


def test_an_apply_refused_half_way_destroys_what_it_made(
    emulator: Emulator, faults: Faults, env: dict[str, str], tmp_path: Path
) -> None:
    faults.refuse("RunInstances")

    session = run_session(emulator, env, tmp_path, "features/test_status.py")

    assert session.returncode != 0, session.output
    assert "terraform apply failed" in session.output
    assert "UnauthorizedOperation" in session.output
    assert "aws_security_group.api: Creation complete" in session.output
    assert "Destroy complete!" in session.output
    assert f"{VERIFIED}{session.run_id} remains" in session.output
    assert "Traceback" not in session.output
    assert leftovers(emulator, session.run_id) == []


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"]
)
def test_a_signal_during_the_apply_still_destroys(
    emulator: Emulator, env: dict[str, str], tmp_path: Path, signum: signal.Signals
) -> None:
    """The signal reaches the session's whole process group, as Ctrl-C in a terminal does,
    while Terraform is creating the instance: the apply is let finish (an apply cut short
    loses an instance whose RunInstances was under way), then everything is destroyed."""
    seen = len(emulator.calls())
    runs_dir = tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, *session_args(emulator, runs_dir, "features/test_status.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        for attempt in Retrying(stop=stop_after_delay(120), wait=wait_fixed(0.1), reraise=True):
            with attempt:
                assert process.poll() is None, process.communicate()[0]
                called = [call.action for call in emulator.calls()[seen:]]
                assert "RunInstances" in called, "the apply never reached RunInstances"
        os.killpg(process.pid, signum)
        output, _ = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    session = Finished(process.returncode, output, runs_dir)
    assert session.returncode != 0, output
    assert "interrupted: letting terraform apply finish" in output, output
    assert "Apply complete! Resources: 8 added" in output, output
    assert "Destroy complete! Resources: 8 destroyed" in output, output
    assert "first boot of its user data" not in output  # an interrupted run goes no further
    assert f"{VERIFIED}{session.run_id} remains" in output, output
    assert leftovers(emulator, session.run_id) == []


def test_a_broken_first_boot_fails_the_run_and_destroys(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    """The user data fails as a real boot would (here: the image does not build); the run
    says so, with the boot's log, instead of waiting out its health timeout."""
    tree = copy_of_the_tree(tmp_path / "tree")
    dockerfile = tree / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace("COPY app/ ./app/", "COPY no-such-dir/ ./app/")
    )

    session = run_session(emulator, env, tmp_path, "features/test_status.py", cwd=tree)

    assert session.returncode != 0, session.output
    assert re.search(
        r"the first boot of instance i-\w+ failed: its user data exited \d+", session.output
    )
    assert "no-such-dir" in session.output  # the boot's own log, shown
    assert f"{VERIFIED}{session.run_id} remains" in session.output
    assert "Traceback" not in session.output
    assert leftovers(emulator, session.run_id) == []


def test_a_service_that_never_becomes_healthy_times_out_and_destroys(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    tree = copy_of_the_tree(tmp_path / "tree")
    main = tree / "app" / "main.py"
    main.write_text(main.read_text() + '\nraise SystemExit("broken on purpose")\n')

    session = run_session(
        emulator,
        env,
        tmp_path,
        "features/test_status.py",
        f"--health-timeout={CASE_HEALTH_TIMEOUT:.0f}",
        cwd=tree,
    )

    assert session.returncode != 0, session.output
    assert f"did not become healthy within {CASE_HEALTH_TIMEOUT:.0f}s" in session.output
    assert "Traceback" not in session.output
    assert f"{VERIFIED}{session.run_id} remains" in session.output
    assert leftovers(emulator, session.run_id) == []


@pytest.mark.parametrize(
    ("was", "now"),
    [
        ("systemctl enable --now docker", "systemctl start docker"),
        ("--restart unless-stopped ", ""),
    ],
    ids=["docker-started-not-enabled", "container-without-restart-policy"],
)
def test_a_first_boot_that_a_reboot_undoes_fails_the_restart_scenario(
    emulator: Emulator, env: dict[str, str], tmp_path: Path, was: str, now: str
) -> None:
    """On Amazon Linux 2023 a reboot runs no user data again: the service comes back only
    if Docker was enabled at boot and the container has a restart policy. Without either,
    the rehearsal's reboot leaves the service down, as AWS would, and the scenario fails."""
    tree = copy_of_the_tree(tmp_path / "tree")
    user_data = tree / "terraform" / "user_data.sh"
    assert was in user_data.read_text()
    user_data.write_text(user_data.read_text().replace(was, now))

    # The service never comes back: the case waits out a reboot budget of its own, still
    # several times what a rehearsed reboot takes (4-8 s, bench/RESULTS.md).
    session = run_session(
        emulator,
        env,
        tmp_path,
        "features/test_persistence.py",
        f"--reboot-timeout={CASE_REBOOT_TIMEOUT:.0f}",
        cwd=tree,
    )

    assert session.returncode == 1, session.output
    assert re.search(r"\b1 failed\b", session.output), session.output
    assert "When the service restarts" in session.output or "service_restarts" in session.output
    assert f"did not come back within {CASE_REBOOT_TIMEOUT:.0f}" in session.output, session.output
    assert f"{VERIFIED}{session.run_id} remains" in session.output
    assert leftovers(emulator, session.run_id) == []


def copy_of_the_tree(target: Path) -> Path:
    """This repository's files (as git sees them) in ``target``, to break one on purpose."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_a_failing_destroy_keeps_the_state_and_says_how_to_finish(
    emulator: Emulator, faults: Faults, env: dict[str, str], tmp_path: Path
) -> None:
    deployed = deploy_script(emulator, env, tmp_path, "--no-wait")
    assert deployed.returncode == 0, deployed.output
    faults.refuse("DeleteSecurityGroup")

    failed = run_python(env, "scripts/destroy.py", "--run-dir", str(deployed.run_dir))

    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output
    assert "UnauthorizedOperation" in output
    assert (deployed.run_dir / "terraform" / "terraform.tfstate").exists()
    printed = re.search(r"finish the cleanup with:\n\s*(.+)", output)
    assert printed, output
    command = shlex.split(printed.group(1))
    assert command == [
        sys.executable,
        str(ROOT / "scripts" / "destroy.py"),
        "--run-dir",
        str(deployed.run_dir),
    ]
    remaining = leftovers(emulator, deployed.run_id)
    assert any("security-group" in line for line in remaining), remaining
    # The instance is gone, and its sandbox with it: only the refused group is left.
    assert not any("container" in line for line in remaining), remaining

    faults.refused.clear()
    finish = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert finish.returncode == 0, finish.stdout + finish.stderr
    assert leftovers(emulator, deployed.run_id) == []
    assert not deployed.run_dir.exists()


def test_a_tagged_resource_the_destroy_did_not_remove_is_swept_and_said_loudly(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    """An instance and a volume made outside Terraform with the run's tags (an apply cut
    short after RunInstances, a hand, another tool): terraform destroy succeeds without them,
    the teardown check finds them, and the sweep removes them — they are the run's by their
    tags. The run ends clean, but says loudly that the destroy left them."""
    deployed = deploy_script(emulator, env, tmp_path, "--no-wait")
    assert deployed.returncode == 0, deployed.output
    ec2 = someone_else(emulator.url, REGION)  # by hand: not the CI role
    tags = [{"Key": "Project", "Value": PROJECT}, {"Key": "RunId", "Value": deployed.run_id}]
    stray_volume = ec2.create_volume(
        AvailabilityZone=f"{REGION}a",
        Size=1,
        TagSpecifications=[{"ResourceType": "volume", "Tags": tags}],
    )["VolumeId"]
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    orphan = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )["Instances"][0]["InstanceId"]

    checked = run_python(
        env, "scripts/destroy.py", "--run-dir", str(deployed.run_dir), "--teardown-timeout=5"
    )

    output = checked.stdout + checked.stderr
    assert checked.returncode == 0, output
    assert "Destroy complete!" in output
    assert f"WARNING: terraform destroy left 2 resource(s) tagged RunId={deployed.run_id}" in output
    assert "WARNING: the sweep removed 2 resource(s) that terraform destroy left" in output
    assert stray_volume in output
    assert orphan in output
    assert f"{VERIFIED}{deployed.run_id} remains" in output
    assert not deployed.run_dir.exists()
    assert leftovers(emulator, deployed.run_id) == []


def test_keep_then_base_url_then_reuse_test_one_deployment_and_never_replace_it(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    kept = run_session(emulator, env, tmp_path, "features/test_status.py", "--keep")
    assert kept.returncode == 0, kept.output
    assert VERIFIED not in kept.output
    record = json.loads((kept.run_dir / "run.json").read_text())
    instance = record["outputs"]["instance_id"]
    sandbox = InstanceHost(kept.run_id).find(instance)
    assert sandbox is not None, "--keep must leave the instance running"
    assert f"--target=aws --reuse --runs-dir={kept.runs_dir}" in kept.output

    # An existing deployment, by its URL: tested, and left alone.
    by_url = run_session(
        emulator,
        env,
        tmp_path,
        "features/test_status.py",
        f"--base-url={sandbox.base_url}",
        f"--api-key={(kept.run_dir / 'api_key').read_text()}",
    )
    assert by_url.returncode == 0, by_url.output
    assert "terraform" not in by_url.output
    assert InstanceHost(kept.run_id).find(instance) is not None

    reused = run_session(emulator, env, tmp_path, "features/test_status.py", "--reuse")
    assert reused.returncode == 0, reused.output
    assert f"reusing run {kept.run_id}" in reused.output
    assert "terraform apply" not in reused.output
    # The same tree plans no change: the instance would not be replaced by a second apply.
    assert "terraform plan: no changes" in reused.output
    assert sandbox.base_url in reused.output
    assert f"{VERIFIED}{kept.run_id} remains" in reused.output
    assert leftovers(emulator, kept.run_id) == []
    assert not kept.run_dir.exists()
