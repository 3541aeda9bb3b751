"""The customer's pages in a real browser on the real stack: close the account, then watch it to the end."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page
from temporalio.testing import WorkflowEnvironment

from api.tokens import user_token
from simulator.server import SimulatorServer
from tests.api.browser import (
    CUSTOMER_ZONE,
    assert_accessible,
    closure_state,
    context_for,
    script_errors,
    shoot,
    signed_in_page,
    until,
)
from tests.api.conftest import SCALE
from tests.api.stack import JWT_SECRET, ApiStack, api_stack
from tests.support import ny


def _funded(stack: ApiStack, cash: str, shares: str = "0") -> tuple[str, str]:
    stack.broker.set_clock(ny(2025, 4, 14, 9, 45))  # a Monday morning
    stack.broker.set_prices({"SPY": Decimal("500.00")})
    account = stack.broker.funded_account(Decimal(cash))
    if Decimal(shares):
        stack.broker.buy(account, "SPY", Decimal(shares))
    stack.broker.run_clock(SCALE)
    return account.account_id, user_token(JWT_SECRET, stack.customer(account))


async def _watch(page: Page, seen: list[dict[str, Any]]) -> dict[str, Any]:
    async def closed() -> dict[str, Any] | None:
        state = await closure_state(page)
        if not seen or state["sequence"] != seen[-1]["sequence"] or state["live"] != seen[-1]["live"]:
            seen.append(state)
        return state if state["state"] == "closed" and state["live"] == "done" else None

    found: dict[str, Any] = await until(closed, "the page to show the closure closed")
    return found


async def test_a_closure_is_confirmed_then_watched_live_to_closed_without_reloading(
    stack: ApiStack, browser: Browser
) -> None:
    account, token = _funded(stack, "70000.00", shares="20")  # $10,000 of it in SPY
    desktop, phone = await context_for(browser), await context_for(browser, phone=True)

    confirm = await signed_in_page(desktop, f"{stack.url}/account-closure/{account}/close", token)
    await confirm.wait_for_selector("#preview:not([hidden])")
    what = await confirm.inner_text("#what")
    assert "1 position(s) are sold" in what, what
    assert "••••6789" in what, what
    assert "$50,000.00" in what, what
    assert re.search(
        r"Expected to be finished between .+ and .+ \(2 transfer\(s\)\)",
        await confirm.inner_text("#estimate"),
    )
    assert "#access_token" not in confirm.url, "the token never stays in the address bar"
    await assert_accessible(confirm)
    await shoot(confirm, "close-account")
    phone_confirm = await signed_in_page(phone, f"{stack.url}/account-closure/{account}/close", token)
    await phone_confirm.wait_for_selector("#preview:not([hidden])")
    await shoot(phone_confirm, "close-account")

    await confirm.check("#understood")
    await confirm.click("#confirm")
    await confirm.wait_for_url(f"{stack.url}/account-closure/{account}")
    status = confirm
    await status.wait_for_selector("#closure:not([hidden])")
    await status.evaluate("() => { window.__sameDocument = 'kept'; }")

    # Once a closure is under way the app has nothing else to offer: it lands on the status page.
    home = await signed_in_page(phone, f"{stack.url}/account-closure", token)
    await home.wait_for_url(f"{stack.url}/account-closure/{account}")
    await home.wait_for_selector("#closure:not([hidden])")
    again = await signed_in_page(phone, f"{stack.url}/account-closure/{account}/close", token)
    await again.wait_for_url(f"{stack.url}/account-closure/{account}")

    seen: list[dict[str, Any]] = []

    async def sending() -> bool:
        state = await closure_state(status)
        seen.append(state)
        return state["current"] == "sending" and len(state["rows"]) >= 1

    await until(sending, "the first transfer on the page")
    await assert_accessible(status)
    await shoot(status, "status-sending")
    await shoot(home, "status-sending")
    final = await _watch(status, seen)
    phone_final = await closure_state(home)

    progress = stack.client(token=token).get(f"/api/account-closure/progress/{account}").json()
    assert final["marker"] == "kept", "the page followed the closure without reloading"
    assert [s["current"] for s in seen if s["current"]][:1] == ["selling"]
    steps = {s["current"] for s in seen}
    assert {"selling", "settling", "sending"} <= steps, [s["current"] for s in seen]
    assert all(s["live"] in ("live", "done") for s in seen), "the stream never dropped in this test"
    assert final["bar"] == 100
    assert "Your account is closed" in final["headline"]
    assert "6789" in final["headline"]
    assert [row[0] for row in final["rows"]] == ["1", "2"]
    assert all("Sent" in row[2] for row in final["rows"]), final["rows"]
    assert [row[5] for row in final["rows"]] == [t["transfer_id"] for t in progress["transfers"]]
    assert all(re.match(r"by \w{3}, \w{3} \d+, 2025", row[4]) for row in final["rows"]), final["rows"]
    assert sum(Decimal(re.sub(r"[$,]", "", row[1])) for row in final["rows"]) == Decimal(
        progress["amount_withdrawn"]
    )
    assert progress["confirmation_number"] in await status.inner_text("#confirmation")
    assert f"({CUSTOMER_ZONE})" in await status.inner_text("#zone")
    assert final["announced"], "changes are announced to screen readers"
    assert phone_final["state"] == "closed", "a second viewer, on a phone, caught up as well"
    await assert_accessible(status)
    await shoot(status, "status-closed")
    await shoot(home, "status-closed")
    assert not script_errors(status)
    assert not script_errors(home)
    await desktop.close()
    await phone.close()


async def test_the_page_catches_up_when_its_stream_is_killed_mid_way(
    stack: ApiStack, browser: Browser
) -> None:
    account, token = _funded(stack, "120000.00")  # three chunks, two 24 h waits
    with stack.client(token=token) as client:
        assert client.post(f"/api/account-closure/initiate/{account}").status_code == 202
    context = await context_for(browser)
    page = await signed_in_page(context, f"{stack.url}/account-closure/{account}", token)
    await page.wait_for_selector("#closure:not([hidden])")
    await page.evaluate("() => { window.__sameDocument = 'kept'; }")

    async def first_sent() -> bool:
        state = await closure_state(page)
        return state["live"] == "live" and len(state["rows"]) >= 1

    await until(first_sent, "the first transfer, live")
    before = await closure_state(page)
    stack.restart_api()  # killed: the page's stream breaks; started again on the same port

    seen: list[dict[str, Any]] = []
    final = await _watch(page, seen)
    assert "reconnecting" in [s["live"] for s in seen], "the page noticed the stream had dropped"
    assert final["marker"] == "kept"
    assert final["sequence"] > before["sequence"]
    assert [row[0] for row in final["rows"]] == ["1", "2", "3"]
    assert final["bar"] == 100
    assert not script_errors(page)
    await context.close()


async def test_a_second_user_cannot_see_the_first_users_closure(
    dev_env: WorkflowEnvironment,
    sim: SimulatorServer,
    tmp_path: Path,
    browser: Browser,
) -> None:
    address = dev_env.client.service_client.config.target_host
    with api_stack(address, sim.url, tmp_path, redis_url=None) as stack:
        stack.broker.set_clock(ny(2025, 4, 18, 9, 45))  # Good Friday: the market is shut, the closure waits
        first = stack.broker.funded_account(Decimal("4000.00"))
        stack.broker.set_prices({"QQQ": Decimal("400.00")})
        stack.broker.buy(first, "QQQ", Decimal("5"))
        stack.broker.run_clock(1.0)
        first_token = user_token(JWT_SECRET, stack.customer(first))
        other = stack.broker.funded_account(Decimal("100.00"), given_name="Sam")
        other_token = user_token(JWT_SECRET, stack.customer(other))
        with stack.client(token=first_token) as client:
            started = client.post(f"/api/account-closure/initiate/{first.account_id}").json()

        context = await context_for(browser)
        own = await signed_in_page(context, f"{stack.url}/account-closure/{first.account_id}", first_token)
        await own.wait_for_selector("#closure:not([hidden])")
        assert started["confirmation_number"] in await own.inner_text("#confirmation")
        await context.close()

        context = await context_for(browser)
        page = await signed_in_page(context, f"{stack.url}/account-closure/{first.account_id}", other_token)
        await page.wait_for_selector("#missing:not([hidden])")
        assert await page.is_hidden("#closure")
        content = await page.content()
        assert started["confirmation_number"] not in content
        close = await signed_in_page(
            context, f"{stack.url}/account-closure/{first.account_id}/close", other_token
        )
        await close.wait_for_selector("#refused:not([hidden])")
        assert "not on your sign-in" in await close.inner_text("#refused-text")
        signed_out = await context.new_page()
        await signed_out.goto(f"{stack.url}/account-closure/{first.account_id}")
        await signed_out.wait_for_selector("#signed-out:not([hidden])")
        assert await signed_out.is_hidden("#closure")
        await assert_accessible(page)
        await assert_accessible(signed_out)
        await context.close()
