"""Headless Chromium for browser tests: Debian's `chromium` and `chromium-driver` (installed by
scripts/setup.sh with HADIR_SERVICES=yes), driven by Selenium, nothing downloaded at run time."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ARTEFACTS = Path(__file__).resolve().parent / "artifacts" / "browser"  # gitignored: screenshots to look at

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-extensions", "--disable-default-apps", "--lang=id-ID"]


def chromium(profile: Path, width: int = 800, height: int = 480):  # noqa: ANN201 - selenium WebDriver
    """A fresh headless Chromium of the given window size (a Pi 7-inch touch screen by default)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver")
                                              else None)
    if not browser or not driver:
        pytest.fail("Chromium is not installed: apt-get install chromium chromium-driver "
                    "(scripts/setup.sh does it with HADIR_SERVICES=yes)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not try to download anything
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    web = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    viewport(web, width, height)
    return web


def viewport(driver, width: int, height: int) -> None:  # noqa: ANN001
    """Make the page area exactly width x height (the window size includes the browser's own frame)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def screenshot(driver, name: str) -> Path:  # noqa: ANN001
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
