"""Mint Supabase-shaped access tokens for local use (the demo, the tests). Production tokens come from Supabase."""

from __future__ import annotations

import time

import jwt


def user_token(secret: str, user_id: str, audience: str = "authenticated", ttl_seconds: int = 3600) -> str:
    now = int(time.time())
    claims = {"sub": user_id, "aud": audience, "role": "authenticated", "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm="HS256")
