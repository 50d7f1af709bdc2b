"""The service's image: what it is made of, its tag (a hash of that), and building it once.

An unchanged tree gives the same tag, so its image is reused; a changed one builds anew, on
the base image :mod:`harness.docker.base_image` chooses.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from harness.docker.base_image import DOCKERFILE, choose_base_image, say
from harness.docker.cli import Docker
from harness.docker.pip import pip_build_args
from harness.labels import PROJECT, PROJECT_KEY
from harness.paths import REPO_ROOT
from harness.ports import SERVICE_PORT

logger = logging.getLogger(__name__)

#: The image built from this repository; its tag is a hash of what goes into it.
IMAGE_REPOSITORY = PROJECT
#: The port the service listens on inside the container.
CONTAINER_PORT = SERVICE_PORT
#: What the Dockerfile copies (besides itself): must match its COPY lines and .dockerignore.
IMAGE_INPUTS = ("requirements.txt", "app")
#: Never part of the image (.dockerignore), so never part of its content hash.
IGNORED_PARTS = ("__pycache__",)
IGNORED_SUFFIXES = (".pyc", ".pyo", ".pyd")
#: Images of this repository kept (newest first) when a new one is built; older ones go.
KEEP_IMAGES = 3


def image_files(root: Path = REPO_ROOT) -> list[Path]:
    """The Dockerfile and every file it copies, in a fixed order: what the image is made of."""
    paths = [root / DOCKERFILE]
    for name in IMAGE_INPUTS:
        path = root / name
        if path.is_dir():
            paths += sorted(p for p in path.rglob("*") if p.is_file() and _in_image(p))
        else:
            paths.append(path)
    return paths


def content_hash(root: Path = REPO_ROOT, *, extra: Iterable[str] = ()) -> str:
    """A hash of the Dockerfile and every file it copies (plus ``extra`` strings such as the
    base image): an unchanged tree gives the same hash, so its image can be reused."""
    digest = hashlib.sha256()
    for path in image_files(root):
        relative = path.relative_to(root).as_posix()
        content = path.read_bytes()
        # Length-prefixed, so that moving bytes between a name and a content changes the hash.
        for part in (relative.encode(), content):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    for text in extra:
        digest.update(b"extra")
        digest.update(len(text).to_bytes(8, "big"))
        digest.update(text.encode())
    return digest.hexdigest()


def _in_image(path: Path) -> bool:
    return not any(part in IGNORED_PARTS for part in path.parts) and (
        path.suffix not in IGNORED_SUFFIXES
    )


def image_tag(root: Path = REPO_ROOT, *, base_image: str) -> str:
    """The tag of the image built from ``root`` on ``base_image``."""
    return f"{IMAGE_REPOSITORY}:{content_hash(root, extra=[base_image])[:16]}"


def ensure_image(
    docker: Docker,
    *,
    root: Path = REPO_ROOT,
    base_image: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> str:
    """The service's image for the tree at ``root``: reused when one with the same content
    hash exists, built otherwise. Returns its tag.

    One process at a time: pytest-xdist workers each start a deployment, and all but the first
    to arrive wait here for its build, then reuse the image."""
    with _build_lock():
        base = base_image or choose_base_image(docker, root=root, progress=progress)
        tag = image_tag(root, base_image=base)
        if docker.image_exists(tag):
            logger.info("reusing image %s (nothing it is built from changed)", tag)
            return tag
        build_args = {"BASE_IMAGE": base, **pip_build_args()}
        say(progress, f"building image {tag} on {base} (its inputs changed or it is new)")
        docker.build(root, tag, build_args=build_args, labels={PROJECT_KEY: PROJECT})
        docker.prune_images(IMAGE_REPOSITORY, keep=KEEP_IMAGES)
        return tag


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """An exclusive lock, across processes, on building the project's images."""
    path = Path(tempfile.gettempdir()) / f"{PROJECT}-image-build.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
