"""The application as the instance receives it: a gzip'd tar of what its image is built from,
byte for byte the same for the same files.

The instance's user data carries the bundle's SHA-256 (the bundle itself is too big for the
16 KB of user data: the harness sends it once the instance is up, see harness/delivery.py),
and the instance is replaced when its user data changes (``user_data_replace_on_change``): a
bundle that carried the time it was made, or the files' owners and times, would replace the
instance on every apply.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

from harness.docker.image import image_files
from harness.paths import REPO_ROOT

#: Besides the image's inputs: what `docker build` on the instance reads to leave files out.
EXTRA_FILES = (".dockerignore",)


def bundle_files(root: Path = REPO_ROOT) -> list[Path]:
    """What goes into the bundle, in the order it goes in."""
    extra = [root / name for name in EXTRA_FILES if (root / name).is_file()]
    return sorted([*image_files(root), *extra], key=lambda path: path.relative_to(root).as_posix())


def app_bundle(root: Path = REPO_ROOT) -> bytes:
    """The bundle of the tree at ``root``: a tar.gz, the same bytes for the same files."""
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
    return gzip.compress(archive.getvalue(), compresslevel=9, mtime=0)


def sha256(bundle: bytes) -> str:
    """What the instance's user data pins: the only bundle it takes."""
    return hashlib.sha256(bundle).hexdigest()
