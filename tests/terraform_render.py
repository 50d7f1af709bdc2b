"""Terraform's own ``templatefile()`` and ``base64gzip()``, run offline for the tests of the
user data: the script as an instance would receive it, and its size as EC2 counts it."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import terraform

_RENDER_CONFIG = """\
variable "values" {
  type = any
}

output "rendered" {
  value = templatefile("${path.module}/template", var.values)
}

output "user_data_base64" {
  value = base64gzip(templatefile("${path.module}/template", var.values))
}
"""

#: EC2 refuses user data over this many bytes, counted before base64 (here: gzip'd bytes).
USER_DATA_LIMIT = 16384


@dataclass(frozen=True)
class RenderedTemplate:
    """A template as Terraform's templatefile() renders it, and as EC2 receives it: gzip'd
    by Terraform's base64gzip(), as main.tf sends it."""

    text: str
    user_data_base64: str

    @property
    def user_data_bytes(self) -> int:
        """The size EC2 holds against its limit: the gzip'd bytes, not their base64."""
        return len(base64.b64decode(self.user_data_base64))


def render_template(template: Path, values: Mapping[str, Any], workdir: Path) -> RenderedTemplate:
    """Render ``template`` with Terraform's own ``templatefile()``, offline (no provider)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "main.tf").write_text(_RENDER_CONFIG)
    (workdir / "template").write_text(template.read_text(encoding="utf-8"))
    (workdir / "render.auto.tfvars.json").write_text(json.dumps({"values": dict(values)}))
    env = terraform.quiet_cli_config(workdir)
    for args in (("apply", "-auto-approve", "-input=false", "-lock=false"), ("output", "-json")):
        completed = terraform.run(args, cwd=workdir, env=env, timeout=120)
        if completed.returncode != 0:
            raise RuntimeError(f"terraform {args[0]} failed: {completed.stderr.strip()}")
    outputs = json.loads(completed.stdout)
    return RenderedTemplate(outputs["rendered"]["value"], outputs["user_data_base64"]["value"])
