"""The Docker side of the harness, one job a module (as Terratest's ``modules/docker`` keeps
one verb a file):

- :mod:`~harness.docker.cli`: the ``docker`` command line, every call bounded by a timeout.
- :mod:`~harness.docker.image`: the service's image, its content hash and tag, its build.
- :mod:`~harness.docker.base_image`: the base image to build on, pulled or made locally.
- :mod:`~harness.docker.pip`: this machine's package index, for pip inside a build.
- :mod:`~harness.docker.clean`: removing what the harness made.
- ``python -m harness.docker``: the same for scripts and CI.
"""

from __future__ import annotations

from harness.docker.base_image import LOCAL_BASE_IMAGE, choose_base_image, dockerfile_default_base
from harness.docker.cli import (
    HOW_TO_START_AN_ENGINE,
    Docker,
    DockerError,
    EngineUnavailable,
)
from harness.docker.image import (
    CONTAINER_PORT,
    IMAGE_REPOSITORY,
    content_hash,
    ensure_image,
    image_files,
    image_tag,
)
from harness.docker.pip import pip_build_args

__all__ = [
    "CONTAINER_PORT",
    "HOW_TO_START_AN_ENGINE",
    "IMAGE_REPOSITORY",
    "LOCAL_BASE_IMAGE",
    "Docker",
    "DockerError",
    "EngineUnavailable",
    "choose_base_image",
    "content_hash",
    "dockerfile_default_base",
    "ensure_image",
    "image_files",
    "image_tag",
    "pip_build_args",
]
