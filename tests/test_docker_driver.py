"""The Docker driver: what makes an image reusable, which base it builds on, that it never
hangs, and that it removes what a run labelled (with a recording double of the CLI)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from harness import docker as driver
from harness.docker import Docker, DockerError, base_image, pip
from harness.docker.cli import QUICK
from harness.leftovers import describe

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of what the image is built from."""
    root = tmp_path / "tree"
    root.mkdir()
    shutil.copy(REPO_ROOT / "Dockerfile", root / "Dockerfile")
    shutil.copy(REPO_ROOT / "requirements.txt", root / "requirements.txt")
    shutil.copytree(REPO_ROOT / "app", root / "app", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_an_unchanged_tree_has_the_same_hash(tree: Path) -> None:
    assert driver.content_hash(tree) == driver.content_hash(tree)


@pytest.mark.parametrize(
    "change",
    [
        "Dockerfile",
        "requirements.txt",
        "app/main.py",
    ],
)
def test_changing_what_the_image_copies_changes_the_hash(tree: Path, change: str) -> None:
    before = driver.content_hash(tree)
    with (tree / change).open("a") as file:
        file.write("\n# changed\n")
    assert driver.content_hash(tree) != before


def test_a_new_file_under_app_changes_the_hash(tree: Path) -> None:
    before = driver.content_hash(tree)
    (tree / "app" / "extra.py").write_text("")
    assert driver.content_hash(tree) != before


def test_renaming_a_file_changes_the_hash(tree: Path) -> None:
    before = driver.content_hash(tree)
    (tree / "app" / "auth.py").rename(tree / "app" / "auth2.py")
    assert driver.content_hash(tree) != before


def test_what_the_image_never_holds_does_not_change_the_hash(tree: Path) -> None:
    before = driver.content_hash(tree)
    (tree / "app" / "__pycache__").mkdir()
    (tree / "app" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (tree / "app" / "stale.pyc").write_bytes(b"\0")
    (tree / "README.md").write_text("docs are not in the image")
    (tree / "tests").mkdir()
    (tree / "tests" / "test_x.py").write_text("")
    assert driver.content_hash(tree) == before


def test_the_base_image_is_part_of_the_tag(tree: Path) -> None:
    official = driver.image_tag(tree, base_image="python:3.11-slim")
    local = driver.image_tag(tree, base_image=driver.LOCAL_BASE_IMAGE)
    assert official != local
    assert official.startswith(f"{driver.IMAGE_REPOSITORY}:")


def test_the_dockerfile_default_base_is_the_official_slim_image() -> None:
    assert driver.dockerfile_default_base(REPO_ROOT) == "python:3.11-slim"


def test_a_dockerfile_without_a_base_argument_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(DockerError, match="BASE_IMAGE"):
        driver.dockerfile_default_base(tmp_path)


def test_only_http_indexes_reach_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pip, "_pip_config", lambda key: "")
    environ = {
        "PIP_INDEX_URL": "https://index.invalid/simple",
        "PIP_EXTRA_INDEX_URL": "file:///opt/pypi/simple http://extra.invalid/simple",
    }
    assert driver.pip_build_args(environ) == {
        "PIP_INDEX_URL": "https://index.invalid/simple",
        "PIP_EXTRA_INDEX_URL": "http://extra.invalid/simple",
    }


def test_local_indexes_are_not_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {"global.extra-index-url": "file:///opt/pypi/simple", "global.index-url": ""}
    monkeypatch.setattr(pip, "_pip_config", config.__getitem__)
    assert driver.pip_build_args({}) == {}


@pytest.fixture(autouse=True)
def no_remembered_pull_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test decides what pulls fail: forget what earlier tests of the session saw."""
    monkeypatch.setattr(base_image, "_UNPULLABLE", set())


class RecordingDocker(Docker):
    """Answers docker commands from a table instead of running them; records each call."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, str]] | None = None) -> None:
        super().__init__("docker")
        self.answers = answers or {}
        self.calls: list[tuple[str, ...]] = []

    def run(
        self,
        *args: str,
        timeout: float = QUICK,
        check: bool = True,
        env: object = None,
    ) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        code, out = next(
            (answer for prefix, answer in self.answers.items() if args[: len(prefix)] == prefix),
            (0, ""),
        )
        if check and code != 0:
            raise DockerError(f"docker {args[0]} failed")
        return subprocess.CompletedProcess(list(args), code, out, "No such object" if code else "")


def test_the_default_base_is_used_when_it_can_be_pulled(tree: Path) -> None:
    docker = RecordingDocker({("image", "inspect"): (1, "")})
    assert driver.choose_base_image(docker, root=tree, build_if_missing=False) == (
        "python:3.11-slim"
    )
    assert ("pull", "--quiet", "python:3.11-slim") in docker.calls


def test_the_local_base_is_used_only_when_pulling_fails(tree: Path) -> None:
    docker = RecordingDocker(
        {
            ("image", "inspect", "python:3.11-slim"): (1, ""),
            ("pull",): (1, ""),
            ("image", "inspect", driver.LOCAL_BASE_IMAGE): (0, "[]"),
        }
    )
    assert driver.choose_base_image(docker, root=tree, build_if_missing=False) == (
        driver.LOCAL_BASE_IMAGE
    )


def test_without_a_pull_nor_a_local_base_it_says_how_to_make_one(tree: Path) -> None:
    docker = RecordingDocker({("image", "inspect"): (1, ""), ("pull",): (1, "")})
    with pytest.raises(DockerError, match=r"build_base_image\.sh"):
        driver.choose_base_image(docker, root=tree, build_if_missing=False)


def test_an_image_with_the_same_content_hash_is_reused(tree: Path) -> None:
    docker = RecordingDocker()  # every image "exists"
    tag = driver.ensure_image(docker, root=tree, base_image="python:3.11-slim")
    assert tag == driver.image_tag(tree, base_image="python:3.11-slim")
    assert not [call for call in docker.calls if call[0] == "build"]


def test_a_missing_image_is_built_with_its_base(tree: Path) -> None:
    docker = RecordingDocker({("image", "inspect"): (1, "")})
    tag = driver.ensure_image(docker, root=tree, base_image=driver.LOCAL_BASE_IMAGE)
    [build] = [call for call in docker.calls if call[0] == "build"]
    assert tag in build
    assert f"BASE_IMAGE={driver.LOCAL_BASE_IMAGE}" in build


def test_a_run_is_removed_containers_first_and_gone_is_fine() -> None:
    docker = RecordingDocker(
        {
            ("ps",): (0, "c1\n"),
            ("volume", "ls"): (0, "v1\n"),
            ("network", "ls"): (0, "n1\n"),
            ("volume", "rm"): (1, ""),  # already gone
        }
    )
    docker.remove_run("run-x")
    removals = [call[:2] for call in docker.calls if "rm" in call[:2] or call[0] == "stop"]
    assert removals == [("stop", "--time"), ("rm", "--force"), ("volume", "rm"), ("network", "rm")]


def test_leftovers_name_each_kind() -> None:
    docker = RecordingDocker(
        {
            ("ps", "--format"): (0, "c\n"),
            ("volume", "ls"): (0, "v\n"),
            ("network", "ls"): (0, "n\n"),
        }
    )

    assert describe(docker.leftovers({"RunId": "run-x"})) == [
        "docker:container\tc\texists",
        "docker:volume\tv\texists",
        "docker:network\tn\texists",
    ]


def test_no_client_is_a_clear_problem_at_once() -> None:
    started = time.monotonic()
    problem = Docker("/nonexistent/docker").engine_problem()
    assert problem is not None
    assert "no docker client" in problem
    assert time.monotonic() - started < 1


def test_a_hung_engine_is_given_up_on_in_time(tmp_path: Path) -> None:
    hung = tmp_path / "docker"
    hung.write_text("#!/bin/sh\nexec sleep 30\n")
    hung.chmod(0o755)
    started = time.monotonic()
    problem = Docker(str(hung)).engine_problem(timeout=0.5)
    assert problem is not None
    assert "did not answer" in problem
    assert time.monotonic() - started < 5


@pytest.mark.slow
@pytest.mark.usefixtures("docker_engine")
def test_a_real_unchanged_tree_reuses_its_image() -> None:
    docker = Docker()
    first = driver.ensure_image(docker)
    started = time.monotonic()
    assert driver.ensure_image(docker) == first
    assert time.monotonic() - started < 10, "an unchanged tree must not be rebuilt"
