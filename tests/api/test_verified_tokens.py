"""A verified token is not verified again until it expires; a refused one is never remembered."""

from __future__ import annotations

import time

import jwt
import pytest
from pydantic import SecretStr

from api.auth import TokenVerifier, VerifiedTokens
from api.errors import ApiError
from runtime.settings import ApiSettings

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"


def _token(sub: str = "user-alice", secret: str = SECRET, lives: int = 600) -> str:
    now = int(time.time())
    claims = {"sub": sub, "aud": "authenticated", "role": "authenticated", "iat": now, "exp": now + lives}
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.fixture
def verifier() -> TokenVerifier:
    return TokenVerifier(ApiSettings(supabase_jwt_secret=SecretStr(SECRET)))


def test_a_token_that_passed_is_known_without_verifying_it_again(verifier: TokenVerifier) -> None:
    token = _token()
    assert verifier.known_user(token) is None
    assert verifier.user_id(token) == "user-alice"
    assert verifier.known_user(token) == "user-alice"


def test_a_refused_token_is_not_remembered(verifier: TokenVerifier) -> None:
    forged = _token(secret="another-secret-that-is-long-enough-for-hs256")
    with pytest.raises(ApiError):
        verifier.user_id(forged)
    assert verifier.known_user(forged) is None


def test_a_remembered_token_is_forgotten_at_its_expiry() -> None:
    tokens = VerifiedTokens()
    tokens.add("expired", "user-alice", time.time() - 1)
    tokens.add("live", "user-bob", time.time() + 60)
    assert tokens.get("expired") is None
    assert tokens.get("live") == "user-bob"


def test_the_oldest_tokens_go_first_when_full() -> None:
    tokens = VerifiedTokens(size=2)
    later = time.time() + 60
    for n in range(3):
        tokens.add(f"t{n}", f"user-{n}", later)
    assert [tokens.get(f"t{n}") for n in range(3)] == [None, "user-1", "user-2"]
