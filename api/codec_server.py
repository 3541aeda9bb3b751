"""`account-closure-codec`: the codec server, so the Temporal UI and the `temporal` CLI can show operators the
sealed payloads of a closure in the clear.

It speaks Temporal's remote-codec protocol (POST /decode and /encode with `{"payloads": [...]}`) and asks for
the same operator credentials as the admin API: a Supabase operator token (the viewer role may decode; only
the operator role may encode, which the UI needs to send a signal or an update), or the automation token.
Point the UI at it with `TEMPORAL_CODEC_ENDPOINT` (and its "pass access token" option), the CLI with
`--codec-endpoint URL --codec-auth "Bearer TOKEN"`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from google.protobuf import json_format
from starlette.concurrency import run_in_threadpool
from temporalio.api.common.v1 import Payload, Payloads

from api.auth import TokenVerifier, automation, unauthorized
from api.errors import ApiError, api_error_handler
from closure.operators import Actor, Capability
from runtime.codec import EncryptionCodec
from runtime.codec_keys import PayloadKeyError
from runtime.command_line import service_command_line
from runtime.logs import configure_logging
from runtime.settings import Settings

Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


def create_codec_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    codec = EncryptionCodec.of(settings.temporal)
    if codec is None:
        raise PayloadKeyError("the codec server needs CLOSURE_TEMPORAL__CODEC_KEYS")
    verifier = TokenVerifier(settings.api, issuer=settings.jwt_issuer())
    app = FastAPI(title="Account closure codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.temporal.codec_cors_origins,
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        allow_credentials=True,
    )

    async def actor(request: Request) -> Actor:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("an operator credential is required")
        found = automation(settings.api, token)
        return found if found is not None else await run_in_threadpool(verifier.operator, token)

    async def transform(request: Request, capability: Capability, work: Transform) -> Response:
        acting = await actor(request)
        if not acting.may(capability):
            raise ApiError(403, "RoleNotAllowed", f"the {acting.role.value} role may not {capability.value}")
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
        except json_format.ParseError as exc:
            raise ApiError(400, "MalformedPayloads", f"not a Payloads message: {exc}") from exc
        try:
            done = Payloads(payloads=await work(payloads.payloads))
        except PayloadKeyError as exc:
            raise ApiError(422, "PayloadUnopenable", str(exc)) from exc
        return Response(json_format.MessageToJson(done), media_type="application/json")

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await transform(request, Capability.VIEW, codec.decode)

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await transform(request, Capability.ACT, codec.encode)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def run() -> None:
    service_command_line(
        "account-closure-codec",
        "Open sealed payloads for the Temporal UI and CLI (a codec server) on api.host:api.codec_port.",
    )
    settings = Settings()
    configure_logging(settings)
    app = create_codec_app(settings)
    uvicorn.run(app, host=settings.api.host, port=settings.api.codec_port, log_config=None)


if __name__ == "__main__":
    run()
