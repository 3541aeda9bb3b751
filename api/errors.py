"""Refusals with a stable code and a reason a person can act on, in one JSON shape."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiProblem(BaseModel):
    code: str
    message: str


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def not_found(account_id: str) -> ApiError:
    # The same answer whether the account does not exist or belongs to someone else: existence must not leak.
    return ApiError(404, "ClosureNotFound", f"no closure or account {account_id} for this user")


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    body = ApiProblem(code=exc.code, message=exc.message).model_dump()
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


Responses = dict[int | str, dict[str, Any]]


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Bad input gets the same problem shape as every other refusal, naming the field and what is wrong."""
    assert isinstance(exc, RequestValidationError)
    parts = [
        f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
        for error in exc.errors()
    ]
    body = ApiProblem(code="InvalidRequest", message="; ".join(parts[:5]) or "invalid request").model_dump()
    return JSONResponse(body, status_code=422)


_HTTP_CODES = {400: "MalformedRequest", 404: "NotFound", 405: "MethodNotAllowed", 415: "UnsupportedMediaType"}


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Framework refusals (a body that cannot be parsed, an unknown route) in the same problem shape."""
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "HttpError")
    body = ApiProblem(code=code, message=str(exc.detail)).model_dump()
    return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


def problem(description: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry for a refusal."""
    return {"model": ApiProblem, "description": description}


# What a route that reads the account at the broker may answer besides its own refusals.
BROKER_READ: Responses = {
    422: problem("The broker does not know the account"),
    502: problem("The broker refused the read"),
    503: problem("The broker is unreachable"),
}
