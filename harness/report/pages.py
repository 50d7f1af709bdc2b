"""Finding one's way in Allure's Awesome report, as a reader would: by what it shows.

The selectors are the report's own ``data-testid`` attributes (what Allure's end-to-end
tests use), never its generated class names.
"""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.remote.webelement import WebElement

from harness.report.browser import Page

FEATURE = '[data-testid="tree-section-title"]'
SCENARIO = '[data-testid="tree-leaf"]'
STEP = '[data-testid="test-result-step"]'
STEP_HEADER = '[data-testid="test-result-step-header"]'
ATTACHMENT_HEADER = '[data-testid="test-result-attachment-header"]'
#: What the overview shows once it has rendered.
OVERVIEW = '[data-testid="report-title"]'


def overview(page: Page) -> str:
    """The first page, once rendered, as text."""
    page.wait_for(OVERVIEW)
    page.wait_for(FEATURE)
    return page.text()


def open_scenario(page: Page, feature: str, scenario: str) -> None:
    """Unfold ``feature`` in the tree and open the first result of ``scenario``."""
    _click(page.wait_for(FEATURE, text=feature))
    _click(page.wait_for(SCENARIO, text=scenario))
    page.wait_for(STEP)


def open_step(page: Page, step: str, *, shows: str) -> WebElement:
    """Unfold ``step`` of the open scenario until it ``shows`` that text (its attachment)."""
    element = page.wait_for(STEP, text=step)
    _click(element.find_element("css selector", STEP_HEADER))
    if shows not in element.text:
        for header in element.find_elements("css selector", ATTACHMENT_HEADER):
            _click(header)
            if shows in element.text:
                break
    page.driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", element)
    return element


def screenshots(page: Page, directory: Path, *, feature: str, scenario: str, step: str) -> None:
    """The overview, and one step with its request and answer, as two PNG files."""
    overview(page)
    page.screenshot(directory / "screenshot.png")
    open_scenario(page, feature, scenario)
    open_step(page, step, shows="HTTP ")
    page.screenshot(directory / "screenshot-step.png")


def _click(element: WebElement) -> None:
    element.parent.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


GLOBALS_TAB = '[data-testid="nav-tab-globalAttachments"]'
ATTACHMENT = '[data-testid="test-result-attachment"]'
IMAGE = '[data-testid="image-attachment-content"] img, img'


def global_attachments(page: Page) -> str:
    """The Global Attachments tab (each target's deployment life), once open, as text."""
    _click(page.wait_for(GLOBALS_TAB))
    page.wait_for(ATTACHMENT)
    return page.text()


def open_global_attachment(page: Page, name: str) -> WebElement:
    """Unfold the global attachment called ``name`` (the tab open) and return it, shown."""
    attachment = page.wait_for(ATTACHMENT, text=name)
    _click(attachment.find_element("css selector", ATTACHMENT_HEADER))
    page.driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", attachment)
    return attachment
