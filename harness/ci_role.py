"""The CI role's permission policy, rendered as Terraform renders it for the role.

``terraform/ci-role/policy.json.tftpl`` is the one source: Terraform attaches
``templatefile()`` of it with the module's variables; the rehearsal enforces the same template
rendered here with the same defaults (or the regions a rehearsal runs in, as an account owner
would pass ``-var allowed_regions=...``). The template uses only ``${jsonencode(name)}``, so
the rendering below is the whole of what ``templatefile()`` does to it; tests/test_ci_role.py
renders it with Terraform too and compares.

Run as a module, it prints the rendered policy (what ``scripts/lint.sh`` gives parliament)::

    python -m harness.ci_role [--region R ...]
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.hcl import load_directory
from harness.paths import TERRAFORM_DIR

CI_ROLE_DIR = TERRAFORM_DIR / "ci-role"
POLICY_TEMPLATE = CI_ROLE_DIR / "policy.json.tftpl"
#: The template's only interpolation: a variable, JSON-encoded.
_INTERPOLATION = re.compile(r"\$\{jsonencode\(([a-z_]+)\)\}")


class PolicyTemplateError(ValueError):
    """The template holds something this rendering does not do as templatefile() would."""


@dataclass(frozen=True)
class RoleSettings:
    """The module variables the policy is rendered with."""

    project: str
    allowed_regions: tuple[str, ...]
    allowed_instance_types: tuple[str, ...]

    def with_regions(self, regions: Sequence[str]) -> RoleSettings:
        return replace(self, allowed_regions=tuple(regions))

    def variables(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "allowed_regions": list(self.allowed_regions),
            "allowed_instance_types": list(self.allowed_instance_types),
        }


def default_settings(module: Path = CI_ROLE_DIR) -> RoleSettings:
    """The module's own defaults, as ``terraform apply`` without ``-var`` uses them."""
    variables = load_directory(module).variables()
    return RoleSettings(
        project=str(variables["project"]["default"]),
        allowed_regions=tuple(variables["allowed_regions"]["default"]),
        allowed_instance_types=tuple(variables["allowed_instance_types"]["default"]),
    )


def render(template: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    """``templatefile()`` of a template whose only interpolation is ``${jsonencode(name)}``."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise PolicyTemplateError(f"the policy template uses an unknown variable: {name}")
        return json.dumps(variables[name])

    rendered = _INTERPOLATION.sub(value, template)
    if "${" in rendered or "%{" in rendered:
        raise PolicyTemplateError(
            "the policy template holds an interpolation other than ${jsonencode(variable)}"
        )
    document: dict[str, Any] = json.loads(rendered)
    return document


def policy(settings: RoleSettings | None = None) -> dict[str, Any]:
    """The role's policy document, rendered with ``settings`` (the module's defaults)."""
    chosen = settings or default_settings()
    return render(POLICY_TEMPLATE.read_text(), chosen.variables())


def main(argv: Sequence[str] | None = None) -> int:
    """Print the rendered policy; exit 0, or 2 on a bad argument (argparse's own)."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.ci_role",
        description="Print the CI role's policy as terraform/ci-role/ attaches it.",
    )
    parser.add_argument(
        "--region",
        action="append",
        default=[],
        help="an allowed region (repeat it); the module's default when none is given",
    )
    args = parser.parse_args(argv)
    settings = default_settings()
    if args.region:
        settings = settings.with_regions(args.region)
    print(json.dumps(policy(settings), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
