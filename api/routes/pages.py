"""The web pages: the customer's closure status and close-account flow, and the operations dashboard.

Each page is a shell (Jinja2) whose script reads the same JSON API, with the same token, as the app does; the
pages hold no data of their own, so the API's checks (who owns what, the operator's role) are the only ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.deps import SettingsDep
from api.routes.closures import AccountId
from runtime.settings import Settings

HERE = Path(__file__).resolve().parent.parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates" / "pages")
router = APIRouter(include_in_schema=False)
# Scripts and styles from this origin only, no inline code, never framed: a page that shows where money is
# must not run anything it did not serve itself.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _page(request: Request, settings: Settings, name: str, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        name,
        {
            "brand": settings.email.brand_name,
            "support_email": settings.email.support_email,
            "sign_in_url": settings.api.sign_in_url or "",
            **context,
        },
    )
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/account-closure", response_class=HTMLResponse)
async def home(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The user's accounts; with a closure under way, its status page instead (nothing else to do)."""
    return _page(request, settings, "home.html")


@router.get("/account-closure/{account_id}", response_class=HTMLResponse)
async def status_page(request: Request, settings: SettingsDep, account_id: str = AccountId) -> HTMLResponse:
    return _page(request, settings, "status.html", account_id=account_id)


@router.get("/account-closure/{account_id}/close", response_class=HTMLResponse)
async def close_page(request: Request, settings: SettingsDep, account_id: str = AccountId) -> HTMLResponse:
    return _page(request, settings, "close.html", account_id=account_id)


@router.get("/ops", response_class=HTMLResponse)
async def dashboard(request: Request, settings: SettingsDep) -> HTMLResponse:
    temporal = settings.temporal
    return _page(
        request,
        settings,
        "ops.html",
        temporal_ui=f"{temporal.ui_url}/namespaces/{temporal.namespace}/workflows",
    )
