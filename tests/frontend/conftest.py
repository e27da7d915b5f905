"""Fixtures for the portal's browser tests: Debian's Chromium driven by Playwright.

One browser per module (its objects belong to the module's event loop), one context per
test, and a screenshot of every page still open when a test fails, its path printed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Upper bound for the browser to show what the hub did: generous, because CI runs the
# suite on three interpreters at once on two cores.
WAIT_MS = 20_000


def chromium_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (scripts/test installs Debian's chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[object]:
    reason = chromium_missing()
    if reason is not None:
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    launched = await playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield launched
    finally:
        await launched.close()
        await playwright.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def new_context(browser, request: pytest.FixtureRequest) -> AsyncIterator[object]:
    """``await new_context(**options)``: a fresh browser profile; pages screenshot on failure."""
    contexts = []

    async def open_context(**options: object) -> object:
        context = await browser.new_context(**options)
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        return context

    yield open_context
    if request.node.stash.get(FAILED, False):
        directory = Path(tempfile.mkdtemp(prefix="portal-failure-"))
        for index, context in enumerate(contexts):
            for number, page in enumerate(context.pages):
                path = directory / f"{request.node.name}-{index}-{number}.png"
                try:
                    await page.screenshot(path=str(path), full_page=True)
                    print(f"screenshot of the failed page: {path}")
                except Exception as error:  # the page may be gone; say so and go on
                    print(f"no screenshot of {page.url}: {error}")
    for context in contexts:
        await context.close()


def has_chromium() -> bool:
    return shutil.which(str(CHROMIUM)) is not None
