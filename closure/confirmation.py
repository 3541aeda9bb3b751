"""Confirmation numbers `CLA-XXXXX-XXXXX`, derived from the closure's first run so every caller agrees."""

from __future__ import annotations

import hashlib

# Crockford's base32 without I, L, O, U: nothing a customer can misread over the phone.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def confirmation_number(first_run_id: str) -> str:
    digest = int.from_bytes(hashlib.sha256(first_run_id.encode()).digest()[:8], "big")
    chars = []
    for _ in range(10):
        digest, index = divmod(digest, 32)
        chars.append(_ALPHABET[index])
    code = "".join(chars)
    return f"CLA-{code[:5]}-{code[5:]}"


def workflow_id_for(account_id: str) -> str:
    return f"account-closure-{account_id}"
