"""The AWS provider for Terraform: the release terraform/ pins, and, offline, a filesystem
mirror of it and the CLI configuration that installs from it.

A mirror in the registry layout holds the provider unpacked
(``ROOT/registry.terraform.io/hashicorp/aws/VERSION/OS_ARCH/``, 675 MB) or packed, as
``terraform providers mirror`` writes it (``ROOT/registry.terraform.io/hashicorp/aws/
terraform-provider-aws_VERSION_OS_ARCH.zip``). Terraform links an unpacked mirror's directory
into each working directory instead of copying it, so every run shares the one copy; a packed
one is unpacked into each run.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from harness.hcl import load_directory
from harness.paths import TERRAFORM_DIR
from harness.terraform import LOCK_FILE

#: The provider, as its address in the registry.
PROVIDER = "registry.terraform.io/hashicorp/aws"
#: Set to a mirror's root to use that one.
MIRROR_ENV = "TF_PROVIDER_MIRROR"
#: Where Terraform itself looks for unpacked providers (its "implied local mirror
#: directories"), and other places machine images put a mirror.
SEARCHED = (
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "/opt/*",
)
_MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def pinned_version(directory: Path = TERRAFORM_DIR) -> str:
    """The exact AWS provider release ``required_providers`` pins."""
    for block in load_directory(directory).of_kind("terraform"):
        for providers in block.body.get("required_providers", []):
            version = str(providers.get("aws", {}).get("version", ""))
            if re.fullmatch(r"\d+\.\d+\.\d+", version):
                return version
            raise ValueError(f"the aws provider is not pinned to one release: {version!r}")
    raise ValueError(f"no required_providers block in {directory}")


def locked_version(lock: Path) -> str | None:
    """The AWS provider release a lock file records, or None."""
    if not lock.is_file():
        return None
    found = re.search(
        rf'provider "{re.escape(PROVIDER)}" \{{\s*version\s*=\s*"([^"]+)"', lock.read_text()
    )
    return found.group(1) if found else None


def reuse_lock(saved: Path, tf_dir: Path) -> str | None:
    """Put the lock file of an earlier init (``saved``) into ``tf_dir`` when it locks the
    release ``tf_dir`` pins, so that init installs the same package from the plugin cache
    instead of downloading it again; returns the release ``saved`` locks."""
    version = locked_version(saved)
    if version and version == pinned_version(tf_dir):
        shutil.copy2(saved, tf_dir / LOCK_FILE)
    return version


def keep_lock(saved: Path, tf_dir: Path, saved_version: str | None) -> None:
    """After an init, keep ``tf_dir``'s lock file for later runs if it locks another release
    than ``saved`` did."""
    own = tf_dir / LOCK_FILE
    if own.exists() and locked_version(own) != saved_version:
        shutil.copy2(own, saved)


def this_platform() -> str:
    """Terraform's name for this machine's platform, e.g. ``linux_amd64``."""
    machine = platform.machine().lower()
    return f"{platform.system().lower()}_{_MACHINES.get(machine, machine)}"


def holds(root: Path, version: str, target: str | None = None) -> bool:
    """Whether ``root`` is a mirror holding ``version`` of the provider for this platform,
    unpacked or packed."""
    target = target or this_platform()
    unpacked = root / PROVIDER / version / target
    packed = root / PROVIDER / f"terraform-provider-aws_{version}_{target}.zip"
    return packed.is_file() or any(unpacked.glob("terraform-provider-aws_v*"))


def find_mirror(version: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """The root of a mirror holding ``version`` for this platform, or None."""
    environ = os.environ if environ is None else environ
    given = environ.get(MIRROR_ENV)
    if given:
        return Path(given) if holds(Path(given), version) else None
    for pattern in SEARCHED:
        expanded = Path(pattern).expanduser()
        roots = expanded.parent.glob(expanded.name) if "*" in pattern else [expanded]
        for root in sorted(roots):
            if root.is_dir() and holds(root, version):
                return root
    return None


def mirror_cli_config(root: Path) -> str:
    """A Terraform CLI configuration that installs the AWS provider from ``root`` only."""
    return (
        "# Written by the harness: the AWS provider from a local mirror, never the registry.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{root}"\n'
        f'    include = ["{PROVIDER}"]\n'
        "  }\n"
        "  direct {\n"
        f'    exclude = ["{PROVIDER}"]\n'
        "  }\n"
        "}\n"
    )


def validate(directory: Path = TERRAFORM_DIR) -> tuple[bool, str]:
    """``terraform validate`` of a copy of ``directory`` with the pinned provider, from the
    mirror when there is one (else from the registry); returns whether it passed, and what
    Terraform said."""
    import tempfile

    from harness import terraform

    version = pinned_version(directory)
    mirror = find_mirror(version)
    with tempfile.TemporaryDirectory(prefix="validate-") as scratch:
        copy = Path(scratch) / "terraform"
        shutil.copytree(directory, copy, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
        config = Path(scratch) / "cli.tfrc"
        config.write_text(mirror_cli_config(mirror) if mirror else "")
        env = {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1"}
        said: list[str] = []
        for args in (("init", "-backend=false", "-input=false"), ("validate",)):
            done = terraform.run(args, cwd=copy, env=env)
            said.append((done.stdout + done.stderr).strip())
            if done.returncode != 0:
                where = f"the mirror {mirror}" if mirror else "the registry (no mirror found)"
                return (
                    False,
                    f"terraform {args[0]} failed, provider {version} from {where}:\n{said[-1]}",
                )
    return True, said[-1]


#: Every Terraform configuration of the repository: the deployment, and the CI role.
CONFIGURATIONS = (TERRAFORM_DIR, TERRAFORM_DIR / "ci-role")


def main(argv: list[str] | None = None) -> int:
    """``validate``: terraform validate of terraform/ and terraform/ci-role/ (exit 1 when
    either fails).
    ``mirror``: print the root of a mirror of the pinned provider (exit 1 when none)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m harness.provider", description=main.__doc__)
    parser.add_argument("command", choices=["validate", "mirror"], help="what to do (see above)")
    args = parser.parse_args(argv)
    if args.command == "mirror":
        mirror = find_mirror(pinned_version())
        print(mirror or f"no mirror of {PROVIDER} {pinned_version()} for {this_platform()}")
        return 0 if mirror else 1
    failed = 0
    for directory in CONFIGURATIONS:
        ok, said = validate(directory)
        print(f"{directory.relative_to(TERRAFORM_DIR.parent)}: {said}")
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
