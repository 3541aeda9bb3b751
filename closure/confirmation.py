"""Confirmation numbers `CLA-XXXXX-XXXXX`: made once by whoever starts the closure, kept in its memo."""

from __future__ import annotations

import hashlib
import secrets

# Crockford's base32 without I, L, O, U: nothing a customer can misread over the phone.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_confirmation_number() -> str:
    return confirmation_number(secrets.token_hex(16))


def confirmation_number(seed: str) -> str:
    """A stable number for a seed (a workflow's first run id, when nobody chose one)."""
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")
    chars = []
    for _ in range(10):
        digest, index = divmod(digest, 32)
        chars.append(_ALPHABET[index])
    code = "".join(chars)
    return f"CLA-{code[:5]}-{code[5:]}"


WORKFLOW_ID_PREFIX = "account-closure-"


def workflow_id_for(account_id: str) -> str:
    return f"{WORKFLOW_ID_PREFIX}{account_id}"


def chunk_key(workflow_id: str, chunk: int) -> str:
    """The idempotency key of one withdrawal chunk: the same for every attempt and every run of a closure."""
    return f"{workflow_id}:withdrawal:{chunk}"
