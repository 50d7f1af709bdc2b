"""The application as the instance receives it: a gzip'd tar of what its image is built from,
base64-encoded, byte for byte the same for the same files.

Terraform puts the bundle into the instance's user data, and the instance is replaced when
its user data changes (``user_data_replace_on_change``): a bundle that carried the time it
was made, or the files' owners and times, would replace the instance on every apply.
"""

from __future__ import annotations

import base64
import gzip
import io
import tarfile
from pathlib import Path

from harness.docker import REPO_ROOT, image_files

#: Besides the image's inputs: what `docker build` on the instance reads to leave files out.
EXTRA_FILES = (".dockerignore",)


def bundle_files(root: Path = REPO_ROOT) -> list[Path]:
    """What goes into the bundle, in the order it goes in."""
    extra = [root / name for name in EXTRA_FILES if (root / name).is_file()]
    return sorted([*image_files(root), *extra], key=lambda path: path.relative_to(root).as_posix())


def app_bundle(root: Path = REPO_ROOT) -> str:
    """The bundle of the tree at ``root``, as one line of base64."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in bundle_files(root):
            info = tarfile.TarInfo(path.relative_to(root).as_posix())
            content = path.read_bytes()
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(content))
    # mtime=0: no time in the gzip header either.
    compressed = gzip.compress(archive.getvalue(), compresslevel=9, mtime=0)
    return base64.b64encode(compressed).decode("ascii")
