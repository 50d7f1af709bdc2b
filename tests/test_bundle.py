"""The application bundle the instance receives: the same bytes for the same files, whatever
their times, owners or modes, so that a second apply of an unchanged tree changes nothing."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from harness.bundle import app_bundle, bundle_files, sha256
from harness.paths import REPO_ROOT


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of what the bundle is made from."""
    copy = tmp_path / "tree"
    for path in bundle_files(REPO_ROOT):
        target = copy / path.relative_to(REPO_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return copy


def unpack(bundle: bytes) -> tarfile.TarFile:
    return tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz")


def test_the_same_files_give_the_same_bytes(tree: Path) -> None:
    assert app_bundle(tree) == app_bundle(tree)


def test_times_owners_and_modes_do_not_change_the_bytes(tree: Path) -> None:
    before = app_bundle(tree)
    for path in tree.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
        if path.is_file():
            path.chmod(0o600)

    assert app_bundle(tree) == before


def test_a_changed_file_changes_the_bytes(tree: Path) -> None:
    before = app_bundle(tree)
    (tree / "app" / "main.py").write_text((tree / "app" / "main.py").read_text() + "\n# x\n")

    assert app_bundle(tree) != before


def test_the_gzip_header_carries_no_time(tree: Path) -> None:
    raw = app_bundle(tree)

    assert raw[:2] == b"\x1f\x8b"
    assert int.from_bytes(raw[4:8], "little") == 0  # MTIME
    assert gzip.decompress(raw)


def test_entries_are_sorted_with_fixed_metadata_and_no_bytecode(tree: Path) -> None:
    (tree / "app" / "__pycache__").mkdir()
    (tree / "app" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")

    with unpack(app_bundle(tree)) as archive:
        members = archive.getmembers()

    names = [member.name for member in members]
    assert names == sorted(names)
    assert {"Dockerfile", ".dockerignore", "requirements.txt", "app/main.py"} <= set(names)
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {
        (0, 0, 0, "", "", 0o644)
    }


def test_the_hash_the_user_data_pins_is_the_bundles(tree: Path) -> None:
    bundle = app_bundle(tree)

    assert sha256(bundle) == sha256(app_bundle(tree))
    assert len(sha256(bundle)) == 64
