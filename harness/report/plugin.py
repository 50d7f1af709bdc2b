"""The pytest plugin that makes a run's Allure results read as the spec, per target.

With ``--alluredir=DIR`` (allure-pytest-bdd's own option) every scenario is written to DIR:
its feature and story, its steps, its status with the reason, its times. This plugin adds:

- the target, as the label and the parameter ``target`` (so one scenario run on two targets
  is two results, side by side), and what it ran against: the deployment's URL, its run id
  and image where the target has them, and the commit of the tree;
- every request a step made through harness/client.py and its answer, attached to that step;
- the deployment's life once it is stopped and checked: its timeline as a picture, its
  first boot's log, what Terraform created, the teardown check's verdict (harness/report/
  life.py), as global attachments of the target's environment;
- the API key redacted from all of it (harness/report/writer.py scrubs whatever is written).

Several sessions may write into one DIR: a nested session is given ``nested_args(config)``
(``--alluredir`` set to its parent's) and its results join the parent's.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import allure
import allure_pytest_bdd.plugin  # type: ignore[import-untyped]
import pytest
import requests
from allure_commons import plugin_manager as allure_plugins
from pytest_bdd.parser import Feature, Scenario
from pytest_bdd.scenario import scenario_wrapper_template_registry

from harness import exchanges
from harness.paths import repo_path
from harness.redact import SECRETS
from harness.report import facts, life
from harness.report.results import FEATURE_FILE, TARGET
from harness.report.transcript import title, transcript
from harness.report.writer import RedactingFileLogger
from harness.targets import Target


class _Attacher:
    """Attaches each exchange to the current step, while a scenario runs (a test of the parts
    that talks to a server has no Allure test to attach to)."""

    def __init__(self) -> None:
        self.in_scenario = False

    def __call__(self, response: requests.Response) -> None:
        if self.in_scenario:
            allure.attach(
                transcript(response, SECRETS),
                name=title(response),
                attachment_type=allure.attachment_type.TEXT,
            )


#: The root conftest's fixture that holds the deployment under test.
DEPLOYMENT_FIXTURE = "target"

_ATTACHER = pytest.StashKey[_Attacher]()
_STOP_LISTENING = pytest.StashKey[Callable[[], None]]()


def results_dir(config: pytest.Config) -> str | None:
    """Where this session writes its results (None: it writes none)."""
    directory: str | None = config.getoption("allure_report_dir", default=None)
    return directory


def nested_args(config: pytest.Config) -> list[str]:
    """Arguments that make a nested pytest session add its results to this session's."""
    directory = results_dir(config)
    return [f"--alluredir={directory}"] if directory else []


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # allure-pytest-bdd makes its result writer in its own pytest_configure, which runs after
    # this one: make that writer the redacting one. pytest_sessionstart checks it worked.
    allure_pytest_bdd.plugin.AllureFileLogger = RedactingFileLogger
    SECRETS.add(config.getoption("--api-key", default=None))


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    if not results_dir(session.config):
        return
    writers = [p for p in allure_plugins.get_plugins() if hasattr(p, "report_attached_data")]
    if not writers or not all(isinstance(w, RedactingFileLogger) for w in writers):
        raise pytest.UsageError(
            f"the Allure writers are {writers}, not the redacting one: the report could show "
            "the API key (has allure-pytest-bdd changed how it makes its writer?)"
        )
    attacher = session.config.stash[_ATTACHER] = _Attacher()
    session.config.stash[_STOP_LISTENING] = exchanges.listen(attacher)


def pytest_unconfigure(config: pytest.Config) -> None:
    stop = config.stash.get(_STOP_LISTENING, None)
    if stop is not None:
        stop()


def attach_life(config: pytest.Config, target: Target) -> list[str]:
    """Attach the life of ``target``, stopped now, to this session's results (when it writes
    any); returns the attachments' names.

    Called by the deployment fixture once the deployment is stopped: a session fixture's
    teardown runs after the last scenario's result is written, so these are global
    attachments of the target's environment rather than a scenario's."""
    label = target_label(config)
    if not results_dir(config) or not label:
        return []
    writers = [p for p in allure_plugins.get_plugins() if isinstance(p, RedactingFileLogger)]
    if not writers:
        return []
    return life.attach(writers[0], label, target.timeline)


def _label(name: str, value: str) -> None:
    allure.dynamic.label(name, value)  # type: ignore[no-untyped-call]


def _description(text: str) -> None:
    allure.dynamic.description(text)  # type: ignore[no-untyped-call]


def target_label(config: pytest.Config) -> str | None:
    """The target as the report names it; an offline rehearsal of aws is not aws itself."""
    target: str | None = config.getoption("--target", default=None)
    if target and config.getoption("--rehearse", default=False):
        return f"{target} (rehearsed)"
    return target


@pytest.hookimpl(trylast=True)
def pytest_bdd_before_scenario(
    request: pytest.FixtureRequest, feature: Feature, scenario: Scenario
) -> None:
    attacher = request.config.stash.get(_ATTACHER, None)
    if attacher is not None:
        attacher.in_scenario = True
    target = target_label(request.config)
    if target:
        _label(TARGET, target)
        allure.dynamic.parameter(TARGET, target)
    # The story's lines, as written (Allure reads a description as Markdown and would join them).
    story = [block for block in (feature.description, scenario.description) if block]
    if story:
        _description("\n\n".join(b.strip().replace("\n", "  \n") for b in story))
    _label(FEATURE_FILE, repo_path(feature.filename))
    for name, value in facts.of_tree().items():
        _label(name, value)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
    # A scenario skipped (or broken) before it started, as a capability skip is, never reaches
    # pytest-bdd's before_scenario, so allure-pytest-bdd would write nothing for it: start it
    # here, before allure-pytest-bdd reads this report, so it is written with its reason.
    unstarted = call.when == "setup" and call.excinfo is not None
    if unstarted and isinstance(item, pytest.Function) and results_dir(item.config):
        _report_unstarted(item)
    yield


def _report_unstarted(item: pytest.Function) -> None:
    template = scenario_wrapper_template_registry.get(item.function)
    if template is None:
        return  # not a scenario
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example", {}) if callspec else {}
    context = {"request": item._request, "feature": template.feature}
    context["scenario"] = template.render(example)
    # allure-pytest-bdd lists the steps that did not run in a finaliser of the item; the item
    # never got set up, so it takes no finaliser: run that one now (every step, not run).
    finalizers: list[Callable[[], object]] = []
    item.addfinalizer = finalizers.append  # type: ignore[method-assign,assignment]
    try:
        item.config.hook.pytest_bdd_before_scenario(**context)
    finally:
        del item.addfinalizer
    for finalizer in finalizers:
        finalizer()
    item.config.hook.pytest_bdd_after_scenario(**context)


@pytest.hookimpl(trylast=True)
def pytest_bdd_after_scenario(request: pytest.FixtureRequest) -> None:
    attacher = request.config.stash.get(_ATTACHER, None)
    if attacher is not None:
        attacher.in_scenario = False
    # Only a scenario that reached the deployment says which one it was.
    if DEPLOYMENT_FIXTURE not in request.fixturenames:
        return
    try:
        deployment = request.getfixturevalue(DEPLOYMENT_FIXTURE)
    except (Exception, pytest.fail.Exception):
        return  # it never started: the scenario's own failure says why
    SECRETS.add(deployment.endpoint.api_key)
    for name, value in facts.of_target(deployment).items():
        _label(name, value)
