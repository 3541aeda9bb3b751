"""Who may call what: Supabase tokens (HS256 and JWKS), cross-user access, operators, the rate limit."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from api.main import create_app
from runtime.settings import ApiSettings, RecordsSettings, Settings, TemporalSettings

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
ADMIN = "operator-token"
ALICE, BOB = "user-alice", "user-bob"
ALICE_ACCOUNT = "0b7d2a1e-0000-4000-8000-00000000a11c"


def _token(sub: str = ALICE, secret: str = SECRET, **claims: object) -> str:
    """A Supabase user's access token; a claim given as None is left out."""
    now = int(time.time())
    body = {
        "sub": sub,
        "aud": "authenticated",
        "role": "authenticated",
        "iat": now,
        "exp": now + 600,
        **claims,
    }
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret, algorithm="HS256")


class _Jwks:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        document = json.dumps({"keys": [{**public, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/auth/v1/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, sub: str, key: rsa.RSAPrivateKey | None = None) -> str:
        now = int(time.time())
        claims = {"sub": sub, "aud": "authenticated", "role": "authenticated", "iat": now, "exp": now + 600}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def jwks() -> Iterator[_Jwks]:
    issuer = _Jwks()
    yield issuer
    issuer.server.shutdown()


def _settings(
    tmp_path: Path, jwks_url: str | None = None, admin: str | None = ADMIN, limit: int = 5
) -> Settings:
    return Settings(
        temporal=TemporalSettings(address="127.0.0.1:1"),  # nothing here reaches Temporal before refusing
        records=RecordsSettings(sqlite_path=tmp_path / "closure.db"),
        api=ApiSettings(
            supabase_jwt_secret=SECRET, supabase_jwks_url=jwks_url, admin_token=admin, initiate_limit=limit
        ),
        redis_url=None,
    )


@pytest.fixture
def api(tmp_path: Path, jwks: _Jwks) -> Iterator[httpx.Client]:
    settings = _settings(tmp_path, jwks.url)
    SqliteRecords(settings.records.sqlite_path).upsert(
        UserRecord(user_id=ALICE, alpaca_account_id=ALICE_ACCOUNT)
    )
    with TestClient(create_app(settings), base_url="http://api") as client:
        yield client


USER_ROUTES = [
    ("POST", f"/api/account-closure/initiate/{ALICE_ACCOUNT}"),
    ("GET", f"/api/account-closure/progress/{ALICE_ACCOUNT}"),
    ("GET", f"/api/account-closure/progress/{ALICE_ACCOUNT}/stream"),
    ("GET", "/api/account-closure/data"),
]
ADMIN_ROUTES = [
    ("GET", "/api/admin/closures"),
    ("GET", f"/api/admin/closures/{ALICE_ACCOUNT}"),
    ("POST", f"/api/admin/closures/{ALICE_ACCOUNT}/retry"),
    ("POST", f"/api/admin/closures/{ALICE_ACCOUNT}/cancel"),
]
BAD_TOKENS = {
    "missing": None,
    "malformed": "not-a-jwt",
    "expired": _token(exp=int(time.time()) - 10),
    "wrong audience": _token(aud="anon"),
    "unsigned": jwt.encode(
        {"sub": ALICE, "aud": "authenticated", "exp": int(time.time()) + 600},
        None,  # type: ignore[arg-type]  # alg "none": exactly the token a server must refuse
        algorithm="none",
    ),
    "wrong secret": _token(secret="another-secret-that-is-also-long-enough-for-hs256"),
    "no subject": jwt.encode(
        {"aud": "authenticated", "exp": int(time.time()) + 600}, SECRET, algorithm="HS256"
    ),
    "anon key": _token(role="anon"),
    "service key": _token(role="service_role"),
    "no role": _token(role=None),
    "no issued-at": _token(iat=None),
    "a year long": _token(exp=int(time.time()) + 365 * 86400),
}


@pytest.mark.parametrize("route", USER_ROUTES, ids=lambda r: f"{r[0]} {r[1].split('/')[3]}")
@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_bad_tokens_are_refused_with_401(api: httpx.Client, route: tuple[str, str], kind: str) -> None:
    token = BAD_TOKENS[kind]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = api.request(*route, headers=headers, json={"operator": "x"})
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "Unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


PROJECT = "https://northwind.supabase.co"


@pytest.mark.parametrize(
    ("issuer", "status"),
    [(f"{PROJECT}/auth/v1", 200), ("https://another.supabase.co/auth/v1", 401), (None, 401)],
    ids=["this project", "another project", "no issuer"],
)
def test_with_a_supabase_project_only_its_own_tokens_pass(
    tmp_path: Path, issuer: str | None, status: int
) -> None:
    """Projects can share a JWT secret; the issuer, derived from the project's URL, tells their tokens apart."""
    settings = _settings(tmp_path)
    settings.records.supabase_url = PROJECT
    with TestClient(create_app(settings), base_url="http://api") as client:
        response = client.get(
            "/api/account-closure/data", headers={"Authorization": f"Bearer {_token(iss=issuer)}"}
        )
    assert response.status_code == status, response.text


def test_a_token_signed_by_a_key_outside_the_jwks_is_refused(api: httpx.Client, jwks: _Jwks) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = api.get(
        "/api/account-closure/data", headers={"Authorization": f"Bearer {jwks.token(ALICE, stranger)}"}
    )
    assert response.status_code == 401


def test_jwks_and_hs256_tokens_are_both_accepted(api: httpx.Client, jwks: _Jwks) -> None:
    for token in (jwks.token(ALICE), _token(ALICE)):
        response = api.get(
            f"/api/account-closure/progress/{ALICE_ACCOUNT}", headers={"Authorization": f"Bearer {token}"}
        )
        # Accepted: the request got past auth and ownership to Temporal, which is not running here.
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "TemporalUnavailable"


@pytest.mark.parametrize("route", USER_ROUTES[:3], ids=lambda r: f"{r[0]} {r[1].split('/')[3]}")
def test_another_users_account_is_404_not_403(api: httpx.Client, route: tuple[str, str]) -> None:
    bob = {"Authorization": f"Bearer {_token(BOB)}"}
    response = api.request(*route, headers=bob)
    unknown = api.request(route[0], route[1].replace(ALICE_ACCOUNT, "no-such-account"), headers=bob)
    assert response.status_code == unknown.status_code == 404
    assert response.json()["message"].replace(ALICE_ACCOUNT, "X") == unknown.json()["message"].replace(
        "no-such-account", "X"
    ), "the answer must not tell whether the account exists"


def test_an_owner_just_seen_opens_the_account_to_that_owner_only(api: httpx.Client) -> None:
    route = f"/api/account-closure/progress/{ALICE_ACCOUNT}"
    alice = {"Authorization": f"Bearer {_token(ALICE)}"}
    assert api.get(route, headers=alice).status_code == 503  # past ownership, to the absent Temporal
    assert api.get(route, headers=alice).status_code == 503  # ownership remembered
    bob = api.get(route, headers={"Authorization": f"Bearer {_token(BOB)}"})
    assert bob.status_code == 404, bob.text


def test_a_user_sees_only_their_own_data(api: httpx.Client) -> None:
    response = api.get("/api/account-closure/data", headers={"Authorization": f"Bearer {_token(BOB)}"})
    assert response.json() == {"user_id": BOB, "accounts": []}


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_operator_routes_refuse_customers(api: httpx.Client, route: tuple[str, str]) -> None:
    anonymous = api.request(*route, json={"operator": "x"})
    customer = api.request(
        *route, headers={"Authorization": f"Bearer {_token(ALICE)}"}, json={"operator": "x"}
    )
    assert anonymous.status_code == 401, anonymous.text
    assert customer.status_code == 403, customer.text
    assert customer.json()["code"] == "NotAnOperator"


def test_without_an_automation_token_no_shared_secret_opens_the_operator_routes(tmp_path: Path) -> None:
    with TestClient(create_app(_settings(tmp_path, admin=None)), base_url="http://api") as client:
        response = client.get("/api/admin/closures", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 401
    assert response.json()["code"] == "Unauthorized"


def test_initiate_is_rate_limited_per_user(tmp_path: Path) -> None:
    settings = _settings(tmp_path, limit=2)
    SqliteRecords(settings.records.sqlite_path).upsert(
        UserRecord(user_id=ALICE, alpaca_account_id=ALICE_ACCOUNT)
    )
    alice = {"Authorization": f"Bearer {_token(ALICE)}"}
    with TestClient(create_app(settings), base_url="http://api") as client:
        codes = [
            client.post(f"/api/account-closure/initiate/{ALICE_ACCOUNT}", headers=alice) for _ in range(3)
        ]
    assert [c.status_code for c in codes] == [503, 503, 429]  # Temporal is down here; the third never asks
    assert codes[0].json()["code"] == "TemporalUnavailable"
    assert int(codes[2].headers["retry-after"]) >= 1


def test_healthz_reports_an_unreachable_temporal_without_secrets(api: httpx.Client) -> None:
    response = api.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "temporal": "unreachable", "redis": "disabled"}
    assert SECRET not in response.text
