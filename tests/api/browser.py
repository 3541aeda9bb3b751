"""Headless Chromium (Debian's package, never a downloaded browser) driving the web pages on the real stack."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize

CHROMIUM = Path(os.environ.get("CLOSURE_TEST_CHROMIUM", "/usr/bin/chromium"))
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
CUSTOMER_ZONE = "America/Los_Angeles"  # not the broker's: times on the page must follow the browser's zone
# Set (make screenshots) to write each page's screenshots there, e.g. docs/screenshots.
SCREENSHOTS = os.environ.get("CLOSURE_SCREENSHOTS")


async def context_for(browser: Browser, phone: bool = False) -> BrowserContext:
    context = await browser.new_context(
        viewport=PHONE if phone else DESKTOP,
        timezone_id=CUSTOMER_ZONE,
        locale="en-US",
        is_mobile=phone,
        has_touch=phone,
    )
    context.set_default_timeout(30_000)
    return context


async def signed_in_page(context: BrowserContext, url: str, token: str) -> Page:
    """The page as a Supabase sign-in redirect opens it: the session in the fragment."""
    page = await context.new_page()
    problems = _ERRORS.setdefault(id(page), [])
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    await page.goto(f"{url}#access_token={token}")
    return page


_ERRORS: dict[int, list[str]] = {}


def script_errors(page: Page) -> list[str]:
    """Uncaught script errors and console errors, but not a request refused or broken on purpose (a 404
    for another user's closure, the stream while the API is down)."""
    found = _ERRORS.get(id(page), [])
    return [e for e in found if "Failed to load resource" not in e and "net::ERR" not in e]


async def assert_accessible(page: Page) -> None:
    """axe-core in the page: no serious or critical violation (contrast, labels, roles, names...)."""
    results = await Axe().run(page)
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, serious


async def shoot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        width = page.viewport_size["width"] if page.viewport_size else DESKTOP["width"]
        kind = "phone" if width <= PHONE["width"] else "desktop"
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}-{kind}.png"), full_page=True)


async def until(
    check: Callable[[], Awaitable[Any]], what: str, seconds: float = 240.0, every: float = 0.25
) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


async def closure_state(page: Page) -> dict[str, Any]:
    """What the status page shows now, read from its DOM."""
    state: dict[str, Any] = await page.evaluate(
        """() => ({
            state: document.getElementById('closure').dataset.state || null,
            sequence: Number(document.getElementById('closure').dataset.sequence || -1),
            current: document.querySelector('#steps li[aria-current=step]')?.dataset.step || null,
            live: document.getElementById('live').dataset.state || null,
            headline: document.getElementById('headline').textContent,
            bar: document.getElementById('bar').value,
            rows: [...document.querySelectorAll('#transfers tbody tr')].map(r => [...r.cells].map(c => c.textContent)),
            announced: document.getElementById('announcer').textContent,
            helpShown: !document.getElementById('help').hidden,
            marker: window.__sameDocument || null,
        })"""
    )
    return state
