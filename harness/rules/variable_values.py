"""The variables' own ``validation`` blocks, run by Terraform itself: the one rule on
``terraform/`` that needs Terraform (the others, in :mod:`harness.rules`, only read files).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import terraform


@dataclass(frozen=True)
class VariableCheck:
    """What Terraform said about a set of variable values."""

    accepted: bool
    message: str


def check_variable_values(
    variables_tf: Path, values: Mapping[str, Any], workdir: Path
) -> VariableCheck:
    """Run the variables' own ``validation`` blocks with Terraform itself, offline.

    ``variables.tf`` alone declares no provider, so ``terraform plan`` on a copy of it needs
    no ``init`` and no registry: it checks the values and plans nothing.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "variables.tf").write_text(variables_tf.read_text(encoding="utf-8"))
    (workdir / "check.auto.tfvars.json").write_text(json.dumps(dict(values)))
    completed = terraform.run(
        ("plan", "-input=false", "-lock=false"),
        cwd=workdir,
        env=terraform.quiet_cli_config(workdir),
        timeout=120,
    )
    errors = [line.strip("│╷╵ ") for line in completed.stderr.splitlines() if line.strip("│╷╵ ")]
    return VariableCheck(completed.returncode == 0, "\n".join(errors))
