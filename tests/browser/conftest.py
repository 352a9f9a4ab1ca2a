"""Playwright over Debian's chromium (never `playwright install`; `make browser` installs
chromium on a fresh machine), against pytest-django's live server."""

import os

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT

# Playwright's sync API keeps an asyncio loop running in the main thread from its first
# use to the end of the session; Django refuses ORM calls from a thread with a running
# loop unless told that the code is synchronous, which ours is.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RESULTS = ROOT / "test-results"


def sign_in(page, live_server, user):
    """The page, with the staff user signed in to the admin (its password is user.raw_password)."""
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", user.raw_password)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()
    expect(page.locator("#user-tools strong")).to_have_text(user.username)
    return page


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # The screen compliance staff review on (and the screenshots in docs/screenshots/).
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)  # for screenshot_on_failure
    return report


@pytest.fixture(autouse=True)
def screenshot_on_failure(request, page):
    page.set_default_timeout(10_000)
    yield
    reports = [getattr(request.node, f"report_{when}", None) for when in ("setup", "call")]
    if any(report is not None and report.failed for report in reports):
        RESULTS.mkdir(exist_ok=True)
        page.screenshot(path=RESULTS / f"{request.node.name}.png", full_page=True)
