"""The operations dashboard in a real browser on the real stack: the queue, one closure, a retry to the end."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from playwright.async_api import Browser, Page
from temporalio.testing import WorkflowEnvironment

from api.tokens import user_token
from simulator.server import SimulatorServer
from tests.api.browser import (
    assert_accessible,
    closure_state,
    context_for,
    script_errors,
    shoot,
    signed_in_page,
    until,
)
from tests.api.conftest import SCALE
from tests.api.stack import ADMIN_TOKEN, JWT_SECRET, ApiStack, api_stack
from tests.support import ny

OPERATOR = "Dana Whitfield"


async def _sign_in(page: Page) -> None:
    await page.wait_for_selector("#ops-sign-in:not([hidden])")
    await page.fill("#credential", ADMIN_TOKEN)
    await page.fill("#operator-name", OPERATOR)
    await page.click("#sign-in-form button[type=submit]")
    await page.wait_for_selector("#ops:not([hidden])")


async def test_a_closure_waiting_for_ops_is_queued_and_its_retry_completes_it(
    stack: ApiStack, browser: Browser
) -> None:
    stack.broker.set_clock(ny(2025, 4, 14, 9, 45))
    seeded = stack.broker.funded_account(Decimal("30000.00"))
    account = seeded.account_id
    rejected = {"status": "REJECTED", "nth": 1, "when": "QUEUED", "account_id": account}
    stack.broker.faults([], [{**rejected, "reason": "R02 account closed"}])
    stack.broker.run_clock(SCALE)
    token = user_token(JWT_SECRET, stack.customer(seeded))
    with stack.client(token=token) as client:
        assert client.post(f"/api/account-closure/initiate/{account}").status_code == 202

    desktop = await context_for(browser)
    customer = await signed_in_page(desktop, f"{stack.url}/account-closure/{account}", token)

    async def paused() -> bool:
        return bool((await closure_state(customer))["state"] == "paused")

    await until(paused, "the customer page to show the pause")
    help_text = await customer.inner_text("#help")
    assert "did not go through" in help_text, help_text
    assert "confirmation number CLA-" in help_text, help_text
    row = await customer.inner_text("#transfers tbody tr")
    assert "Not sent" in row, row
    assert "the bank account is closed" in row, row
    await assert_accessible(customer)
    await shoot(customer, "status-paused")

    ops = await desktop.new_page()
    await ops.goto(f"{stack.url}/ops")
    await _sign_in(ops)
    queued = ops.locator(f"#queue tr[data-account='{account}']")
    await queued.wait_for()
    cells = await queued.locator("td").all_inner_texts()
    assert "R02" in cells[1] or "rejected" in cells[1].lower(), cells
    assert re.fullmatch(r"\d+ (min|h \d+ min)", cells[2]), cells
    counts = await ops.inner_text("#counts")
    assert re.search(r"needs attention\s+1", counts), counts
    await assert_accessible(ops)
    await shoot(ops, "ops-dashboard")

    await queued.get_by_role("button").click()
    await ops.wait_for_selector("#detail:not([hidden])")
    assert "R02" in await ops.inner_text("#detail-attention")
    assert "Not sent" not in await ops.inner_text("#detail-transfers")  # operators see the broker's words
    assert "REJECTED" in await ops.inner_text("#detail-transfers")
    assert await ops.get_attribute("#temporal-link", "href") == (
        f"http://localhost:8233/namespaces/default/workflows/account-closure-{account}"
    )
    await ops.wait_for_selector("#broker dd")
    assert "ACTIVE" in await ops.inner_text("#broker")
    await assert_accessible(ops)
    await shoot(ops, "ops-detail")

    await ops.click("#retry")
    await ops.wait_for_selector("#confirm-dialog[open]")
    assert OPERATOR in await ops.inner_text("#confirm-operator")
    await ops.fill("#confirm-reason", "customer linked a new bank")
    await ops.click("#confirm-back")  # the confirmation step: going back does nothing
    assert await ops.is_hidden("#confirm-dialog")
    assert await ops.inner_text("#action-result") == ""
    await ops.click("#retry")
    await ops.fill("#confirm-reason", "customer linked a new bank")
    await ops.click("#confirm-action")

    async def retried() -> bool:
        return "retr" in (await ops.inner_text("#action-result")).lower()

    await until(retried, "the retry's outcome", seconds=30)

    async def closed() -> bool:
        return bool((await closure_state(customer))["state"] == "closed")

    await until(closed, "the customer page to show the closure closed")
    await ops.fill("#account-search", account)
    await ops.click("#search button[type=submit]")

    async def completed() -> bool:
        return "completed" in await ops.inner_text("#detail-facts")

    await until(completed, "the dashboard to show it completed", seconds=30)
    audit = await ops.inner_text("#audit")
    assert f"automation for {OPERATOR} retry: done" in audit, audit
    assert "customer linked a new bank" in audit, audit
    trail = stack.records.audit_of(account)
    assert [(e.actor, e.action, e.outcome.value) for e in trail] == [
        (f"automation for {OPERATOR}", "retry", "done")
    ]
    assert await ops.is_disabled("#retry")
    assert await ops.is_disabled("#cancel")
    assert not script_errors(ops)
    assert not script_errors(customer)

    phone = await context_for(browser, phone=True)
    small = await phone.new_page()
    await small.goto(f"{stack.url}/ops")
    await _sign_in(small)
    await shoot(small, "ops-dashboard")
    await assert_accessible(small)
    await phone.close()
    await desktop.close()


async def test_the_dashboard_refuses_a_customer_token(
    dev_env: WorkflowEnvironment,
    sim: SimulatorServer,
    tmp_path: Path,
    browser: Browser,
) -> None:
    address = dev_env.client.service_client.config.target_host
    with api_stack(address, sim.url, tmp_path, redis_url=None) as stack:
        context = await context_for(browser)
        page = await context.new_page()
        await page.goto(f"{stack.url}/ops")
        await page.wait_for_selector("#ops-sign-in:not([hidden])")
        await page.fill("#credential", user_token(JWT_SECRET, "a-customer"))
        await page.fill("#operator-name", "Somebody")
        await page.click("#sign-in-form button[type=submit]")
        await page.wait_for_selector("#sign-in-error:not([hidden])")
        assert "Not signed in as an operator" in await page.inner_text("#sign-in-error")
        assert await page.is_hidden("#ops")
        await assert_accessible(page)
        await context.close()
