"""Refusals with a stable code and a reason a person can act on, in one JSON shape."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel


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


def problem(description: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry for a refusal."""
    return {"model": ApiProblem, "description": description}
