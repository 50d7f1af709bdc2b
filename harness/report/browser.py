"""Headless Chromium (Debian's, through its own chromedriver) that opens a page offline.

Another Chromium-based browser and its driver can be named by the variables CHROMIUM and
CHROMEDRIVER (GitHub's runners have Chrome and its driver, not Debian's chromium).

Selenium is told where the driver and the browser are, so Selenium Manager never runs (it
would try to download them). The flags keep Chromium from calling home: no component
updates, no sync, no background networking, a fresh profile every time. Every URL the page
asks for is recorded, so a test can prove the report loaded nothing from outside.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER") or "/usr/bin/chromedriver")
#: How the page is shown (and so the screenshot's size).
WINDOW = (1400, 1000)
#: Seconds to wait for something to appear on the page.
WAIT = 30.0
#: The URL schemes a page may load from without the network.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:", "chrome-extension:")


class BrowserUnavailable(Exception):
    """Chromium or its driver is not installed; the message says how to install them."""


@dataclass
class Page:
    """A page open in the browser."""

    driver: webdriver.Chrome
    requested: list[str] = field(default_factory=list)

    def wait_for(self, css: str, *, text: str = "") -> WebElement:
        """The first element matching ``css`` (containing ``text``), once it is displayed."""

        def found(driver: webdriver.Chrome) -> WebElement | bool:
            for element in driver.find_elements(By.CSS_SELECTOR, css):
                if text in element.text and element.is_displayed():
                    return element
            return False

        element = WebDriverWait(self.driver, WAIT).until(
            found, message=f"nothing matching {css!r} with {text!r} appeared"
        )
        assert isinstance(element, WebElement)
        return element

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self) -> str:
        """What the page shows, as text."""
        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.driver.save_screenshot(str(path)):
            raise OSError(f"Chromium could not save a screenshot to {path}")
        return path

    def remote_requests(self) -> list[str]:
        """Every URL the page asked for that is not on this machine (should be none)."""
        for entry in self.driver.get_log("performance"):  # type: ignore[no-untyped-call]
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                self.requested.append(message["params"]["request"]["url"])
        return [url for url in self.requested if not url.startswith(LOCAL_SCHEMES)]


@contextmanager
def open_page(path: Path) -> Iterator[Page]:
    """``path`` (a local HTML file) open in headless Chromium; the browser ends on exit."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise BrowserUnavailable(
            f"{', '.join(missing)} missing: run 'sudo scripts/ensure_browser.sh' (Debian's "
            "chromium and chromium-driver), or name a browser and its driver in CHROMIUM and "
            "CHROMEDRIVER"
        )
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (
            "--headless=new",
            "--no-sandbox",  # root in a container has no user namespace for the sandbox
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            driver.get(path.resolve().as_uri())
            yield Page(driver)
        finally:
            driver.quit()
