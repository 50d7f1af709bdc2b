"""The feature-file lint: the repository's files are clean, and each kind of finding is found."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.gherkin_lint import default_features, lint, main, step_modules

STEPS = """
from pytest_bdd import given, parsers, then, when


@given("a counter")
def a_counter():
    pass


@when(parsers.parse("it is set to {value:d}"))
def set_to(value):
    pass


@then("it shows the value")
def shows_value():
    pass


@then("nobody ever says this")
def never_used():
    pass
"""


@pytest.fixture
def steps_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A step module of its own (a unique name: the step registry is per process)."""
    name = f"lint_steps_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(STEPS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def feature(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_the_repositorys_feature_files_are_clean() -> None:
    features = default_features()
    assert Path("features/status.feature").resolve() in features
    assert lint(features, step_modules()) == []
    assert main([]) == 0


def test_every_kind_of_finding_is_found(tmp_path: Path, steps_module: str) -> None:
    first = feature(
        tmp_path,
        "counter.feature",
        """
        Feature: Counter
          Background:
            Given a counter

          Scenario Outline: Set
            When it is set to <value>
            Then it shows the value
            And it shows nothing at all

            Examples:
              | value |
              | 1     |
              | one   |

          Scenario: Set
            Then it shows the value
        """,
    )
    second = feature(
        tmp_path,
        "again.feature",
        """
        Feature: Again
          Scenario: Set
            Given it is set to 2
        """,
    )
    broken = feature(tmp_path, "broken.feature", "Scenario: no feature line\n  Given x\n")

    findings = [str(f) for f in lint([first, second, broken], [steps_module])]

    shown = {path: str(path) for path in (first, second, broken)}
    # Told once per step, however many examples repeat it.
    assert sorted(findings) == sorted(
        [
            f"{shown[first]}:6: no step definition for when: 'it is set to one'",
            f"{shown[first]}:8: no step definition for then: 'it shows nothing at all'",
            f"{shown[first]}:15: scenario 'Set' is also at {shown[first]}:5",
            f"{shown[second]}:2: scenario 'Set' is also at {shown[first]}:5",
            f"{shown[second]}:3: no step definition for given: 'it is set to 2'",
            next(f for f in findings if f.startswith(f"{shown[broken]}:1: does not parse")),
            next(f for f in findings if "@then('nobody ever says this') is never used" in f),
        ]
    ), findings
