"""The one place every address, credential, limit and duration is configured.

Environment variables use the prefix `CLOSURE_` and `__` between levels, e.g.
`CLOSURE_TEMPORAL__ADDRESS=closure-prod.a1b2c.tmprl.cloud:7233` or
`CLOSURE_POLICY__DAILY_TRANSFER_LIMIT=25000`.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from closure.policy import ClosurePolicy
from runtime.codec_keys import parse_keys


class TemporalSettings(BaseModel):
    address: str = Field(
        default="localhost:7233",
        description="host:port of the frontend (Cloud: <ns>.<acct>.tmprl.cloud:7233).",
    )
    namespace: str = Field(default="default", description="Cloud: <ns>.<acct>.")
    task_queue: str = Field(
        default="account-closure", description="Where the workflow and its side effects run."
    )
    api_key: SecretStr | None = Field(default=None, description="Temporal Cloud API key; implies TLS.")
    tls: bool = Field(
        default=False, description="TLS without client certificates (on by itself with an API key)."
    )
    tls_client_cert_path: Path | None = Field(default=None, description="mTLS client certificate (PEM).")
    tls_client_key_path: Path | None = Field(default=None, description="mTLS client key (PEM).")
    tls_server_root_ca_path: Path | None = Field(default=None, description="CA for a self-hosted cluster.")
    ui_url: str = Field(default="http://localhost:8233", description="Base of the links operators are given.")
    codec_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "Payload encryption keys by key id, each base64 of 32 bytes (AES-256-GCM), as JSON: "
            '{"2026-12": "..."}. Unset: payloads travel in the clear (local use only). Keep a retired key '
            "until the histories it sealed are past retention."
        ),
    )
    codec_key_id: str | None = Field(
        default=None, description="The key new payloads are sealed with; unset: the first of codec_keys."
    )
    codec_cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:8233"],
        description="Origins (the Temporal UI) allowed to call the codec server from a browser.",
    )

    @model_validator(mode="after")
    def _codec_keys_open(self) -> TemporalSettings:
        """A malformed key, or a current key id that names none, is refused when the settings load."""
        if self.codec_keys:
            parse_keys({k: v.get_secret_value() for k, v in self.codec_keys.items()}, self.codec_key_id)
        return self


class AlpacaSettings(BaseModel):
    api_key: SecretStr = Field(default=SecretStr("simulator-key"), description="Broker API key id.")
    secret_key: SecretStr = Field(default=SecretStr("simulator-secret"), description="Broker API secret.")
    base_url: str | None = Field(
        default="http://127.0.0.1:8765",
        description="Broker API base URL (no trailing slash). Empty: Alpaca's own sandbox or live URL.",
    )
    sandbox: bool = Field(default=True, description="Only used when base_url is empty.")
    request_timeout_seconds: float = Field(default=10.0, gt=0)


class EmailSettings(BaseModel):
    backend: Literal["outbox", "ses"] = "outbox"
    outbox_dir: Path = Path(".data/outbox")
    sender: str = "Northwind Brokerage <closures@example.com>"
    ops_recipients: list[str] = Field(default_factory=lambda: ["ops@example.com"])
    ses_region: str = "us-east-1"
    ses_endpoint_url: str | None = Field(
        default=None, description="Only for an SES stand-in (moto, LocalStack)."
    )
    ses_configuration_set: str | None = None
    brand_name: str = "Northwind Brokerage"
    support_email: str = "support@example.com"
    app_url: str = "https://app.example.com"


class AlertSettings(BaseModel):
    """Ops alerts where ops already look, besides email: a chat webhook or a signed JSON endpoint."""

    webhook_url: SecretStr | None = Field(
        default=None,
        description="Where each ops alert is POSTed (a secret: a Slack hook's path is its credential); "
        "off when unset.",
    )
    webhook_format: Literal["slack", "json"] = Field(
        default="slack",
        description="`slack`: a Slack-compatible {text, blocks} body (Slack, Mattermost, Teams workflows); "
        "`json`: the alert's facts, signed with webhook_secret (X-Closure-Signature: t=…,v1=HMAC-SHA256).",
    )
    webhook_secret: SecretStr | None = Field(default=None, description="Signs the json format's bodies.")
    webhook_attempts: int = Field(default=4, ge=1, le=10, description="Tries before the dead-letter log.")
    dead_letter_path: Path = Field(
        default=Path(".data/alerts-dead-letter.jsonl"),
        description="An alert no attempt delivered is appended here, one JSON line each, to be sent again.",
    )

    @model_validator(mode="after")
    def _signed(self) -> AlertSettings:
        if self.webhook_url and self.webhook_format == "json" and self.webhook_secret is None:
            raise ValueError("alerts.webhook_secret is required for the json format (it signs every body)")
        return self


class RecordsSettings(BaseModel):
    backend: Literal["sqlite", "supabase"] = "sqlite"
    sqlite_path: Path = Path(".data/closure.db")
    supabase_url: str | None = None
    supabase_service_role_key: SecretStr | None = None


class ApiSettings(BaseModel):
    supabase_jwt_secret: SecretStr | None = Field(
        default=None, description="HS256 secret of the Supabase project (Settings → API → JWT secret)."
    )
    supabase_jwks_url: str | None = Field(
        default=None,
        description="JWKS of a project with asymmetric signing keys: <project>/auth/v1/.well-known/jwks.json",
    )
    jwt_audience: str = "authenticated"
    jwt_issuer: str | None = Field(
        default=None,
        description="The issuer tokens must carry, e.g. https://<project>.supabase.co/auth/v1; when unset, "
        "<records.supabase_url>/auth/v1 if that is set (a token of another project with a shared secret fails).",
    )
    jwt_max_lifetime: timedelta = Field(
        default=timedelta(days=7),
        description="Longest plausible exp − iat; Supabase issues at most a week. A longer-lived token is refused.",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description=(
            "The automation credential: a shared bearer token for jobs, acting on /api/admin as the operator "
            "`automation`. People sign in with their own Supabase token instead. Off when unset."
        ),
    )
    operator_role_claim: str = Field(
        default="closure_role",
        description="The key in a Supabase token's app_metadata holding the operator role: viewer or operator.",
    )
    cors_origins: list[str] = Field(default_factory=lambda: ["http://localhost:3000"])
    initiate_limit: int = Field(default=5, ge=1, description="Initiations per user per window.")
    initiate_window: timedelta = timedelta(minutes=1)
    address_request_limit: int = Field(
        default=600,
        ge=1,
        description="Requests per client address per window on every route but health, signed in or not.",
    )
    user_request_limit: int = Field(
        default=120, ge=1, description="Requests per user, or per operator, per window on every route."
    )
    request_window: timedelta = Field(
        default=timedelta(minutes=1), description="The sliding window of both request limits."
    )
    mirror_max_age: timedelta = Field(
        default=timedelta(seconds=30),
        description="A mirrored progress older than this is checked against the workflow.",
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Larger request bodies are refused with 413 before being read.",
    )
    max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, description="Larger request headers (all together) are refused with 431."
    )
    stream_heartbeat: timedelta = timedelta(seconds=15)
    redis_timeout: timedelta = Field(
        default=timedelta(milliseconds=500),
        description=(
            "Longest the API waits on Redis for one command (mirror read, rate limit, health); past it the "
            "request goes on without Redis: progress from the workflow, the rate limit in this process."
        ),
    )
    tracing: bool = Field(
        default=False,
        description="OpenTelemetry spans for every request and the closures it starts (needs the otel extra).",
    )
    sign_in_url: str | None = Field(
        default=None,
        description=(
            "Where the web pages send someone who is not signed in (the app's Supabase sign-in, which comes "
            "back with #access_token=…); unset, the pages say to sign in to the app."
        ),
    )
    host: str = "127.0.0.1"
    port: int = 8000
    codec_port: int = Field(default=8081, description="Where account-closure-codec listens (on host).")


class WorkerSettings(BaseModel):
    activity_threads: int = Field(default=16, ge=1, description="Threads for the blocking alpaca-py calls.")
    max_cached_workflows: int = Field(
        default=500,
        ge=0,
        description=(
            "Closures the worker keeps in memory between their workflow tasks (about 0.5 MB each); one it no "
            "longer holds is rebuilt from its history when it next wakes, so however many wait, the worker "
            "stays near 160 MB + 0.5 MB x this (docs/performance.md: memory and replay cost)."
        ),
    )
    broker_task_queue: str | None = Field(
        default=None,
        description=(
            "Run broker activities on this task queue, rate-limited across all workers by the Temporal server "
            "so the Alpaca limit is never exceeded. Unset: broker activities share the workflow's queue."
        ),
    )
    broker_calls_per_minute: int = Field(
        default=900, ge=1, description="Alpaca allows 1,000/min; the rest is headroom for the API's checks."
    )
    sweep_every_minutes: int = Field(
        default=15, ge=1, description="Minutes between reconciliation sweeps (`closure schedule create`)."
    )
    build_id: str | None = Field(
        default=None,
        description=(
            "Worker Versioning: this worker's build (the image tag) in the `deployment_name` Worker Deployment. "
            "Unset: an unversioned worker. Set: it takes tasks once `closure deployment promote` makes it current."
        ),
    )
    deployment_name: str = Field(default="account-closure", description="The Temporal Worker Deployment.")
    metrics_address: str | None = Field(default=None, description="host:port for the Prometheus endpoint.")
    health_address: str | None = Field(default=None, description="host:port for the worker's /healthz.")
    json_logs: bool = Field(default=True, description="Structured JSON logs with personal data masked.")
    tracing: bool = Field(
        default=False,
        description="OpenTelemetry spans for workflows and activities, exported over OTLP as OTEL_* say "
        "(needs the otel extra).",
    )


BrokerStream = Literal["transfers", "accounts", "trades", "journals", "funding"]
FOLLOWED_BY_DEFAULT: tuple[BrokerStream, ...] = ("transfers", "accounts", "trades", "journals")


class ListenerSettings(BaseModel):
    """The broker event listener (`account-closure-listener`): it wakes closures when the broker's streams say
    something changed; it decides nothing, so a dead listener only slows closures to polling speed."""

    streams: list[BrokerStream] = Field(
        default_factory=lambda: list(FOLLOWED_BY_DEFAULT),
        description="Streams to follow; `funding` is Alpaca's v2 stream that replaces `transfers`.",
    )
    cursor_file: Path = Field(
        default=Path(".data/listener-cursor.json"),
        description="Where each stream's cursor is kept across restarts (written atomically).",
    )
    heartbeat_timeout_seconds: float = Field(
        default=45.0, gt=0, description="A stream silent this long, heartbeats included, is reconnected."
    )
    reconnect_min_seconds: float = Field(default=0.5, gt=0, description="First wait before reconnecting.")
    reconnect_max_seconds: float = Field(default=60.0, gt=0, description="Longest wait between reconnects.")
    overlap: timedelta = Field(
        default=timedelta(minutes=5),
        description="Resume this far before the cursor (ULIDs of one millisecond are not ordered); the "
        "events seen in it are remembered, so none is handled twice.",
    )
    broker_keeps: timedelta = Field(
        default=timedelta(days=30),
        description="How long the broker keeps events: a cursor older than this may have missed some, so "
        "every running closure is woken once.",
    )
    metrics_address: str | None = Field(default=None, description="host:port for the Prometheus endpoint.")
    json_logs: bool = Field(default=True, description="Structured JSON logs with personal data masked.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLOSURE_", env_nested_delimiter="__", extra="ignore")

    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    alpaca: AlpacaSettings = Field(default_factory=AlpacaSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    listener: ListenerSettings = Field(default_factory=ListenerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    policy: ClosurePolicy = Field(default_factory=ClosurePolicy)
    email: EmailSettings = Field(default_factory=EmailSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    records: RecordsSettings = Field(default_factory=RecordsSettings)
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CLOSURE_REDIS_URL", "REDIS_URL", "redis_url"),
        description="The progress mirror is on when set.",
    )
    mirror_ttl: timedelta = Field(
        default=timedelta(days=7), description="Longer than any wait; refreshed on write."
    )
    time_scale: float = Field(
        default=1.0,
        gt=0,
        description=(
            "Run closures this many times faster than production: every policy wait is divided by it and the "
            "broker clock is expected to run this many times faster (the simulator's --clock-rate)."
        ),
    )

    def jwt_issuer(self) -> str | None:
        """The issuer access tokens must name: the one configured, else the Supabase project's own auth."""
        if self.api.jwt_issuer:
            return self.api.jwt_issuer
        if self.records.supabase_url:
            return f"{self.records.supabase_url.rstrip('/')}/auth/v1"
        return None

    def closure_policy(self) -> ClosurePolicy:
        """The policy new closures start with."""
        policy = self.policy if self.time_scale == 1 else self.policy.scaled(self.time_scale)
        if self.worker.broker_task_queue and policy.broker_task_queue is None:
            policy = policy.model_copy(update={"broker_task_queue": self.worker.broker_task_queue})
        return policy


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_error(exc: ValidationError) -> str:
    """The first thing wrong with the settings, as one line: where, and why."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}"
