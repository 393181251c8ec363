"""Headless Chromium for the browser tests (the web app, the field check-in page): Debian `chromium`,
`chromium-driver` and `chromium-l10n` (scripts/setup.sh installs them with HADIR_SERVICES=yes), driven by
Selenium, nothing downloaded at run time.

Each session gets a fresh profile, no background networking, and downloads into a folder of the test's.
As root, a missing browser is installed with apt (the test command's setup); otherwise the caller is told
what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--lang=id-ID"]
# Screenshots of the field page's tests (gitignored: to look at).
ARTEFACTS = Path(__file__).resolve().parent.parent / "tests" / "artifacts" / "browser"


# Chromium's Indonesian locale (Debian chromium-l10n): without it the browser's own date and time inputs show
# 11/24/2026 and 07:22 AM whatever the page asks for; the app works either way.
INDONESIAN = Path("/usr/lib/chromium/locales/id.pak")


def ensure_chromium() -> None:
    """Raise FileNotFoundError naming the packages unless Chromium and its driver are here (installed as root,
    with its Indonesian locale)."""
    if Path(CHROMIUM).exists() and Path(DRIVER).exists() and (INDONESIAN.exists() or os.geteuid() != 0):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", "chromium-driver",
                        "chromium-l10n"], check=True, env=env, capture_output=True)
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        raise FileNotFoundError("chromium and chromium-driver (apt-get install chromium chromium-driver)")


def chromium(width: int = 1280, height: int = 900, downloads: Path | None = None, tz: str = "UTC",
             profile: Path | None = None):
    """A new headless Chromium session (selenium WebDriver) with a fresh profile (in `profile` if given); the
    caller quits it. `tz`: the browser's own time zone (UTC by default, so that WIT on the page is the app's
    doing)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_chromium()
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not try to download anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile or tempfile.mkdtemp(prefix='hadir-chromium-')}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if downloads is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                                  "download.prompt_for_download": False})
    options.add_experimental_option("prefs", {**options.experimental_options.get("prefs", {}),
                                              "intl.accept_languages": "id-ID,id"})
    # An Indonesian browser: its own date and time inputs read dd/mm/yyyy and 24-hour times.
    env = {**os.environ, "TZ": tz, "LANG": "id_ID.UTF-8", "LANGUAGE": "id"}
    driver = webdriver.Chrome(service=Service(DRIVER, env=env), options=options)
    set_viewport(driver, width, height)
    return driver


def set_viewport(driver, width: int, height: int) -> None:
    """Make the page's own width `width` CSS pixels (the --window-size flag stops at 500 px in headless mode)."""
    driver.set_window_size(width, height)
    inner = driver.execute_script("return window.innerWidth")
    if inner != width:
        driver.set_window_size(width + (width - inner), height)
    inner = driver.execute_script("return window.innerWidth")
    if inner != width:
        raise RuntimeError(f"could not make the viewport {width} px wide (it is {inner} px)")


def viewport(driver, width: int, height: int) -> None:  # noqa: ANN001
    """Make the page area exactly width x height by device emulation (the window size includes the frame)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def screenshot(driver, name: str) -> Path:  # noqa: ANN001
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
