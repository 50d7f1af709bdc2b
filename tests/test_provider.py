"""The AWS provider: the exact release terraform/ pins, and finding a mirror of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.paths import TERRAFORM_DIR
from harness.provider import (
    PROVIDER,
    find_mirror,
    mirror_cli_config,
    pinned_version,
    this_platform,
)


def test_the_configuration_pins_one_exact_release() -> None:
    assert pinned_version() == "5.100.0"


def test_a_version_range_is_not_a_pin(tmp_path: Path) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy)
    versions = copy / "versions.tf"
    versions.write_text(versions.read_text().replace('version = "5.100.0"', 'version = "~> 5.0"'))

    with pytest.raises(ValueError, match="not pinned to one release"):
        pinned_version(copy)


def mirror_at(root: Path, version: str) -> Path:
    directory = root / PROVIDER / version / this_platform()
    directory.mkdir(parents=True)
    (directory / f"terraform-provider-aws_v{version}_x5").write_bytes(b"")
    return root


def test_a_mirror_named_in_the_environment_is_used(tmp_path: Path) -> None:
    root = mirror_at(tmp_path / "mirror", "5.100.0")

    assert find_mirror("5.100.0", {"TF_PROVIDER_MIRROR": str(root)}) == root


def test_a_mirror_of_another_release_is_not(tmp_path: Path) -> None:
    root = mirror_at(tmp_path / "mirror", "5.99.0")

    assert find_mirror("5.100.0", {"TF_PROVIDER_MIRROR": str(root)}) is None


def test_a_packed_mirror_as_terraform_providers_mirror_writes_it_is_found(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    (root / PROVIDER).mkdir(parents=True)
    (root / PROVIDER / f"terraform-provider-aws_5.100.0_{this_platform()}.zip").write_bytes(b"")
    (root / PROVIDER / "terraform-provider-aws_5.100.0_plan9_mips.zip").write_bytes(b"")

    assert find_mirror("5.100.0", {"TF_PROVIDER_MIRROR": str(root)}) == root
    assert find_mirror("5.99.0", {"TF_PROVIDER_MIRROR": str(root)}) is None


def test_a_packed_mirror_for_another_platform_is_not(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    (root / PROVIDER).mkdir(parents=True)
    (root / PROVIDER / "terraform-provider-aws_5.100.0_plan9_mips.zip").write_bytes(b"")

    assert find_mirror("5.100.0", {"TF_PROVIDER_MIRROR": str(root)}) is None


def test_the_cli_configuration_installs_the_provider_from_the_mirror_only(tmp_path: Path) -> None:
    config = mirror_cli_config(tmp_path)

    assert f'path    = "{tmp_path}"' in config
    assert f'include = ["{PROVIDER}"]' in config
    assert f'exclude = ["{PROVIDER}"]' in config
