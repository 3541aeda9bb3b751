"""Supabase access tokens: HS256 with the project secret, or asymmetric keys from the project's JWKS.

Expired, malformed, unsigned, wrongly signed and wrong-audience tokens are refused with 401, and so are tokens
of another project (the issuer), of anyone but a signed-in user (Supabase's `role` claim: the anon and
service keys are JWTs too) and tokens living longer than any Supabase issues. The user id is the token's `sub`.
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict

import jwt
from jwt import PyJWKClient

from api.errors import ApiError
from closure.operators import AUTOMATION, Actor, OperatorRole
from runtime.settings import ApiSettings

ASYMMETRIC = ("RS256", "ES256")
USER_ROLE = "authenticated"


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "Unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class TokenVerifier:
    def __init__(self, settings: ApiSettings, issuer: str | None = None) -> None:
        self._settings = settings
        self._issuer = issuer
        self._secret = (
            settings.supabase_jwt_secret.get_secret_value() if settings.supabase_jwt_secret else None
        )
        self._jwks = (
            PyJWKClient(settings.supabase_jwks_url, cache_keys=True) if settings.supabase_jwks_url else None
        )
        self._verified = VerifiedTokens()

    def user_id(self, token: str) -> str:
        return str(self._claims(token)["sub"])

    def known_user(self, token: str) -> str | None:
        """The user of a token verified before and not expired since, without verifying it again: a page
        following a closure sends the same token every few seconds for its whole hour."""
        return self._verified.get(token)

    def operator(self, token: str) -> Actor:
        """An operator signed in to the same Supabase project, with a role in `app_metadata` (which only the
        project's service role can set; `user_metadata` is the user's own and is never read here)."""
        claims = self._claims(token)
        metadata = claims.get("app_metadata")
        role = metadata.get(self._settings.operator_role_claim) if isinstance(metadata, dict) else None
        if role not in tuple(OperatorRole):
            raise ApiError(403, "NotAnOperator", "this sign-in carries no operator role")
        name = claims.get("email") or claims["sub"]
        return Actor(name=str(name), subject=str(claims["sub"]), role=OperatorRole(role), via="api")

    def _claims(self, token: str) -> dict[str, object]:
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
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "aud", *(["iss"] if self._issuer else [])]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthorized("the access token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise unauthorized("the access token is for another audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise unauthorized("the access token was issued by another project") from exc
        except jwt.InvalidTokenError as exc:
            raise unauthorized(f"the access token is not valid: {exc}") from exc
        self._check_claims(claims)
        self._verified.add(token, str(claims["sub"]), _seconds(claims["exp"]))
        return claims

    def _check_claims(self, claims: dict[str, object]) -> None:
        if claims.get("role") != USER_ROLE:
            raise unauthorized(f"the access token is not a signed-in user's (role {claims.get('role')!r})")
        lifetime = _seconds(claims["exp"]) - _seconds(claims["iat"])
        if lifetime > self._settings.jwt_max_lifetime.total_seconds():
            raise unauthorized(
                f"the access token lives {lifetime / 3600:.0f} h, longer than any Supabase issues"
            )


class VerifiedTokens:
    """User tokens that passed every check, each until its own expiry; the oldest go first when full."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._users: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def add(self, token: str, user: str, expires: float) -> None:
        self._users[token] = (user, expires)
        self._users.move_to_end(token)
        while len(self._users) > self._size:
            self._users.popitem(last=False)

    def get(self, token: str) -> str | None:
        found = self._users.get(token)
        if found is None:
            return None
        user, expires = found
        if time.time() >= expires:
            del self._users[token]
            return None
        return user


def _seconds(claim: object) -> float:
    if not isinstance(claim, int | float):
        raise unauthorized("the access token's times are not numbers")
    return float(claim)


def automation(settings: ApiSettings, token: str) -> Actor | None:
    """The shared automation token's actor, when the token is that one (compared in constant time)."""
    expected = settings.admin_token.get_secret_value() if settings.admin_token else None
    if expected is None or not hmac.compare_digest(token.encode(), expected.encode()):
        return None
    return Actor(name=AUTOMATION, subject=AUTOMATION, role=OperatorRole.OPERATOR, via="api:automation")
