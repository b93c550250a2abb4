"""The HTML report really renders in a browser with no network: every chart draws, no JS errors.

Needs Debian's ``chromium`` and ``chromium-driver`` (see .ci/install-browser.sh).
Skipped on a developer machine without them; under CI=true a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

import report_fixtures as fx

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
RENDER_TIMEOUT_S = 60


class _Allocation:
    table = fx.allocation_table()
    summary = fx.allocation_summary()


def _unavailable(reason: str) -> None:
    """Skip on a developer machine; under CI=true a missing browser is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser test cannot run under CI: {reason}")
    pytest.skip(reason)


def _require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        _unavailable(f"{', '.join(missing)} not installed (run .ci/install-browser.sh)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        _unavailable("selenium is not installed (pip install geommm[test])")


@pytest.fixture
def driver(tmp_path):
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,2000",
        # no network at all: a report that needs a CDN must fail here
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield drv
    finally:
        drv.quit()


def _rendered_count(drv) -> tuple[int, int, int]:
    """(chart containers, containers holding an svg/canvas, containers that failed)."""
    return tuple(
        drv.execute_script(
            "var c = document.querySelectorAll('div.chart');"
            "var drawn = 0, failed = 0;"
            "c.forEach(function (el) {"
            "  if (el.querySelector('svg.marks, canvas.marks, svg, canvas')) drawn++;"
            "  if (el.getAttribute('data-failed')) failed++; });"
            "return [c.length, drawn, failed];"
        )
    )


def test_report_renders_offline(driver, tmp_path):
    from geommm.report.from_fit import fit_header, fit_sections
    from geommm.report.html import render_report

    from geommm.report.from_fit import fit_headline

    fit = fx.FakeFit()
    page, n_charts = render_report(
        fit_sections(fit, allocation=_Allocation()),
        title="Browser test <report>",
        header=fit_header(fit),
        headline=fit_headline(fit),
    )
    assert n_charts == 16
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    shutil.rmtree(ARTIFACTS / "report.png", ignore_errors=True)

    driver.set_window_size(1400, 900)
    driver.get(path.as_uri())
    # the answer is on the first screen: the headline card, naming the budget move with
    # its interval, ends above the fold of a 1400 x 900 window
    card = driver.execute_script(
        "const el = document.getElementById('headline');"
        "if (!el) return null; const r = el.getBoundingClientRect();"
        "return [r.top, r.bottom, el.innerText, window.innerHeight];"
    )
    assert card is not None, "no headline card"
    top, bottom, text, inner = card
    assert 0 <= top < inner and bottom <= inner, f"headline card at {top}..{bottom}, window {inner}"
    assert "Budget." in text and "HDI" in text, text
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "first_screen.png"))
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while True:
        containers, drawn, failed = _rendered_count(driver)
        if drawn + failed >= containers or time.monotonic() > deadline:
            break
        time.sleep(0.25)

    ARTIFACTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, min(int(height) + 100, 16000))
    driver.save_screenshot(str(ARTIFACTS / "report.png"))

    log = driver.get_log("browser")
    severe = [e for e in log if e.get("level") == "SEVERE"]
    warned = [e for e in log if e.get("level") == "WARNING"]
    assert containers == n_charts
    assert failed == 0, "some charts failed to draw in the browser"
    assert drawn == n_charts
    assert not severe, f"browser console errors: {severe}"
    assert not warned, f"browser console warnings (e.g. Vega's): {warned}"
    assert driver.title == "Browser test <report>"
