"""Supabase access tokens: HS256 with the project secret, or asymmetric keys from the project's JWKS.

Expired, malformed, unsigned, wrongly signed and wrong-audience tokens are refused with 401. The user id is
the token's `sub`.
"""

from __future__ import annotations

import hmac

import jwt
from jwt import PyJWKClient

from api.errors import ApiError
from runtime.settings import ApiSettings

ASYMMETRIC = ("RS256", "ES256")


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "Unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class TokenVerifier:
    def __init__(self, settings: ApiSettings) -> None:
        self._settings = settings
        self._secret = (
            settings.supabase_jwt_secret.get_secret_value() if settings.supabase_jwt_secret else None
        )
        self._jwks = (
            PyJWKClient(settings.supabase_jwks_url, cache_keys=True) if settings.supabase_jwks_url else None
        )

    def user_id(self, token: str) -> str:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.DecodeError as exc:
            raise unauthorized("the access token is malformed") from exc
        key: object
        if algorithm == "HS256" and self._secret:
            key = self._secret
        elif algorithm in ASYMMETRIC and self._jwks is not None:
            try:
                key = self._jwks.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientError as exc:
                raise unauthorized(f"no signing key for this token: {exc}") from exc
        else:
            raise unauthorized(f"tokens signed with {algorithm!r} are not accepted")
        try:
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=[algorithm],
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthorized("the access token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise unauthorized("the access token is for another audience") from exc
        except jwt.InvalidTokenError as exc:
            raise unauthorized(f"the access token is not valid: {exc}") from exc
        return str(claims["sub"])


def check_admin(settings: ApiSettings, token: str) -> None:
    expected = settings.admin_token.get_secret_value() if settings.admin_token else None
    if expected is None:
        raise ApiError(403, "AdminDisabled", "operator endpoints are off: no admin token is configured")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise unauthorized("not an operator credential")
