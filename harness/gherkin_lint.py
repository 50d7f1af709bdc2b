"""The feature files held to the official Gherkin parser and to the step definitions.

- every feature file parses with gherkin-official (the parser pytest-bdd itself uses);
- every step of every scenario, examples expanded and backgrounds included, matches a step
  definition of its kind (Given, When, Then; And and But take the kind before them);
- every step definition is used by at least one step;
- no two scenarios (or outlines) share a name, in any of the files: the report lists them
  by name, and two of one name could not be told apart.

    python -m harness.gherkin_lint [FILE.feature ...]

Exit codes: 0 clean; 1 findings (each printed as ``path:line: message``).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gherkin.errors import CompositeParserException, ParserError
from gherkin.parser import Parser
from gherkin.pickles.compiler import Compiler
from pytest_bdd.steps import StepFunctionContext, step_function_context_registry

from harness.paths import REPO_ROOT, repo_path

#: The step definitions the root conftest.py shares with every feature.
STEP_PACKAGE = "steps"
#: The pickle step types the Gherkin compiler gives, as pytest-bdd names them.
KINDS = {"Context": "given", "Action": "when", "Outcome": "then"}


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Definition:
    context: StepFunctionContext
    path: str
    line: int

    @property
    def name(self) -> str:
        return f"@{self.context.type or 'step'}({self.context.parser.name!r})"

    def matches(self, kind: str | None, text: str) -> bool:
        kind_fits = self.context.type is None or kind is None or self.context.type == kind
        return kind_fits and self.context.parser.is_matching(text)


def default_features() -> list[Path]:
    """Every feature file under the repository (hidden folders and node_modules aside): the
    spec, and the ones tests run."""
    return sorted(p for p in REPO_ROOT.rglob("*.feature") if not _ignored(p.relative_to(REPO_ROOT)))


def step_modules(package: str = STEP_PACKAGE) -> list[str]:
    found = importlib.import_module(package)
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules(found.__path__)]


def definitions(modules: Iterable[str]) -> list[Definition]:
    """The step definitions made by ``modules`` (imported here)."""
    names = set(modules)
    for name in names:
        importlib.import_module(name)
    found = []
    for context in list(step_function_context_registry.values()):
        if context.step_func.__module__ not in names:
            continue
        source = inspect.getsourcefile(context.step_func) or "?"
        _, line = inspect.getsourcelines(context.step_func)
        found.append(Definition(context, repo_path(Path(source)), line))
    return sorted(found, key=lambda d: (d.path, d.line, d.name))


def pickles(path: Path) -> list[Any]:
    """The scenarios of one feature file as the official compiler sees them: one per
    Scenario, one per row of an Outline's Examples."""
    return list(Compiler().compile(_parse(path)))


def _parse(path: Path) -> Any:
    """One feature file as the official parser reads it, named as the repository does."""
    document: Any = Parser().parse(path.read_text(encoding="utf-8"))
    document["uri"] = repo_path(path)
    return document


def lint(features: Sequence[Path], modules: Iterable[str]) -> list[Finding]:
    defined = definitions(modules)
    used: set[int] = set()
    findings: list[Finding] = []
    scenario_names: dict[str, Finding] = {}
    for path in features:
        shown = repo_path(path)
        try:
            document = _parse(path)
        except (CompositeParserException, ParserError) as exc:
            findings.append(Finding(shown, _error_line(exc), f"does not parse: {exc}"))
            continue
        steps_by_id = dict(_ast_steps(document))
        for name, line in _scenario_names(document):
            first = scenario_names.setdefault(name, Finding(shown, line, name))
            if first.path != shown or first.line != line:
                findings.append(
                    Finding(shown, line, f"scenario {name!r} is also at {first.path}:{first.line}")
                )
        for pickle in Compiler().compile(document):
            for step in pickle["steps"]:
                kind = KINDS.get(step["type"])
                line = steps_by_id.get(step["astNodeIds"][0], 0)
                matching = [i for i, d in enumerate(defined) if d.matches(kind, step["text"])]
                if not matching:
                    findings.append(
                        Finding(shown, line, f"no step definition for {kind}: {step['text']!r}")
                    )
                used.update(matching)
    for index, definition in enumerate(defined):
        if index not in used:
            findings.append(
                Finding(definition.path, definition.line, f"{definition.name} is never used")
            )
    return sorted(set(findings))


def _ast_steps(node: Any) -> Iterator[tuple[str, int]]:
    """(id, line) of every step in a parsed document."""
    if isinstance(node, dict):
        if "keyword" in node and "text" in node and "id" in node:
            yield node["id"], node["location"]["line"]
        for value in node.values():
            yield from _ast_steps(value)
    elif isinstance(node, list):
        for value in node:
            yield from _ast_steps(value)


def _scenario_names(document: Any) -> Iterator[tuple[str, int]]:
    feature = document.get("feature") or {}
    children = list(feature.get("children", []))
    while children:
        child = children.pop(0)
        if "rule" in child:
            children.extend(child["rule"].get("children", []))
        elif "scenario" in child:
            yield child["scenario"]["name"].strip(), child["scenario"]["location"]["line"]


def _error_line(exc: Exception) -> int:
    errors = getattr(exc, "errors", None) or [exc]
    location = getattr(errors[0], "location", None) or {}
    return int(location.get("line") or 0)


def _ignored(relative: Path) -> bool:
    return any(part.startswith(".") or part == "node_modules" for part in relative.parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.gherkin_lint", description=__doc__)
    parser.add_argument(
        "features",
        nargs="*",
        type=Path,
        help="feature files (default: every *.feature in the repository)",
    )
    args = parser.parse_args(argv)
    features = args.features or default_features()
    findings = lint(features, step_modules())
    for finding in findings:
        print(finding)
    print(
        f"gherkin: {len(features)} feature files, {len(findings)} findings",
        file=sys.stderr,
    )
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
